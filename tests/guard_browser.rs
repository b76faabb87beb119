//! The client page guard in a real browser: headless Chromium over WebDriver.
//!
//! A test site on 127.0.0.1:0 serves pages whose markup is what the proxy's rewrite makes of
//! them (written here by hand, per the contract: held scripts become `type="text/plain"
//! data-consentry-category="…"`, held elements keep their URL in `data-consentry-src`/`-href`)
//! with the guard's prelude first in `<head>`, answers the consent endpoint and the guard's file
//! from the library's `Policy`, and sends CSP headers as `page::csp::plan` edits them. The
//! pages carry the published snippet shapes of GA4 (gtag), Tag Manager, Meta Pixel, Hotjar,
//! Clarity, LinkedIn Insight, TikTok and Bing UET.
//!
//! The vendors' hosts all resolve to one local TLS server with a throwaway certificate
//! (`--host-resolver-rules`, `--ignore-certificate-errors`); every other host name fails to
//! resolve, so no request can leave the machine. The stand-in vendor scripts write their
//! vendor's cookie with `document.cookie` and send a beacon, as the real ones do, and ignore
//! Consent Mode, so only the guard can stop them; the server records every request it gets.
//!
//! Needs `chromium` and `chromedriver` on `PATH` (Debian: `chromium`, `chromium-driver`); when
//! they are missing the test fails if `CI` is set, and otherwise prints a notice and passes.

#[path = "common/chrome.rs"]
mod chrome;
mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use chrome::{browser_binaries, eval, jar_names, wait_until, Driver};
use common::*;
use fantoccini::Client as Browser;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use consentry::config::Config;
use consentry::page::csp::{self, Placement};
use consentry::page::guard::{self, Guard};
use consentry::policy::{Class, Policy};

/// The test site's host name (the browser maps it to 127.0.0.1).
const SITE: &str = "shop.guard.test";

/// Every vendor host the pages or the stand-in scripts reach.
const VENDOR_HOSTS: &[&str] = &[
    "www.googletagmanager.com",
    "www.google-analytics.com",
    "connect.facebook.net",
    "www.facebook.com",
    "static.hotjar.com",
    "in.hotjar.com",
    "www.clarity.ms",
    "q.clarity.ms",
    "snap.licdn.com",
    "px.ads.linkedin.com",
    "analytics.tiktok.com",
    "bat.bing.com",
    "googleads.g.doubleclick.net",
];

const CONFIG: &str = r#"
[listen]
http = "127.0.0.1:0"

[upstream]
url = "http://127.0.0.1:9"

[consent]
undecided = "deny"
unclassified = "allow"

[categories.essential]
required = true
cookies = ["session", "_gcl_keep*"]

[categories.functional]
cookies = ["_gat"]

[categories.analytics]
cookies = ["_ga", "_ga_*", "_hj*", "_hjSessionUser_*", "_clck"]

[categories.advertising]
cookies = ["_fbp", "_gcl_*", "li_fat_id", "_ttp", "_uetsid"]
"#;

/// Script patterns per category (`scripts = [...]` in the configuration once that lands).
const SCRIPTS: &[(&str, &str)] = &[
    ("googletagmanager.com/gtag/js?id=G-*", "analytics"),
    ("www.googletagmanager.com/gtm.js", "analytics"),
    ("www.googletagmanager.com/ns.html", "analytics"),
    ("google-analytics.com", "analytics"),
    ("*.hotjar.com", "analytics"),
    ("clarity.ms", "analytics"),
    ("googletagmanager.com/gtag/js?id=AW-*", "advertising"),
    ("connect.facebook.net", "advertising"),
    ("facebook.com/tr", "advertising"),
    ("snap.licdn.com", "advertising"),
    ("px.ads.linkedin.com", "advertising"),
    ("analytics.tiktok.com", "advertising"),
    ("bat.bing.com", "advertising"),
    ("doubleclick.net", "advertising"),
];

/// The nonce of the nonce-CSP page.
const NONCE: &str = "bm9uY2UtZm9yLXRlc3Rz";

// ---- the page, as the proxy's rewrite leaves it ----------------------------------------------

/// One element of the page and the category whose script patterns it matches (`None`: the
/// rewrite leaves it alone).
struct Snippet {
    category: Option<&'static str>,
    html: &'static str,
}

