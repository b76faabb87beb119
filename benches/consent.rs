//! The consent decision per source, from a realistic full `Cookie` header: about twenty
//! unrelated cookies around the consent cookie, every source enabled in the default order.

mod common;

use std::hint::black_box;
use std::path::Path;

use consentry::config::Config;
use criterion::{criterion_group, criterion_main, Criterion};

const ONETRUST: &str = "isGpcEnabled=0&datestamp=Sat+Feb+07+2026+12%3A16%3A58+GMT%2B0800+(China+Standard+Time)&version=202502.1.0&browserGpcFlag=0&isIABGlobal=false&identifierType=Cookie+Unique+Id&hosts=&consentId=cacc8f29-8ccc-40d7-93e4-f44683563657&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1%2CC0002%3A1%2CV2STACK42%3A1&iType=1&intType=1&geolocation=JP%3B13&AwaitingReconsent=false";
const COOKIEBOT: &str = "{stamp:%27JF1BlMmicaH7oY2UaAIErFsbGcumN9Nk3waAQxcgqrg4VhDrwOmjZg==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:2%2Cutc:1765222520311%2Cregion:%27fr%27}";
const COOKIEYES: &str = "consentid:d2JnOWNtWmgyM0pMdEU0ZkZXSGhzdE9BaTkxekF3WEk,consent:yes,action:yes,necessary:yes,functional:yes,analytics:yes,performance:yes,advertisement:yes,other:yes";
const CC_COOKIE: &str = "%7B%22categories%22%3A%5B%22necessary%22%2C%22functional%22%2C%22analytics%22%2C%22advertisement%22%5D%2C%22revision%22%3A0%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22consentId%22%3A%22b5b97425-c91e-41a6-828e-a0504f76c1b7%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22functional%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22advertisement%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22expirationTime%22%3A1751441698964%7D";
const KLARO: &str = "%7B%22necessary-cookies%22%3Atrue%2C%22preferences%22%3Afalse%2C%22google-analytics%22%3Atrue%2C%22google-ads%22%3Afalse%7D";
const TCF: &str = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA";

fn header(consent: &str) -> String {
    let mut parts: Vec<String> = common::SITE_AND_ANALYTICS
        .iter()
        .map(|s| s.to_string())
        .collect();
    parts.push("_fbp=fb.1.1700000000000.1234567890".to_string());
    for i in 0..14 {
        parts.push(format!("app_pref_{i}=value{i}"));
    }
    if !consent.is_empty() {
        parts.insert(10, consent.to_string());
    }
    parts.join("; ")
}

fn decide(c: &mut Criterion) {
    let text = r#"
[listen]
http = "127.0.0.1:0"
[admin]
listen = ""
[upstream]
url = "http://127.0.0.1:1"
[consent]
sources = ["consentry", "onetrust", "cookiebot", "cookieyes", "cc_cookie", "klaro", "tcf"]
[consent.klaro]
preferences = "functional"
google-analytics = "analytics"
google-ads = "advertising"
[categories.essential]
required = true
cookies = ["_zendesk_session"]
[categories.functional]
cookies = ["ZD-settings"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid"]
[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*"]
"#;
    let config = Config::from_str(Path::new("bench.toml"), text).unwrap();
    let p = config.policy.clone();
    let cases = [
        ("none", header("")),
        ("consentry", header("consentry=analytics,functional")),
        (
            "onetrust",
            header(&format!(
                "OptanonAlertBoxClosed=2026-02-07T04:17:01.104Z; OptanonConsent={ONETRUST}"
            )),
        ),
        ("cookiebot", header(&format!("CookieConsent={COOKIEBOT}"))),
        (
            "cookieyes",
            header(&format!("cookieyes-consent={COOKIEYES}")),
        ),
        ("cc_cookie", header(&format!("cc_cookie={CC_COOKIE}"))),
        ("klaro", header(&format!("klaro={KLARO}"))),
        ("tcf", header(&format!("euconsent-v2={TCF}"))),
    ];
    let mut g = c.benchmark_group("consent_decision");
    for (name, h) in &cases {
        let d = p.decide(h, false);
        if *name != "none" {
            assert_eq!(
                d.source.map(|s| s.name()),
                Some(*name),
                "the {name} cookie must decide"
            );
        }
        g.bench_function(*name, |b| {
            b.iter(|| black_box(p.decide(black_box(h), false)))
        });
    }
    g.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
