//! `consentry demo`: the demo site and the proxy in front of it, on loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::site::{self, SiteOptions, DEMO_COOKIES, SCRIPT_COOKIE};
use crate::config::Config;
use crate::server::accept::{accept_loop, serve_local};
use crate::server::{self, Options};

/// The script patterns of the demo configuration, by category: the vendor stand-ins the shop
/// pages load from the second local origin, addressed as `localhost`.
pub const SCRIPT_PATTERNS: &[(&str, &[&str])] = &[
    ("analytics", &["localhost/gtag/js", "localhost/collect"]),
    ("advertising", &["localhost/fbevents.js", "localhost/tr"]),
];

/// The pattern the demo configuration uses for a demo cookie: globs for the families that carry
/// an id in their name, so the demo shows both kinds of rule.
fn pattern(name: &str) -> String {
    for family in ["_ga_", "_gcl_"] {
        if name.starts_with(family) {
            return format!("{family}*");
        }
    }
    name.to_string()
}

/// The demo's configuration: the demo site's cookies in the four categories, and the script
/// patterns of the vendor stand-ins ([`SCRIPT_PATTERNS`]).
pub fn config_text(upstream: SocketAddr, http: SocketAddr, admin: SocketAddr) -> String {
    let mut cats: Vec<(&str, Vec<String>)> =
        site::CATEGORIES.iter().map(|c| (*c, Vec::new())).collect();
    for c in DEMO_COOKIES.iter().chain(std::iter::once(&SCRIPT_COOKIE)) {
        if let Some(cat) = c.category {
            if let Some((_, list)) = cats.iter_mut().find(|(n, _)| *n == cat) {
                let p = pattern(c.name);
                if !list.contains(&p) {
                    list.push(p);
                }
            }
        }
    }
    let mut text = format!(
        "# The configuration `consentry demo` runs with.\n\
         [listen]\nhttp = \"{http}\"\n\n[admin]\nlisten = \"{admin}\"\n\n\
         [server]\nshutdown_grace = \"2s\"\n\n\
         [upstream]\nurl = \"http://{upstream}\"\n\n\
         [consent]\nmode = \"enforce\"\nundecided = \"deny\"\nunclassified = \"deny\"\ngpc = [\"advertising\"]\n"
    );
    for (name, list) in cats {
        text.push_str(&format!("\n[categories.{name}]\n"));
        if name == "essential" {
            text.push_str("required = true\n");
        }
        let quoted: Vec<String> = list.iter().map(|p| format!("\"{p}\"")).collect();
        text.push_str(&format!("cookies = [{}]\n", quoted.join(", ")));
        if let Some((_, scripts)) = SCRIPT_PATTERNS.iter().find(|(n, _)| *n == name) {
            let quoted: Vec<String> = scripts.iter().map(|p| format!("\"{p}\"")).collect();
            text.push_str(&format!("scripts = [{}]\n", quoted.join(", ")));
        }
    }
    text
}

// ---- The vendor stand-ins ----------------------------------------------------------------------

/// What the vendor stand-ins' origin was asked for: hits per path (`/hits` itself not counted).
#[derive(Debug, Default)]
pub struct VendorHits(Mutex<BTreeMap<String, u64>>);