const HEAD: &[Snippet] = &[
    Snippet {
        category: Some("advertising"),
        html: r#"<link rel="preconnect" href="https://connect.facebook.net">"#,
    },
    // GA4 (gtag.js)
    Snippet {
        category: Some("analytics"),
        html: r#"<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST1"></script>"#,
    },
    Snippet {
        category: None,
        html: r#"<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-TEST1');
</script>"#,
    },
    // Google Tag Manager
    Snippet {
        category: Some("analytics"),
        html: r#"<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-TEST');</script>"#,
    },
    // Meta Pixel
    Snippet {
        category: Some("advertising"),
        html: r#"<script>
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '1234567890');
fbq('track', 'PageView');
</script>"#,
    },
    // Hotjar
    Snippet {
        category: Some("analytics"),
        html: r#"<script>
    (function(h,o,t,j,a,r){
        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
        h._hjSettings={hjid:1234567,hjsv:6};
        a=o.getElementsByTagName('head')[0];
        r=o.createElement('script');r.async=1;
        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
        a.appendChild(r);
    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
</script>"#,
    },
    // Microsoft Clarity
    Snippet {
        category: Some("analytics"),
        html: r#"<script type="text/javascript">
    (function(c,l,a,r,i,t,y){
        c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
        t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
        y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
    })(window, document, "clarity", "script", "abcdefghij");
</script>"#,
    },
    // LinkedIn Insight Tag
    Snippet {
        category: None,
        html: r#"<script type="text/javascript">
_linkedin_partner_id = "1234567";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
</script>"#,
    },
    Snippet {
        category: Some("advertising"),
        html: r#"<script type="text/javascript">
(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);
</script>"#,
    },
    // TikTok Pixel
    Snippet {
        category: Some("advertising"),
        html: r#"<script>
!function (w, d, t) {
  w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=["page","track","identify","instances","debug","on","off","once","ready","alias","group","enableCookie","disableCookie","holdConsent","revokeConsent","grantConsent"],ttq.setAndDefer=function(t,e){t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);ttq.instance=function(t){for(var e=ttq._i[t]||[],n=0;n<ttq.methods.length;n++)ttq.setAndDefer(e,ttq.methods[n]);return e},ttq.load=function(e,n){var r="https://analytics.tiktok.com/i18n/pixel/events.js",o=n&&n.partner;ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=r,ttq._t=ttq._t||{},ttq._t[e]=+new Date,ttq._o=ttq._o||{},ttq._o[e]=n||{};n=document.createElement("script");n.type="text/javascript",n.async=!0,n.src=r+"?sdkid="+e+"&lib="+t;e=document.getElementsByTagName("script")[0];e.parentNode.insertBefore(n,e)};
  ttq.load('CTESTPIXEL0000');
  ttq.page();
}(window, document, 'ttq');
</script>"#,
    },
    // Microsoft Advertising (Bing UET)
    Snippet {
        category: Some("advertising"),
        html: r#"<script>(function(w,d,t,r,u){var f,n,i;w[u]=w[u]||[],f=function(){var o={ti:"12345678", enableAutoSpaTracking: true};o.q=w[u],w[u]=new UET(o),w[u].push("pageLoad")},n=d.createElement(t),n.src=r,n.async=1,n.onload=n.onreadystatechange=function(){var s=this.readyState;s&&s!=="loaded"&&s!=="complete"||(f(),n.onload=n.onreadystatechange=null)},i=d.getElementsByTagName(t)[0],i.parentNode.insertBefore(n,i)})(window,document,"script","//bat.bing.com/bat.js","uetq");</script>"#,
    },
];

const BODY: &[Snippet] = &[
    Snippet {
        category: Some("analytics"),
        html: r#"<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-TEST" height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>"#,
    },
    Snippet {
        category: Some("advertising"),
        html: r#"<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id=1234567890&ev=PageView&noscript=1"/></noscript>"#,
    },
    Snippet {
        category: Some("advertising"),
        html: r#"<noscript><img height="1" width="1" style="display:none;" alt="" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" /></noscript>"#,
    },
    // A tracking pixel in the page itself.
    Snippet {
        category: Some("advertising"),
        html: r#"<img id="pixel" alt="" width="1" height="1" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif&page=1">"#,
    },
];

/// The page's own first script: CSP violations are recorded from the start.
const OWN_FIRST: &str = r#"<script>
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
</script>"#;

/// The page's own code: a banner that writes the consent cookie without a reload, calls to the
/// vendors' globals, and trackers added at run time.
const OWN_BODY: &str = r#"<h1>Guard test shop</h1>
<div id="banner">
  <button id="accept-analytics" data-consent="analytics">Analytics only</button>
  <button id="accept-all" data-consent="all">Accept all</button>
  <button id="reject-all" data-consent="none">Reject all</button>
</div>
<div id="box"></div>
<script>
document.querySelectorAll('[data-consent]').forEach(function (button) {
  button.addEventListener('click', function () {
    document.cookie = 'consentry=' + button.dataset.consent + '; Path=/; Max-Age=3600';
  });
});
document.write('<script async src="https://connect.facebook.net/signals/config/1234567890.js"><\/script>');
</script>
<script>
var own = window.__own = {};
try {
  fbq('track', 'ViewContent');
  ttq.track('ViewContent');
  ttq.instance('CTESTPIXEL0000').track('AddToCart');
  lintrk('track', { conversion_id: 1 });
  hj('event', 'own');
  clarity('set', 'page', 'own');
  window.uetq.push('event', 'own', {});
  gtag('event', 'own');
  own.calls = 'ok';
} catch (e) {
  own.calls = String(e);
}
own.beacon = navigator.sendBeacon('https://q.clarity.ms/collect?own=1', 'x');
fetch('https://www.google-analytics.com/g/collect?own=1', { method: 'POST', mode: 'no-cors' })
  .then(function () { own.fetch = 'sent'; }, function () { own.fetch = 'failed'; });
var xhr = new XMLHttpRequest();
xhr.open('POST', 'https://analytics.tiktok.com/api/v2/pixel?own=1');
xhr.onerror = function () { own.xhr = 'error'; };
xhr.onload = function () { own.xhr = 'load'; };
xhr.send('x');
new Image().src = 'https://www.facebook.com/tr?id=1234567890&ev=OwnImage';
document.getElementById('box').innerHTML =
  '<img alt="" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif&own=inner"><p>box</p>';
document.cookie = 'session=abc; Path=/';
document.cookie = '_fbp=fb.1.own; Path=/; Max-Age=3600';
own.done = true;
</script>"#;

/// What the proxy's rewrite makes of one snippet of a held category (per the contract): a
/// script becomes `type="text/plain" data-consentry-category="…"` (its type, if any, moves to
/// `data-consentry-type`); other elements, `<noscript>` content included, lose their URL to
/// `data-consentry-src` (`-href`).
fn hold(html: &str, category: &str) -> String {
    if let Some(rest) = html.strip_prefix("<script") {
        let end = rest.find('>').unwrap();
        let attrs = rest[..end].replace(" type=", " data-consentry-type=");
        return format!(
            r#"<script type="text/plain" data-consentry-category="{category}"{attrs}{}"#,
            &rest[end..]
        );
    }
    html.replace(" src=", " data-consentry-src=")
        .replace(" href=", " data-consentry-href=")
}

/// The CSP of each test page (before `csp::plan` edits it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Csp {
    None,
    /// `script-src 'nonce-…' 'strict-dynamic' https: 'unsafe-inline'` (a "strict CSP").
    Nonce,
    /// `default-src 'none'; script-src 'sha256-<the page's own script>'`.
    Hash,
    /// `script-src 'self'`.
    SelfOnly,
}

/// The test site.
struct Site {
    policy: Arc<Policy>,
    guard: Arc<Guard>,
    /// Every request: (path and query, body).
    log: Mutex<Vec<(String, String)>>,
}

/// The page's own script of the hash and self pages: it writes a cookie of each kind.
const SMALL_OWN: &str =
    "document.cookie = 'session=s1; Path=/'; document.cookie = '_ga=GA1.1.own; Path=/'; \
     document.cookie = '_fbp=fb.own; Path=/'; document.addEventListener('click', function (e) { \
     if (e.target.id === 'accept-analytics') document.cookie = 'consentry=analytics; Path=/'; }); \
     window.__ownDone = true;";

fn csp_report_uri() -> &'static str {
    "report-uri /csp-report"
}

