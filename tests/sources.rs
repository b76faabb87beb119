//! Every consent source end to end through the proxy, `explain` agreeing with the proxy on a
//! corpus of requests, and cookie names read as the http-state parser tests expect.

mod common;

use std::path::Path;

use common::*;
use http::{Request, Response};

const ONETRUST_ACCEPT_ALL: &str = "isGpcEnabled=0&datestamp=Sat+Feb+07+2026+12%3A16%3A58+GMT%2B0800+(China+Standard+Time)&version=202502.1.0&browserGpcFlag=0&isIABGlobal=false&identifierType=Cookie+Unique+Id&hosts=&consentId=cacc8f29-8ccc-40d7-93e4-f44683563657&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1%2CC0002%3A1%2CV2STACK42%3A1&iType=1&intType=1&geolocation=JP%3B13&AwaitingReconsent=false";
const COOKIEBOT_PARTIAL: &str = "{stamp:%27JF1BlMmicaH7oY2UaAIErFsbGcumN9Nk3waAQxcgqrg4VhDrwOmjZg==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:2%2Cutc:1765222520311%2Cregion:%27fr%27}";
const COOKIEYES_REJECT: &str = "consentid:WHRLbHhJZVJlTXR3b0F4MUpUQWNCZDRNbXRpTWNEcmE,consent:no,action:yes,necessary:yes,functional:no,analytics:no,performance:no,advertisement:no,other:no";
const CC_COOKIE_ALL: &str = "%7B%22categories%22%3A%5B%22necessary%22%2C%22functional%22%2C%22analytics%22%2C%22advertisement%22%5D%2C%22revision%22%3A0%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22consentId%22%3A%22b5b97425-c91e-41a6-828e-a0504f76c1b7%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22functional%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22advertisement%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22expirationTime%22%3A1751441698964%7D";
const KLARO_ANALYTICS_ONLY: &str = "%7B%22necessary-cookies%22%3Atrue%2C%22preferences%22%3Afalse%2C%22google-analytics%22%3Atrue%2C%22google-ads%22%3Afalse%7D";
/// A TC string with no purpose consent (reference vector "V2").
const TCF_REJECTED: &str = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA";

const KLARO_MAP: &str = "[consent.klaro]\npreferences = \"functional\"\ngoogle-analytics = \"analytics\"\ngoogle-ads = \"advertising\"\n";