impl VendorHits {
    /// Hits on every path, in total.
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// Hits per path.
    pub fn by_path(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    fn count(&self, path: &str) {
        *self.lock().entry(path.to_owned()).or_default() += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The stand-in for gtag.js: the cookies the real one writes with `document.cookie`, then one
/// page-view beacon. `{{origin}}` is the vendor origin.
const GTAG_JS: &str = "// Offline stand-in for gtag.js (consentry demo).
(function () {
  var now = Math.floor(Date.now() / 1000);
  var client = Math.floor(Math.random() * 1e9) + '.' + now;
  var life = '; Path=/; Max-Age=63072000; SameSite=Lax';
  document.cookie = '_ga=GA1.1.' + client + life;
  document.cookie = '_ga_DEMO=GS1.1.' + now + '.1.0.' + now + '.0.0.0' + life;
  navigator.sendBeacon('{{origin}}/collect?v=2&tid=G-DEMO&cid=' + client + '&en=page_view');
})();
";

/// The stand-in for Meta's fbevents.js: the `_fbp` cookie and one page-view beacon.
const FBEVENTS_JS: &str = "// Offline stand-in for fbevents.js (consentry demo).
(function () {
  var fbp = 'fb.1.' + Date.now() + '.' + Math.floor(Math.random() * 1e9);
  document.cookie = '_fbp=' + fbp + '; Path=/; Max-Age=7776000; SameSite=Lax';
  navigator.sendBeacon('{{origin}}/tr?id=DEMO&ev=PageView&fbp=' + fbp);
})();
";

/// A transparent 1x1 GIF, the tracking pixel.
const PIXEL_GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The vendor origin as the shop pages address it.
pub fn vendor_origin(port: u16) -> String {
    format!("http://localhost:{port}")
}

/// Answers one request to the vendor stand-ins' origin (`origin` as the pages address it):
/// `/gtag/js`, `/fbevents.js`, `/tr` (a pixel), `/collect` (204), each counted in `hits`, and
/// `/hits`, the counts as JSON for any origin.
pub(crate) fn vendor_respond<B>(
    req: &Request<B>,
    origin: &str,
    hits: &VendorHits,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let (status, content_type, body) = match path {
        "/gtag/js" => (
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            Bytes::from(GTAG_JS.replace("{{origin}}", origin)),
        ),
        "/fbevents.js" => (
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            Bytes::from(FBEVENTS_JS.replace("{{origin}}", origin)),
        ),
        "/tr" => (StatusCode::OK, "image/gif", Bytes::from_static(PIXEL_GIF)),
        "/collect" => (StatusCode::NO_CONTENT, "", Bytes::new()),
        "/hits" => {
            let by_path = hits.by_path();
            let json =
                serde_json::json!({ "total": by_path.values().sum::<u64>(), "paths": by_path });
            let mut res = Response::new(Full::new(Bytes::from(json.to_string())));
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return res;
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            Bytes::from_static(b"not found\n"),
        ),
    };
    if status != StatusCode::NOT_FOUND {
        hits.count(path);
    }
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    if !content_type.is_empty() {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Serves the vendor stand-ins on `listener` until `shutdown` is cancelled.
async fn serve_vendor(listener: TcpListener, hits: Arc<VendorHits>, shutdown: CancellationToken) {
    let origin = match listener.local_addr() {
        Ok(a) => Arc::new(vendor_origin(a.port())),
        Err(_) => return,
    };
    let tracker = TaskTracker::new();
    accept_loop(
        listener,
        None,
        shutdown.clone(),
        tracker.clone(),
        |stream, _| {
            let (hits, origin) = (Arc::clone(&hits), Arc::clone(&origin));
            Some(serve_local(
                stream,
                Duration::from_secs(10),
                shutdown.clone(),
                move |req| vendor_respond(req, &origin, &hits),
            ))
        },
    )
    .await;
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

/// Binds `preferred`, or any free loopback port when it is taken.
async fn bind_or_any(preferred: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(("127.0.0.1", preferred)).await {
        Ok(l) => Ok(l),
        Err(_) => TcpListener::bind("127.0.0.1:0").await,
    }
}

/// A started demo.
pub struct Demo {
    pub proxy: server::Running,
    pub site: SocketAddr,
    /// The vendor stand-ins' origin (on 127.0.0.1; the pages address it as `localhost`).
    pub vendor: SocketAddr,
    /// What the vendor stand-ins were asked for.
    pub vendor_hits: Arc<VendorHits>,
    site_stop: CancellationToken,
    site_task: tokio::task::JoinHandle<std::io::Result<()>>,
    vendor_task: tokio::task::JoinHandle<()>,
}

impl Demo {
    /// Starts the site and the proxy: the proxy on `port` (or a free port when taken), admin on
    /// `admin_port` (likewise).
    pub async fn start(port: u16, admin_port: u16) -> std::io::Result<Demo> {
        let site_listener = TcpListener::bind("127.0.0.1:0").await?;
        let site_addr = site_listener.local_addr()?;
        let vendor_listener = TcpListener::bind("127.0.0.1:0").await?;
        let vendor_addr = vendor_listener.local_addr()?;
        // Reserve the proxy's ports, then hand their addresses to the configuration.
        let http = bind_or_any(port).await?;
        let admin = bind_or_any(admin_port).await?;
        let (http_addr, admin_addr) = (http.local_addr()?, admin.local_addr()?);
        drop((http, admin));
        let config = Config::from_str(
            Path::new("(demo)"),
            &config_text(site_addr, http_addr, admin_addr),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let proxy = server::start(
            config,
            Options {
                debug_headers: true,
            },
        )
        .await?;
        let site_stop = CancellationToken::new();
        let opts = Arc::new(SiteOptions {
            admin_url: format!("http://{admin_addr}"),
            vendor_port: vendor_addr.port(),
        });
        let site_task = tokio::spawn(site::serve(site_listener, opts, site_stop.clone()));
        let vendor_hits = Arc::new(VendorHits::default());
        let vendor_task = tokio::spawn(serve_vendor(
            vendor_listener,
            Arc::clone(&vendor_hits),
            site_stop.clone(),
        ));
        Ok(Demo {
            proxy,
            site: site_addr,
            vendor: vendor_addr,
            vendor_hits,
            site_stop,
            site_task,
            vendor_task,
        })
    }

    /// The instructions printed for a newcomer.
    pub(crate) fn instructions(&self) -> String {
        let http = self.proxy.http.expect("the demo listens on http");
        let admin = self.proxy.admin.expect("the demo has an admin listener");
        format!(
            "consentry demo is running.\n\n\
             \x20 Shop, behind the proxy:      http://{http}/\n\
             \x20 Same shop, no proxy:         http://{site}/   (compare what it sets)\n\
             \x20 Vendor stand-ins (offline): {vendor}/hits   (what the trackers were asked for)\n\
             \x20 Parent-domain cleanup:       http://demo.localtest.me:{port}/   (resolves to 127.0.0.1 where DNS is available)\n\
             \x20 Status page and metrics:     http://{admin}/   http://{admin}/metrics\n\n\
             Open the shop, reject or accept cookies in the banner, and watch the panel: it lists the\n\
             cookies your browser holds and what consentry removed or expired on each page view.\n\
             Try it offline too:  consentry explain --cookie 'consentry=analytics' --set-cookie '_fbp=fb.1; Path=/'\n\n\
             Press Ctrl-C to stop.\n",
            site = self.site,
            vendor = vendor_origin(self.vendor.port()),
            port = http.port(),
        )
    }

    /// Stops the proxy (draining) and the site.
    pub async fn stop(self) {
        self.proxy.drain().await;
        self.site_stop.cancel();
        let _ = self.site_task.await;
        let _ = self.vendor_task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_config_is_valid_and_classifies_every_demo_cookie() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c = Config::from_str(Path::new("demo"), &config_text(a, a, a)).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let p = &c.policy;
        for cookie in DEMO_COOKIES.iter().chain(std::iter::once(&SCRIPT_COOKIE)) {
            let class = p.classify(cookie.name.as_bytes());
            let got = p.category_of(class).map(|id| p.categories.name(id));
            assert_eq!(got, cookie.category, "{}", cookie.name);
        }
    }

    #[test]
    fn the_demo_config_classifies_the_vendor_stand_ins() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let c = Config::from_str(Path::new("demo"), &config_text(a, a, a)).unwrap();
        let p = &c.policy;
        let v = vendor_origin(40123);
        let cases = [
            (format!("{v}/gtag/js?id=G-DEMO"), Some("analytics")),
            (format!("{v}/collect?v=2&tid=G-DEMO"), Some("analytics")),
            (format!("{v}/fbevents.js"), Some("advertising")),
            (
                format!("{v}/tr?id=DEMO&ev=PageView&noscript=1"),
                Some("advertising"),
            ),
            (format!("{v}/hits"), None),
            ("http://127.0.0.1:8080/assets/app.js".to_owned(), None),
        ];
        for (url, want) in cases {
            let got = p
                .scripts
                .classify_url(&url)
                .map(|id| p.categories.name(p.scripts.rule(id).category));
            assert_eq!(got, want, "{url}");
        }
    }

    fn get(path: &str, hits: &VendorHits) -> Response<Full<Bytes>> {
        let req = Request::get(path).body(()).unwrap();
        vendor_respond(&req, "http://localhost:1234", hits)
    }

    async fn text(res: Response<Full<Bytes>>) -> String {
        use http_body_util::BodyExt;
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn the_vendor_origin_serves_the_stand_ins_and_counts_hits() {
        let hits = VendorHits::default();
        let res = get("/gtag/js?id=G-DEMO", &hits);
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let js = text(res).await;
        assert!(js.contains("document.cookie = '_ga=GA1.1."), "{js}");
        assert!(js.contains("_ga_DEMO="), "{js}");
        assert!(js.contains("navigator.sendBeacon('http://localhost:1234/collect?"));
        assert!(text(get("/fbevents.js", &hits)).await.contains("'_fbp='"));
        let pixel = get("/tr?id=DEMO", &hits);
        assert_eq!(pixel.headers()[header::CONTENT_TYPE], "image/gif");
        assert!(text(pixel).await.starts_with("GIF89a"));
        assert_eq!(get("/collect?v=2", &hits).status(), StatusCode::NO_CONTENT);
        assert_eq!(get("/elsewhere", &hits).status(), StatusCode::NOT_FOUND);
        assert_eq!(hits.total(), 4);
        let res = get("/hits", &hits);
        assert_eq!(res.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let json: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
        assert_eq!(json["total"], 4);
        assert_eq!(json["paths"]["/gtag/js"], 1);
        assert_eq!(hits.total(), 4, "/hits is not counted");
    }

    #[tokio::test]
    async fn the_demo_starts_the_vendor_origin() {
        let demo = Demo::start(0, 0).await.unwrap();
        let mut s = tokio::net::TcpStream::connect(demo.vendor).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(
            b"GET /gtag/js?id=G-DEMO HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains(&format!("{}/collect", vendor_origin(demo.vendor.port()))));
        assert_eq!(demo.vendor_hits.total(), 1);
        demo.stop().await;
    }
}