impl Site {
    /// The main page for a visitor whose Cookie header is `cookie`.
    /// With `raw`, the page as the site itself serves it (the vendors' snippets as published,
    /// no guard): what the proxy in front rewrites.
    fn page(&self, cookie: &str, csp: Csp, raw: bool) -> Response<TestBody> {
        let consent = self.policy.decide(cookie, false);
        let all = self.policy.categories.all();
        let rewrite = !raw && consent.allowed != all;
        let denied = |c: Option<&str>| {
            c.and_then(|c| self.policy.categories.lookup(c))
                .is_some_and(|id| !consent.allowed.contains(id))
        };
        let render = |s: &Snippet| {
            if rewrite && denied(s.category) {
                hold(s.html, s.category.unwrap())
            } else {
                s.html.to_string()
            }
        };
        let nonced = |html: String| match csp {
            Csp::Nonce => html.replace("<script", &format!("<script nonce=\"{NONCE}\"")),
            _ => html,
        };
        let mut header_values = match csp {
            Csp::None => vec![],
            Csp::Nonce => vec![format!(
                "script-src 'nonce-{NONCE}' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'; {}",
                csp_report_uri()
            )],
            _ => unreachable!("the main page has no {csp:?} variant"),
        };
        let mut head = String::new();
        if rewrite {
            let values: Vec<&str> = header_values.iter().map(String::as_str).collect();
            let plan = csp::plan(&values, &[]);
            let form = plan.form.expect("a guard form");
            if let Some(edited) = plan.enforce {
                header_values = edited;
            }
            head.push_str(&guard::prelude(&self.guard.data(&consent), &form));
        }
        head.push_str(&nonced(OWN_FIRST.to_string()));
        for s in HEAD {
            head.push_str(&nonced(render(s)));
            head.push('\n');
        }
        let mut body = String::new();
        for s in BODY {
            body.push_str(&render(s));
            body.push('\n');
        }
        body.push_str(&nonced(OWN_BODY.to_string()));
        let html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>shop</title>\n{head}</head>\n<body>\n{body}\n</body></html>\n"
        );
        let mut r = Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .header("cache-control", "no-store");
        for v in header_values {
            r = r.header("content-security-policy", v);
        }
        r.body(full(html)).unwrap()
    }

    /// A small page under a hash-only or 'self'-only policy, always undecided.
    fn small_page(&self, csp: Csp) -> (Response<TestBody>, Placement) {
        let consent = self.policy.decide("", false);
        let (own, value) = match csp {
            Csp::Hash => {
                let digest = ring::digest::digest(&ring::digest::SHA256, SMALL_OWN.as_bytes());
                let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
                (
                    format!("<script>{SMALL_OWN}</script>"),
                    format!(
                        "default-src 'none'; script-src 'sha256-{hash}'; {}",
                        csp_report_uri()
                    ),
                )
            }
            Csp::SelfOnly => (
                "<script src=\"/own.js\"></script>".to_string(),
                format!("script-src 'self'; {}", csp_report_uri()),
            ),
            _ => unreachable!(),
        };
        let plan = csp::plan(&[&value], &[]);
        let form = plan.form.expect("a guard form");
        let value = plan.enforce.map_or(value, |mut v| v.remove(0));
        let html = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">{}{own}</head><body><p>small</p>\
             <button id=\"accept-analytics\">ok</button></body></html>",
            guard::prelude(&self.guard.data(&consent), &form)
        );
        let r = Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .header("cache-control", "no-store")
            .header("content-security-policy", value)
            .body(full(html))
            .unwrap();
        (r, form.placement)
    }

    fn respond(&self, path: &str, query: &str, cookie: &str) -> Response<TestBody> {
        let js = |body: String| {
            Response::builder()
                .header("content-type", "text/javascript")
                .body(full(body))
                .unwrap()
        };
        match path {
            "/" => self.page(cookie, Csp::None, false),
            "/raw" => self.page(cookie, Csp::None, true),
            "/nonce" => self.page(cookie, Csp::Nonce, false),
            "/hash" => self.small_page(Csp::Hash).0,
            "/self" => self.small_page(Csp::SelfOnly).0,
            "/own.js" => js(SMALL_OWN.to_string()),
            "/blank" => Response::builder()
                .header("content-type", "text/html")
                .body(full("<!doctype html><p>blank</p>"))
                .unwrap(),
            "/set-cookie" => Response::builder()
                .header(
                    "set-cookie",
                    format!("{}=server; Path=/; Max-Age=3600", query),
                )
                .body(full(""))
                .unwrap(),
            p if p == guard::CONSENT_PATH => {
                let consent = self.policy.decide(cookie, false);
                Response::builder()
                    .header("content-type", "application/json")
                    .header("cache-control", guard::CONSENT_CACHE_CONTROL)
                    .body(full(self.guard.consent_response(&consent)))
                    .unwrap()
            }
            p if p == guard::guard_path() => Response::builder()
                .header("content-type", guard::GUARD_CONTENT_TYPE)
                .header("cache-control", guard::GUARD_CACHE_CONTROL)
                .body(full(guard::GUARD_JS))
                .unwrap(),
            _ => Response::builder().status(404).body(full("")).unwrap(),
        }
    }
}

async fn start_site() -> (SocketAddr, Arc<Site>) {
    let config =
        Config::from_str(Path::new("guard.toml"), CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let policy = config.policy.clone();
    let guard = Arc::new(Guard::new(&policy, SCRIPTS));
    let site = Arc::new(Site {
        policy,
        guard,
        log: Mutex::default(),
    });
    let s = site.clone();
    let addr = upstream(move |req: Request<Incoming>| {
        let s = s.clone();
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map_or("/".to_string(), |p| p.to_string());
            let cookie = req
                .headers()
                .get_all("cookie")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join("; ");
            let body = req.into_body().collect().await.unwrap().to_bytes();
            s.log
                .lock()
                .unwrap()
                .push((path.clone(), String::from_utf8_lossy(&body).into_owned()));
            let (p, q) = path.split_once('?').unwrap_or((&path, ""));
            s.respond(p, q, &cookie)
        }
    })
    .await;
    (addr, site)
}