async fn names_through(p: &consentry::server::Running, cookie: &str) -> Vec<String> {
    let r = get(&client(), p.http.unwrap(), "/", Some(cookie)).await;
    set_cookies(&r)
        .into_iter()
        .map(|l| l.split('=').next().unwrap().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

#[tokio::test]
async fn every_source_decides_end_to_end() {
    let up = upstream(|_req| async {
        Response::builder()
            .header("set-cookie", "_zendesk_session=s; Path=/")
            .header("set-cookie", "ZD-settings=1; Path=/")
            .header("set-cookie", "_ga=GA1.1; Path=/")
            .header("set-cookie", "_fbp=fb.1; Path=/")
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let text = config_text(up, "").replace(
        "[consent]\n",
        &format!("[consent]\ncleanup = false\n{KLARO_MAP}"),
    );
    let p = proxy_with(&text, Default::default()).await;
    let unrelated = "session=abc123; _gid=GA1.1.9; theme=dark; lang=en-US";
    let cases: &[(&str, String, &[&str])] = &[
        ("consentry", format!("{unrelated}; consentry=functional"), &["_zendesk_session", "ZD-settings"]),
        (
            "onetrust",
            format!("{unrelated}; OptanonAlertBoxClosed=2026-02-07T04:17:01.104Z; OptanonConsent={ONETRUST_ACCEPT_ALL}"),
            &["_zendesk_session", "ZD-settings", "_ga", "_fbp"],
        ),
        ("cookiebot", format!("{unrelated}; CookieConsent={COOKIEBOT_PARTIAL}"), &["_zendesk_session", "ZD-settings", "_ga"]),
        ("cookieyes", format!("{unrelated}; cookieyes-consent={COOKIEYES_REJECT}"), &["_zendesk_session"]),
        ("cc_cookie", format!("{unrelated}; cc_cookie={CC_COOKIE_ALL}"), &["_zendesk_session", "ZD-settings", "_ga", "_fbp"]),
        ("klaro", format!("{unrelated}; klaro={KLARO_ANALYTICS_ONLY}"), &["_zendesk_session", "_ga"]),
        ("tcf", format!("{unrelated}; euconsent-v2={TCF_REJECTED}"), &["_zendesk_session"]),
    ];
    for (source, cookie, kept) in cases {
        assert_eq!(names_through(&p, cookie).await, kept.to_vec(), "{source}");
    }
    // Each decision was attributed to its source.
    let (_, m) = admin_get(&client(), p.admin.unwrap(), "/metrics").await;
    for (source, _, _) in cases {
        let total: f64 = ["all", "partial", "none"]
            .iter()
            .map(|s| {
                metric(
                    &m,
                    &format!("consentry_consent_total{{source=\"{source}\",state=\"{s}\"}}"),
                )
            })
            .sum();
        assert_eq!(total, 1.0, "{source}");
    }
    // A OneTrust cookie with no decision yet falls through to the next source.
    let undecided =
        "isGpcEnabled=0&version=202501.2.0&interactionCount=0&groups=C0001%3A1%2CC0002%3A1";
    let kept = names_through(
        &p,
        &format!("OptanonConsent={undecided}; cookieyes-consent={COOKIEYES_REJECT}"),
    )
    .await;
    assert_eq!(kept, vec!["_zendesk_session"]);
    p.drain().await;
}

#[tokio::test]
async fn explain_and_the_proxy_agree() {
    // The upstream echoes the Set-Cookie lines it is asked for (one per x-line request header).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
    let s = seen.clone();
    let up = upstream(move |req| {
        s.lock().unwrap().push(
            req.headers()
                .get("cookie")
                .map(|v| v.to_str().unwrap().to_string()),
        );
        let lines: Vec<String> = req
            .headers()
            .get_all("x-line")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        async move {
            let mut r = Response::builder();
            for l in lines {
                r = r.header("set-cookie", l);
            }
            r.body(full("")).unwrap()
        }
    })
    .await;
    let text = config_text(up, "");
    let p = proxy_with(&text, Default::default()).await;
    let config = consentry::config::Config::from_str(Path::new("test.toml"), &text).unwrap();
    let lines = [
        "_zendesk_session=s; Path=/",
        "_ga=GA1.1.2.3; Path=/; Max-Age=63072000",
        "=_ga=nameless",
        "_ga_XYZ=GS1; Domain=example.com",
        "_gcl_au=1.1; Expires=Thu, 01 Jan 2099 00:00:00 GMT",
        "_fbp=; Max-Age=0",
        "IDE=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "mystery=1; Path=/",
        "ZD-settings=a,b; Path=/",
        "abc.conversationStartedAt=1",
    ];
    let cookies = [
        "",
        "consentry=all",
        "consentry=none; _ga=1; _fbp=2; session=x",
        "consentry=analytics; _gcl_au=1; IDE=2",
        "consentry=functional%2Cadvertising; _ga=1",
        "consentry={broken}; _ga=1",
        "_ga=1; ZD-settings=2; x=3",
    ];
    let c = client();
    for cookie in cookies {
        for gpc in [false, true] {
            let mut b = Request::get(format!("http://{}/", p.http.unwrap()))
                .header("host", "www.example.com");
            if !cookie.is_empty() {
                b = b.header("cookie", cookie);
            }
            if gpc {
                b = b.header("sec-gpc", "1");
            }
            for l in lines {
                b = b.header("x-line", l);
            }
            let r = c.request(b.body(full("")).unwrap()).await.unwrap();
            let got = set_cookies(&r);
            let forwarded = seen.lock().unwrap().pop().unwrap();
            let e = consentry::explain::explain(
                &config.policy,
                &consentry::explain::Input {
                    cookie: (!cookie.is_empty()).then(|| cookie.to_string()),
                    gpc,
                    host: Some("www.example.com".into()),
                    set_cookie: lines.iter().map(|l| l.to_string()).collect(),
                },
                0,
            );
            let mut want: Vec<String> = e
                .set_cookie
                .iter()
                .filter(|l| l.action != "block")
                .map(|l| l.line.clone())
                .collect();
            want.extend(e.deletions.iter().cloned());
            assert_eq!(got, want, "cookie {cookie:?} gpc {gpc}");
            assert_eq!(forwarded, e.request_cookie, "cookie {cookie:?} gpc {gpc}");
        }
    }
    p.drain().await;
}

#[test]
fn names_and_expiry_match_the_http_state_parser_tests() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/http-state-parser.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the http-state test data is required)",
            path.display()
        )
    });
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    // The suite was written around 2011: judge expiry as of then.
    let now = 1_325_376_000; // 2012-01-01
    let mut checked = 0;
    for case in &cases {
        let received = case["received"].as_array().unwrap();
        let sent = case["sent"].as_array().unwrap();
        if received.len() != 1 || sent.len() != 1 {
            continue;
        }
        let line = received[0].as_str().unwrap();
        let name = sent[0]["name"].as_str().unwrap();
        if name.is_empty() {
            continue;
        }
        let got = consentry::policy::set_cookie::presented_name(line.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(got),
            name,
            "{}: {line:?}",
            case["test"]
        );
        assert!(
            !consentry::policy::set_cookie::is_deletion(line.as_bytes(), now),
            "{}: the browser kept {line:?} but it reads as a deletion",
            case["test"]
        );
        checked += 1;
    }
    assert!(checked > 100, "only {checked} cases checked");
}