/// The site's unmodified page through the proxy: nothing reaches a vendor and no vendor cookie
/// lands before consent; when the banner writes `consentry=analytics`, the analytics tags the
/// proxy held start within 3 s without a reload, and advertising stays held. (The page's own
/// inline scripts mention vendor URLs, so the proxy holds them too: they run once released.)
async fn through_the_proxy(b: &Browser, proxy: SocketAddr, vendors: &Mutex<Vec<String>>) {
    b.goto(&site_url(proxy, "/raw")).await.unwrap();
    wait_until(b, "the page", "return document.readyState === 'complete';").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = seen(vendors);
    assert!(
        log.is_empty(),
        "requests reached the vendors before consent: {log:#?}"
    );
    let jar = jar_names(b).await;
    for c in ANALYTICS_COOKIES.iter().chain(ADVERTISING_COOKIES) {
        assert!(!jar.iter().any(|n| n == c), "{c} before consent: {jar:?}");
    }
    let held = eval(
        b,
        "return document.querySelectorAll('script[type=\"text/plain\"][data-consentry-category]').length;",
    )
    .await;
    assert!(held.as_u64().unwrap_or(0) >= 5, "held scripts: {held}");
    eval(
        b,
        "window.__samePage = true; document.cookie = 'consentry=analytics; Path=/'; return true;",
    )
    .await;
    let written = Instant::now();
    loop {
        let log = seen(vendors);
        if any_of(&log, &["www.googletagmanager.com/gtag/js?id=G-"]) {
            eprintln!(
                "through the proxy: analytics requested {:?} after consent",
                written.elapsed()
            );
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(3),
            "the analytics tags did not start within 3 s: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = seen(vendors);
    assert!(
        !any_of(&log, ADVERTISING_HOSTS),
        "advertising started: {log:#?}"
    );
    assert_eq!(
        eval(b, "return window.__samePage === true;").await,
        true,
        "no reload"
    );
    let jar = jar_names(b).await;
    assert!(jar.iter().any(|n| n == "_ga"), "{jar:?}");
    for c in ADVERTISING_COOKIES {
        assert!(
            !jar.iter().any(|n| n == c),
            "{c} after analytics consent: {jar:?}"
        );
    }
}

/// consentry in front of the test site, with the test's categories and script patterns.
async fn proxy_in_front(site: SocketAddr) -> consentry::server::Running {
    let mut text = CONFIG.replace(
        "url = \"http://127.0.0.1:9\"",
        &format!("url = \"http://{site}\""),
    );
    for category in ["analytics", "advertising"] {
        let patterns: Vec<String> = SCRIPTS
            .iter()
            .filter(|(_, c)| *c == category)
            .map(|(p, _)| format!("\"{p}\""))
            .collect();
        let header = format!("[categories.{category}]\n");
        text = text.replace(
            &header,
            &format!("{header}scripts = [{}]\n", patterns.join(", ")),
        );
    }
    text.push_str("\n[admin]\nlisten = \"\"\n");
    proxy_with(&text, Default::default()).await
}

// ---- the vendors ----------------------------------------------------------------------------

/// Stand-ins for the vendors' scripts: each notes that it ran, writes its vendor's cookie and
/// sends a beacon, whatever Consent Mode says.
fn vendor_script(host: &str, path: &str) -> Option<String> {
    let body = |name: &str, cookie: &str, beacon: &str| {
        format!(
            "(function(){{(window.__vendors=window.__vendors||[]).push('{name}');\
             document.cookie='{cookie}; Path=/; Max-Age=3600';{beacon}}})();"
        )
    };
    Some(match (host, path) {
        ("www.googletagmanager.com", "/gtag/js") => {
            // Either GA4 (G-) or Google Ads (AW-), by the id in the script's own URL; GA4 keeps
            // writing and sending, as a running tag does, so withdrawal can be seen to stop it.
            "(function(){var id=new URL(document.currentScript.src).searchParams.get('id');\
             (window.__vendors=window.__vendors||[]).push('gtag:'+id);\
             if(id.indexOf('G-')===0){var tick=function(){document.cookie='_ga=GA1.1.'+Date.now()+'; Path=/; Max-Age=3600';\
             document.cookie='_ga_TEST1=GS1.1; Path=/; Max-Age=3600';\
             navigator.sendBeacon('https://www.google-analytics.com/g/collect?v=2&tid='+id,'x')};tick();setInterval(tick,250)}\
             else{document.cookie='_gcl_au=1.1.1; Path=/; Max-Age=3600';\
             new Image().src='https://googleads.g.doubleclick.net/pagead/viewthroughconversion/1/?id='+id}})();"
                .to_string()
        }
        ("www.googletagmanager.com", "/gtm.js") => {
            // A container whose tags are Google Ads (a script element) and a custom HTML tag
            // (an inline script that loads a pixel), both advertising.
            "(function(){(window.__vendors=window.__vendors||[]).push('gtm');\
             var s=document.createElement('script');s.async=true;\
             s.src='https://www.googletagmanager.com/gtag/js?id=AW-TEST2';document.head.appendChild(s);\
             var c=document.createElement('script');\
             c.text=\"(window.__vendors=window.__vendors||[]).push('gtm-custom-html');new Image().src='https://googleads.g.doubleclick.net/pagead/1p-user-list/2/?custom=1';\";\
             document.body.appendChild(c)})();"
                .to_string()
        }
        ("connect.facebook.net", "/en_US/fbevents.js") => body(
            "fbevents",
            "_fbp=fb.1.123.456",
            "var q=(window.fbq&&window.fbq.queue)||[];window.__fbqQueue=q.length;\
             new Image().src='https://www.facebook.com/tr?id=1234567890&ev=PageView';",
        ),
        ("connect.facebook.net", p) if p.starts_with("/signals/") => {
            body("fb-signals", "_fbp=fb.1.signals", "")
        }
        ("static.hotjar.com", p) if p.starts_with("/c/hotjar-") => body(
            "hotjar",
            "_hjSessionUser_1234567=eyJpZCI6IjEifQ",
            "fetch('https://in.hotjar.com/api/v2/client/sites/1234567/visit-data',{method:'POST',mode:'no-cors',body:'x'});",
        ),
        ("www.clarity.ms", p) if p.starts_with("/tag/") => body(
            "clarity",
            "_clck=abc|2|f|0|1",
            "navigator.sendBeacon('https://q.clarity.ms/collect','x');",
        ),
        ("snap.licdn.com", "/li.lms-analytics/insight.min.js") => body(
            "linkedin",
            "li_fat_id=abc",
            "new Image().src='https://px.ads.linkedin.com/collect?pid=1234567&fmt=js';",
        ),
        ("analytics.tiktok.com", "/i18n/pixel/events.js") => body(
            "tiktok",
            "_ttp=ttp123",
            "var x=new XMLHttpRequest();x.open('POST','https://analytics.tiktok.com/api/v2/pixel');x.send('x');",
        ),
        ("bat.bing.com", "/bat.js") => body(
            "bing",
            "_uetsid=uet123",
            "window.UET=function(o){this.push=function(){}};\
             new Image().src='https://bat.bing.com/action/0?ti=12345678';",
        ),
        _ => return None,
    })
}

/// The vendors' TLS server: records every request as `host + path and query`.
async fn start_vendors() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let cert = rcgen::generate_simple_self_signed(
        VENDOR_HOSTS
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, log) = (acceptor.clone(), l.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let host = req
                            .headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("")
                            .split(':')
                            .next()
                            .unwrap_or("")
                            .to_string();
                        let path = req.uri().path().to_string();
                        let pq = req
                            .uri()
                            .path_and_query()
                            .map_or(path.clone(), |p| p.to_string());
                        log.lock().unwrap().push(format!("{host}{pq}"));
                        let r = match vendor_script(&host, &path) {
                            Some(js) => Response::builder()
                                .header("content-type", "text/javascript")
                                .header("access-control-allow-origin", "*")
                                .body(full(js)),
                            None if path.ends_with(".html") => Response::builder()
                                .header("content-type", "text/html")
                                .body(full("<!doctype html><p>frame</p>")),
                            None => Response::builder()
                                .header("content-type", "image/gif")
                                .header("access-control-allow-origin", "*")
                                .body(full(Bytes::from_static(GIF))),
                        };
                        Ok::<_, std::convert::Infallible>(r.unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, log)
}

/// A 1×1 transparent GIF.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Browser arguments: the site and the vendors on loopback, every other host unresolvable.
fn browser_args(site: SocketAddr, vendors: SocketAddr) -> Vec<String> {
    let mut rules = vec![
        "EXCLUDE localhost".to_string(),
        format!("MAP {SITE} 127.0.0.1:{}", site.port()),
    ];
    for h in VENDOR_HOSTS {
        rules.push(format!("MAP {h} 127.0.0.1:{}", vendors.port()));
    }
    rules.push("MAP * ~NOTFOUND".into());
    vec![
        format!("--host-resolver-rules={}", rules.join(", ")),
        "--ignore-certificate-errors".into(),
    ]
}

// ---- checks ---------------------------------------------------------------------------------

fn site_url(site: SocketAddr, path: &str) -> String {
    format!("http://{SITE}:{}{path}", site.port())
}

/// The vendor requests so far.
fn seen(log: &Mutex<Vec<String>>) -> Vec<String> {
    log.lock().unwrap().clone()
}

/// Whether any logged request starts with one of `prefixes`.
fn any_of(log: &[String], prefixes: &[&str]) -> bool {
    log.iter()
        .any(|r| prefixes.iter().any(|p| r.starts_with(p)))
}

const ANALYTICS_HOSTS: &[&str] = &[
    "www.googletagmanager.com/gtag/js?id=G-",
    "www.googletagmanager.com/gtm.js",
    "www.google-analytics.com",
    "static.hotjar.com",
    "in.hotjar.com",
    "www.clarity.ms",
    "q.clarity.ms",
];

const ADVERTISING_HOSTS: &[&str] = &[
    "www.googletagmanager.com/gtag/js?id=AW-",
    "connect.facebook.net",
    "www.facebook.com",
    "snap.licdn.com",
    "px.ads.linkedin.com",
    "analytics.tiktok.com",
    "bat.bing.com",
    "googleads.g.doubleclick.net",
];

const ANALYTICS_COOKIES: &[&str] = &["_ga", "_ga_TEST1", "_hjSessionUser_1234567", "_clck"];
const ADVERTISING_COOKIES: &[&str] = &["_fbp", "_gcl_au", "li_fat_id", "_ttp", "_uetsid"];

async fn vendors_ran(b: &Browser) -> Vec<String> {
    serde_json::from_value(eval(b, "return window.__vendors || [];").await).unwrap()
}

/// The Consent Mode calls in `dataLayer`: `[kind, state]`.
async fn consent_calls(b: &Browser) -> Vec<Value> {
    let v = eval(
        b,
        "return (window.dataLayer || []).filter(function (a) { return a && a[0] === 'consent'; })\
         .map(function (a) { return [a[1], a[2]]; });",
    )
    .await;
    serde_json::from_value(v).unwrap()
}

/// Loads `url` in a fresh state (no cookies) and waits for the page's own code to finish.
async fn load(b: &Browser, url: &str) {
    b.goto(url).await.unwrap();
    wait_until(
        b,
        "the page's own code",
        "return document.readyState === 'complete' && !!(window.__own && window.__own.done);",
    )
    .await;
}

/// Scenario 1: nothing reaches a vendor and no vendor cookie lands before consent; the page's
/// own calls work; run-time trackers are held back or fail as blocked.
async fn before_consent(b: &Browser, site: SocketAddr, vendors: &Mutex<Vec<String>>, path: &str) {
    load(b, &site_url(site, path)).await;
    // Give anything that would load time to load.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = seen(vendors);
    assert!(
        log.is_empty(),
        "{path}: requests reached the vendors before consent: {log:#?}"
    );
    assert_eq!(
        jar_names(b).await,
        ["session"],
        "{path}: the jar before consent"
    );
    assert!(vendors_ran(b).await.is_empty());
    let own = eval(b, "return window.__own;").await;
    assert_eq!(
        own["calls"], "ok",
        "{path}: the page's own calls to vendor globals: {own}"
    );
    assert_eq!(own["beacon"], false, "{path}: sendBeacon to a held vendor");
    wait_until(
        b,
        "the page's fetch and XHR to settle",
        "return !!(window.__own.fetch && window.__own.xhr);",
    )
    .await;
    let own = eval(b, "return window.__own;").await;
    assert_eq!(own["fetch"], "failed", "{path}: fetch to a held vendor");
    assert_eq!(own["xhr"], "error", "{path}: XHR to a held vendor");
    // Elements held at run time carry the proxy's markup.
    let held = eval(
        b,
        "return {\
           written: document.querySelectorAll('script[type=\"text/plain\"][data-consentry-category=\"advertising\"][src*=\"signals/config\"]').length,\
           inner: document.querySelectorAll('#box img[data-consentry-src][data-consentry-category=\"advertising\"]').length,\
           innerSrc: document.querySelector('#box img').hasAttribute('src'),\
           pixel: document.getElementById('pixel').hasAttribute('src'),\
           consent: (window.dataLayer || []).length > 0\
         };",
    )
    .await;
    assert_eq!(held["written"], 1, "document.write script held: {held}");
    assert_eq!(held["inner"], 1, "innerHTML image held: {held}");
    assert_eq!(held["innerSrc"], false);
    assert_eq!(held["pixel"], false, "the proxy's held pixel stays held");
    // Consent Mode default, before any tag: everything denied.
    let calls = consent_calls(b).await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0][0], "default");
    assert_eq!(calls[0][1]["analytics_storage"], "denied");
    assert_eq!(calls[0][1]["ad_storage"], "denied");
    let first = eval(b, "return Array.from(window.dataLayer[0]);").await;
    assert_eq!(
        first[0], "consent",
        "Consent Mode default comes first in dataLayer"
    );
}

/// Scenario 2: the visitor grants analytics on the page; the analytics tags start within 3 s,
/// without a reload, in document order; advertising stays held.
async fn grant_analytics(b: &Browser, vendors: &Mutex<Vec<String>>) {
    eval(b, "window.__samePage = true; return true;").await;
    let clicked = Instant::now();
    eval(
        b,
        "document.getElementById('accept-analytics').click(); return true;",
    )
    .await;
    let deadline = clicked + Duration::from_secs(3);
    loop {
        let log = seen(vendors);
        let started = [
            "www.googletagmanager.com/gtag/js?id=G-TEST1",
            "www.googletagmanager.com/gtm.js",
            "static.hotjar.com",
            "www.clarity.ms",
        ]
        .iter()
        .all(|p| any_of(&log, &[p]));
        if started {
            eprintln!(
                "analytics tags requested {:?} after consent",
                clicked.elapsed()
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the analytics tags did not start within 3 s: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    wait_until(
        b,
        "the analytics stand-ins to run",
        "var v = window.__vendors || []; return ['gtag:G-TEST1', 'gtm', 'hotjar', 'clarity'].every(function (n) { return v.indexOf(n) >= 0; });",
    )
    .await;
    assert_eq!(
        eval(b, "return window.__samePage === true;").await,
        true,
        "no reload"
    );
    // Let the held advertising tags prove they stay held (GTM tried to add two).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = seen(vendors);
    assert!(
        !any_of(&log, ADVERTISING_HOSTS),
        "advertising reached its vendors: {log:#?}"
    );
    assert!(
        any_of(&log, &["www.google-analytics.com/g/collect"]),
        "GA's beacon: {log:#?}"
    );
    let jar = jar_names(b).await;
    for c in ANALYTICS_COOKIES {
        assert!(jar.iter().any(|n| n == c), "{c} is not in the jar: {jar:?}");
    }
    for c in ADVERTISING_COOKIES {
        assert!(!jar.iter().any(|n| n == c), "{c} is in the jar: {jar:?}");
    }
    let ran = vendors_ran(b).await;
    assert!(
        !ran.iter()
            .any(|v| v == "gtag:AW-TEST2" || v == "gtm-custom-html"),
        "{ran:?}"
    );
    // GTM's tags were held at run time, in the proxy's markup.
    let held = eval(
        b,
        "return document.querySelectorAll('script[type=\"text/plain\"][data-consentry-category=\"advertising\"]').length;",
    )
    .await;
    // Meta's, LinkedIn's, TikTok's and Bing's snippets (held by the proxy), the script the page
    // wrote with document.write, and GTM's two tags.
    assert_eq!(held, 7, "held advertising scripts");
    // Document order: the re-created analytics scripts were requested in the order of the
    // elements they came from (GA4's script, then GTM's, Hotjar's and Clarity's snippets).
    let order: Vec<String> = serde_json::from_value(
        eval(
            b,
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })\
             .filter(function (n) { return /gtag\\/js\\?id=G-|gtm\\.js|hotjar-|clarity\\.ms\\/tag/.test(n); });",
        )
        .await,
    )
    .unwrap();
    let rank = |n: &String| {
        ["gtag/js?id=G-", "gtm.js", "hotjar-", "clarity.ms/tag"]
            .iter()
            .position(|p| n.contains(p))
            .unwrap()
    };
    let ranks: Vec<usize> = order.iter().map(rank).collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(
        ranks, sorted,
        "analytics scripts started out of document order: {order:?}"
    );
    // Consent Mode: an update follows the default.
    let calls = consent_calls(b).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1][0], "update");
    assert_eq!(calls[1][1]["analytics_storage"], "granted");
    assert_eq!(calls[1][1]["ad_storage"], "denied");
}

/// Scenario 3: withdrawing stops further writes and beacons at once.
async fn withdraw(b: &Browser, vendors: &Mutex<Vec<String>>) {
    eval(
        b,
        "document.getElementById('reject-all').click(); return true;",
    )
    .await;
    // The guard polls right after the cookie write; give it one round trip.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    b.delete_cookie("_ga").await.unwrap();
    b.delete_cookie("_ga_TEST1").await.unwrap();
    let before = seen(vendors).len();
    // The GA stand-in writes and beacons every 250 ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let jar = jar_names(b).await;
    assert!(
        !jar.iter().any(|n| n == "_ga" || n == "_ga_TEST1"),
        "GA wrote again: {jar:?}"
    );
    let after = seen(vendors);
    let new: Vec<&String> = after[before..].iter().collect();
    assert!(new.is_empty(), "requests after withdrawal: {new:#?}");
    let calls = consent_calls(b).await;
    assert_eq!(calls.last().unwrap()[1]["analytics_storage"], "denied");
}

/// Scenario 4: from undecided, "Accept all" on the page starts everything without a reload,
/// the tags held at run time by GTM and the page's own included.
async fn grant_all(b: &Browser, site: SocketAddr, vendors: &Mutex<Vec<String>>) {
    vendors.lock().unwrap().clear();
    load(b, &site_url(site, "/")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(seen(vendors).is_empty());
    let clicked = Instant::now();
    eval(
        b,
        "document.getElementById('accept-all').click(); return true;",
    )
    .await;
    let expected = [
        "gtag:G-TEST1",
        "gtm",
        "fbevents",
        "hotjar",
        "clarity",
        "linkedin",
        "tiktok",
        "bing",
        "fb-signals",
        "gtag:AW-TEST2",
        "gtm-custom-html",
    ];
    let script = format!(
        "var v = window.__vendors || []; return {:?}.every(function (n) {{ return v.indexOf(n) >= 0; }});",
        expected
    );
    wait_until(b, "every vendor to run after Accept all", &script).await;
    eprintln!("every tag ran {:?} after Accept all", clicked.elapsed());
    // Pixels held by the proxy and by the guard load too.
    wait_until(
        b,
        "held pixels to load",
        "return document.getElementById('pixel').hasAttribute('src') && document.querySelector('#box img').hasAttribute('src');",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = seen(vendors);
    for p in ADVERTISING_HOSTS.iter().chain(ANALYTICS_HOSTS) {
        assert!(any_of(&log, &[p]), "{p} was never requested: {log:#?}");
    }
    assert!(any_of(
        &log,
        &["px.ads.linkedin.com/collect/?pid=1234567&fmt=gif&own=inner"]
    ));
    let jar = jar_names(b).await;
    for c in ANALYTICS_COOKIES.iter().chain(ADVERTISING_COOKIES) {
        assert!(jar.iter().any(|n| n == c), "{c} is not in the jar: {jar:?}");
    }
    // The snippets ran again and installed their own globals (the guard's stubs were removed
    // first), and the page's calls made while they were held were replayed into them.
    let replayed = eval(
        b,
        "function has(q, a0, a1) { return Array.prototype.some.call(q || [], function (a) { return a[0] === a0 && (a1 === undefined || a[1] === a1); }); }\
         return {\
           fbq: Array.isArray(window.fbq.queue) && has(window.fbq.queue, 'track', 'ViewContent'),\
           ttq: has(window.ttq, 'track', 'ViewContent') && has(window.ttq, 'track', 'AddToCart'),\
           lintrk: has(window.lintrk.q, 'track'),\
           hj: has(window.hj.q, 'event', 'own'),\
           clarity: has(window.clarity.q, 'set', 'page')\
         };",
    )
    .await;
    for vendor in ["fbq", "ttq", "lintrk", "hj", "clarity"] {
        assert_eq!(replayed[vendor], true, "{vendor}: {replayed}");
    }
    assert_eq!(eval(b, "return window.__own.calls;").await, "ok");
}

/// Scenario 5: with consent `all` when the page loads, nothing is rewritten and everything
/// loads.
async fn all_at_load(b: &Browser, site: SocketAddr, vendors: &Mutex<Vec<String>>) {
    vendors.lock().unwrap().clear();
    // The cookie from scenario 4 is `all`.
    load(b, &site_url(site, "/")).await;
    assert_eq!(
        eval(
            b,
            "return !!document.getElementById('consentry-guard-data');"
        )
        .await,
        false,
        "a page with every category granted is not rewritten"
    );
    wait_until(
        b,
        "every vendor to run",
        "var v = window.__vendors || []; return ['gtag:G-TEST1','gtm','fbevents','hotjar','clarity','linkedin','tiktok','bing','gtag:AW-TEST2','gtm-custom-html','fb-signals'].every(function (n) { return v.indexOf(n) >= 0; });",
    )
    .await;
    assert_eq!(eval(b, "return window.__own.calls;").await, "ok");
    assert!(any_of(&seen(vendors), &["snap.licdn.com"]));
}

/// Scenario 6: a strict nonce CSP; the guard reuses the nonce, nothing is reported, and the
/// scripts it re-creates run under `'strict-dynamic'`.
async fn nonce_csp(
    b: &Browser,
    site: SocketAddr,
    vendors: &Mutex<Vec<String>>,
    site_log: &Mutex<Vec<(String, String)>>,
) {
    vendors.lock().unwrap().clear();
    before_consent(b, site, vendors, "/nonce").await;
    assert_eq!(
        eval(b, "var s = document.getElementById('consentry-guard-data').nextElementSibling; return s.nonce;").await,
        NONCE,
        "the guard carries the page's nonce"
    );
    eval(
        b,
        "document.getElementById('accept-analytics').click(); return true;",
    )
    .await;
    wait_until(
        b,
        "the analytics stand-ins to run under the nonce CSP",
        "var v = window.__vendors || []; return ['gtag:G-TEST1', 'gtm', 'hotjar', 'clarity'].every(function (n) { return v.indexOf(n) >= 0; });",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let violations = eval(b, "return window.__violations;").await;
    assert_eq!(
        violations,
        Value::Array(vec![]),
        "CSP violations under the nonce policy"
    );
    let reports: Vec<String> = site_log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/csp-report"))
        .map(|(_, b)| b.clone())
        .collect();
    assert!(reports.is_empty(), "CSP reports: {reports:#?}");
    assert!(!any_of(&seen(vendors), ADVERTISING_HOSTS));
}

/// Scenario 7: hash-only and 'self'-only policies: the guard runs (by its hash, or from its
/// file) and nothing is reported; with `connect-src 'none'` it does not ask the endpoint.
async fn other_csps(b: &Browser, site: SocketAddr, site_log: &Mutex<Vec<(String, String)>>) {
    for (path, placement) in [("/hash", Placement::Hash), ("/self", Placement::External)] {
        site_log.lock().unwrap().clear();
        b.goto(&site_url(site, path)).await.unwrap();
        wait_until(
            b,
            "the page's own script",
            "return window.__ownDone === true;",
        )
        .await;
        let form_is_file = eval(
            b,
            "var s = document.getElementById('consentry-guard-data').nextElementSibling; return s.hasAttribute('src');",
        )
        .await;
        assert_eq!(form_is_file, placement == Placement::External, "{path}");
        // The guard ran: of the page's own writes only the essential cookie landed.
        let jar = jar_names(b).await;
        assert_eq!(jar, ["session"], "{path}: {jar:?}");
        // The banner writes consent; under `connect-src 'none'` (hash page) the guard must not
        // fetch; on the self page it may.
        eval(
            b,
            "document.getElementById('accept-analytics').click(); return true;",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let log = site_log.lock().unwrap().clone();
        let reports: Vec<&(String, String)> = log
            .iter()
            .filter(|(p, _)| p.starts_with("/csp-report"))
            .collect();
        assert!(reports.is_empty(), "{path}: CSP reports: {reports:#?}");
        let asked = log.iter().any(|(p, _)| p == guard::CONSENT_PATH);
        assert_eq!(
            asked,
            path == "/self",
            "{path}: consent endpoint asked: {log:?}"
        );
        if path == "/self" {
            assert!(log.iter().any(|(p, _)| p == guard::guard_path()), "{log:?}");
        }
        clear_cookies(b, site).await;
    }
}

/// Scenario 8: the guard's cookie decisions agree with the proxy's classification (exact beats
/// glob, more literal characters win, unclassified and consent cookies pass, deletions pass,
/// nameless cookies go by the name they present).
async fn cookie_precedence(b: &Browser, site: SocketAddr, policy: &Policy) {
    b.goto(&site_url(site, "/self")).await.unwrap();
    wait_until(b, "the page", "return window.__ownDone === true;").await;
    b.delete_all_cookies().await.unwrap();
    let names = [
        "_ga",
        "_ga_X1",
        "_gat",
        "_gax",
        "_hjSession_1",
        "_hjSessionUser_9",
        "_gcl_au",
        "_gcl_keep_1",
        "_fbp",
        "li_fat_id",
        "unlisted",
        "session",
        "_clck",
        "_uetsid",
    ];
    let consent = policy.decide("", false);
    let expected: Vec<String> = {
        let mut v: Vec<String> = names
            .iter()
            .filter(|n| match policy.classify(n.as_bytes()) {
                Class::Unclassified | Class::Consent => true,
                c => consent.allowed.contains(policy.category_of(c).unwrap()),
            })
            .map(|n| n.to_string())
            .collect();
        v.push("nameless_x".into());
        v.sort();
        v
    };
    let script = format!(
        "{:?}.forEach(function (n) {{ document.cookie = n + '=v; Path=/'; }});\
         document.cookie = '=_fbp; Path=/';\
         document.cookie = 'nameless_x; Path=/';\
         return true;",
        names
    );
    eval(b, &script).await;
    let mut jar = jar_names(b).await;
    // A nameless cookie is held under the name it presents (`=_fbp` is `_fbp`): it never lands;
    // `nameless_x` (unclassified) does, as a cookie with an empty name.
    jar.iter_mut()
        .filter(|n| n.is_empty())
        .for_each(|n| *n = "nameless_x".into());
    jar.sort();
    assert_eq!(jar, expected);
    assert!(
        !jar.iter().any(|n| n == "_gat" || n == "_ga" || n == "_fbp"),
        "{jar:?}"
    );
    assert!(
        jar.iter().any(|n| n == "_gcl_keep_1"),
        "an essential glob that outranks `_gcl_*`: {jar:?}"
    );
    // Deletions always pass, also for held categories.
    set_by_server(b, "_ga").await;
    eval(
        b,
        "document.cookie = '_ga=; Max-Age=0; Path=/'; return true;",
    )
    .await;
    assert!(
        !jar_names(b).await.iter().any(|n| n == "_ga"),
        "a deletion of a held cookie passes"
    );
    set_by_server(b, "_fbp").await;
    eval(
        b,
        "document.cookie = '_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/'; return true;",
    )
    .await;
    assert!(
        !jar_names(b).await.iter().any(|n| n == "_fbp"),
        "an Expires deletion passes"
    );
    b.delete_all_cookies().await.unwrap();
}

/// Scenario 9: the Cookie Store API (secure contexts only: the site as `localhost`) is held
/// back like `document.cookie`; deletions pass.
async fn cookie_store(b: &Browser, site: SocketAddr) {
    let url = format!("http://localhost:{}", site.port());
    b.goto(&format!("{url}/blank")).await.unwrap();
    b.delete_all_cookies().await.unwrap();
    b.goto(&format!("{url}/self")).await.unwrap();
    wait_until(b, "the page", "return window.__ownDone === true;").await;
    assert_eq!(
        eval(b, "return typeof cookieStore;").await,
        "object",
        "localhost is a secure context"
    );
    b.delete_all_cookies().await.unwrap();
    eval(
        b,
        "return (async function () {\
           await cookieStore.set('_ga', 'cs1');\
           await cookieStore.set({ name: '_fbp', value: 'cs2' });\
           await cookieStore.set('session', 'cs3');\
           await cookieStore.set({ name: 'unlisted', value: 'cs4' });\
           return true;\
         })();",
    )
    .await;
    assert_eq!(jar_names(b).await, ["session", "unlisted"]);
    set_by_server(b, "_ga").await;
    eval(
        b,
        "return cookieStore.delete('_ga').then(function () { return true; });",
    )
    .await;
    assert_eq!(
        jar_names(b).await,
        ["session", "unlisted"],
        "a deletion passes"
    );
    set_by_server(b, "_fbp").await;
    eval(
        b,
        "return cookieStore.set({ name: '_fbp', value: '', expires: Date.now() - 1000 }).then(function () { return true; });",
    )
    .await;
    assert_eq!(
        jar_names(b).await,
        ["session", "unlisted"],
        "an expired set deletes"
    );
}

/// Empties the jar from a page without scripts (a running page's tags could write again).
async fn clear_cookies(b: &Browser, site: SocketAddr) {
    b.goto(&site_url(site, "/blank")).await.unwrap();
    b.delete_all_cookies().await.unwrap();
}

/// Puts a cookie into the jar with a `Set-Cookie` from the site (not through the page's
/// `document.cookie`, which the guard watches).
async fn set_by_server(b: &Browser, name: &str) {
    eval(b, &format!("fetch('/set-cookie?{name}'); return true;")).await;
    wait_until(
        b,
        &format!("{name} from the server"),
        &format!("return document.cookie.split('; ').some(function (c) {{ return c.indexOf('{name}=') === 0; }});"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser_binaries() else {
        return;
    };
    let started = Instant::now();
    let mut driver = Driver::start(&chromedriver, chromium).await;
    let (site_addr, site) = start_site().await;
    let (vendor_addr, vendors) = start_vendors().await;
    let args = browser_args(site_addr, vendor_addr);

    let b = driver.browser(&args).await;
    before_consent(&b, site_addr, &vendors, "/").await;
    grant_analytics(&b, &vendors).await;
    withdraw(&b, &vendors).await;
    clear_cookies(&b, site_addr).await;
    grant_all(&b, site_addr, &vendors).await;
    all_at_load(&b, site_addr, &vendors).await;
    b.close().await.unwrap();

    let b = driver.browser(&args).await;
    nonce_csp(&b, site_addr, &vendors, &site.log).await;
    clear_cookies(&b, site_addr).await;
    other_csps(&b, site_addr, &site.log).await;
    cookie_precedence(&b, site_addr, &site.policy).await;
    cookie_store(&b, site_addr).await;
    b.close().await.unwrap();

    // The same scenarios with the real proxy in front of the site's unmodified page: its rewrite,
    // its guard injection and its consent endpoint.
    let proxy = proxy_in_front(site_addr).await;
    let proxied = proxy.http.unwrap();
    vendors.lock().unwrap().clear();
    let b = driver.browser(&browser_args(proxied, vendor_addr)).await;
    through_the_proxy(&b, proxied, &vendors).await;
    b.close().await.unwrap();
    proxy.drain().await;

    drop(driver);
    eprintln!("guard browser suite took {:?}", started.elapsed());
}
