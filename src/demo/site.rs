//! The demo origin: "Helpdesk Supply", a two-page shop that sets cookies without caring about
//! consent, as many real sites do.
//!
//! Every HTML page response carries the `Set-Cookie` lines of [`DEMO_COOKIES`]: names from the
//! seed vendor's cookie tables in each category (essential, functional, analytics, advertising),
//! one name no policy lists, and one cookie set on the parent domain. The page script also sets
//! [`SCRIPT_COOKIE`] from JavaScript on every load, as tag managers do, so the proxy's cleanup of
//! script-set cookies can be watched.
//!
//! The consent banner writes the native consent cookie (`consentry=all`, `consentry=none` or
//! `consentry=functional,analytics`, ...; `Path=/`, one year, `SameSite=Lax`) and reloads. After
//! load the page fetches itself again and shows what the proxy reported in the response headers
//! [`HEADER_BLOCKED`] and [`HEADER_DELETED`], next to the cookies the browser holds.
//!
//! Cookies are set without `Secure` (and so with `SameSite=Lax`, never `None`) because the demo is
//! served over plain HTTP on loopback, where browsers would drop `Secure` cookies on most hosts.

use crate::html::escape;
use crate::server::accept::{accept_loop, serve_local};
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Name of the native consent cookie the banner writes.
pub const CONSENT_COOKIE: &str = "consentry";

/// The categories the banner offers, in display order. `essential` is always on.
pub(crate) const CATEGORIES: &[&str] = &["essential", "functional", "analytics", "advertising"];

/// Response header, added by the proxy in demo mode, listing the names of the `Set-Cookie` lines
/// it removed (comma-separated). The page script reads it from a same-origin `fetch`.
pub const HEADER_BLOCKED: &str = "x-consentry-blocked";

/// Response header, added by the proxy in demo mode, listing the names of the cookies it expired
/// (cleanup of cookies the browser sent), comma-separated.
pub const HEADER_DELETED: &str = "x-consentry-deleted";

/// One cookie the demo site sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoCookie {
    /// The cookie name.
    pub name: &'static str,
    /// The category the seed vendor's policy puts it in, `None` for the unclassified one.
    pub category: Option<&'static str>,
    /// The full `Set-Cookie` field value. When [`parent_domain`](Self::parent_domain) is set the
    /// site appends `; Domain=<registrable domain of the request host>` (see [`cookie_domain`]).
    pub line: &'static str,
    /// Whether the site sets it on the parent (registrable) domain of the request host.
    pub parent_domain: bool,
}

impl DemoCookie {
    /// Whether the line carries `HttpOnly` (such cookies are invisible to `document.cookie`).
    pub fn http_only(&self) -> bool {
        self.line
            .split(';')
            .skip(1)
            .any(|attr| attr.trim().eq_ignore_ascii_case("httponly"))
    }

    /// The category name, or `"unclassified"`.
    pub(crate) fn category_label(&self) -> &'static str {
        self.category.unwrap_or("unclassified")
    }
}

const fn cookie(
    name: &'static str,
    category: Option<&'static str>,
    line: &'static str,
) -> DemoCookie {
    DemoCookie {
        name,
        category,
        line,
        parent_domain: false,
    }
}

/// The cookies every HTML page of the demo site sets, in the order of the `Set-Cookie` lines.
///
/// The values look real but are made up.
pub const DEMO_COOKIES: &[DemoCookie] = &[
    cookie(
        "_zendesk_session",
        Some("essential"),
        "_zendesk_session=BAh7CEkiD3Nlc3Npb25faWQGOgZFVEkiJWQ0YjZlMmE5ZjBjMTQ3OGE5YjNkNWU3ZjExMjIzMzQ0BjsAVA%3D%3D--3c5e1f0a9d8b7c6a5f4e3d2c1b0a998877665544; Path=/; HttpOnly; SameSite=Lax",
    ),
    cookie(
        "__cf_bm",
        Some("essential"),
        "__cf_bm=kZ3x9QvT1pL8mN2bW7cR5yH4jF6sD0gAeU2iOq4tYw8-1700000000-1.0.1.1-Yq8cV3nB5mX1zL7kJ9hG2fD4sA6pO0iU3yT5rE7wQ9aZ; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax",
    ),
    cookie(
        "ZD-settings",
        Some("functional"),
        "ZD-settings=%7B%22locale%22%3A%22en-US%22%2C%22hash%22%3A%228c1f2e7a%22%7D; Path=/; Max-Age=31536000; SameSite=Lax",
    ),
    cookie(
        "ZD-store",
        Some("functional"),
        "ZD-store=%7B%22widget%22%3A%7B%22open%22%3Afalse%2C%22lastSeen%22%3A1700000000%7D%7D; Path=/; Max-Age=31536000; SameSite=Lax",
    ),
    cookie(
        "_ga",
        Some("analytics"),
        "_ga=GA1.1.1234567890.1700000000; Path=/; Max-Age=63072000; SameSite=Lax",
    ),
    cookie(
        "_gid",
        Some("analytics"),
        "_gid=GA1.1.987654321.1700000000; Path=/; Max-Age=86400; SameSite=Lax",
    ),
    cookie(
        "_ga_ABC123XYZ",
        Some("analytics"),
        "_ga_ABC123XYZ=GS1.1.1700000000.1.1.1700000123.0.0.0; Path=/; Max-Age=63072000; SameSite=Lax",
    ),
    DemoCookie {
        name: "_zdshared_user_session_analytics",
        category: Some("analytics"),
        line: "_zdshared_user_session_analytics=7f3a9c1e-52b8-4d0f-9e6a-1b2c3d4e5f60; Path=/; Max-Age=7776000; SameSite=Lax",
        parent_domain: true,
    },
    cookie(
        "_fbp",
        Some("advertising"),
        "_fbp=fb.1.1700000000000.1234567890; Path=/; Max-Age=7776000; SameSite=Lax",
    ),
    cookie(
        "IDE",
        Some("advertising"),
        "IDE=AHWqTUmG3r0mJ8xQv2LkZp7NcYt5RbWs9EdFhUjKoIl1; Path=/; Max-Age=33696000; HttpOnly; SameSite=Lax",
    ),
    cookie(
        "_gcl_au",
        Some("advertising"),
        "_gcl_au=1.1.1234567890.1700000000; Path=/; Max-Age=7776000; SameSite=Lax",
    ),
    cookie(
        "_vendor_experiment",
        None,
        "_vendor_experiment=checkout-v2.variant-b; Path=/; Max-Age=2592000; SameSite=Lax",
    ),
];

/// The cookie the page script sets from JavaScript on every load (the analytics throttle cookie
/// of the seed vendor's tables), on the parent domain when there is one, like tag managers do.
/// The site never sends it in a `Set-Cookie`; its `line` is what the script writes, before the
/// optional `Domain`.
pub const SCRIPT_COOKIE: DemoCookie = DemoCookie {
    name: "_gat",
    category: Some("analytics"),
    line: "_gat=1; Path=/; Max-Age=86400; SameSite=Lax",
    parent_domain: true,
};

/// Options of the demo site.
#[derive(Debug, Clone, Default)]
pub struct SiteOptions {
    /// Base URL of the proxy's admin listener (e.g. `http://127.0.0.1:9090`), linked from the
    /// page for the status page and metrics. Empty hides the links.
    pub admin_url: String,
    /// Port of the vendor stand-ins' origin, which the pages address as `http://localhost:PORT`
    /// (see [`super::launch`]).
    pub vendor_port: u16,
}

/// The domain the site sets parent-domain cookies on for a request `Host`: the registrable
/// domain (public suffix list) of a host name with a dot, e.g. `demo.localtest.me:8080` →
/// `localtest.me`. `None` for IP addresses, single-label names such as `localhost`, public
/// suffixes themselves and anything that is not a plain DNS name.
pub(crate) fn cookie_domain(host: &str) -> Option<String> {
    let host = strip_port(host.trim()).trim_end_matches('.');
    if host.is_empty() || host.parse::<IpAddr>().is_ok() || !host.contains('.') {
        return None;
    }
    let host = host.to_ascii_lowercase();
    let valid = host
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !valid {
        return None;
    }
    psl::domain_str(&host).map(str::to_owned)
}

/// The host part of a `Host` value (`name:port`, `[v6]:port`, `name`).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(ip, _)| ip);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// The `Set-Cookie` field values of an HTML page for a request `Host` (`None` when unknown), in
/// the order of [`DEMO_COOKIES`].
pub(crate) fn set_cookie_lines(host: Option<&str>) -> Vec<String> {
    let domain = host.and_then(cookie_domain);
    DEMO_COOKIES
        .iter()
        .map(|c| match (&domain, c.parent_domain) {
            (Some(d), true) => format!("{}; Domain={d}", c.line),
            _ => c.line.to_owned(),
        })
        .collect()
}

const PAGE_HTML: &str = include_str!("assets/page.html");
const HOME_HTML: &str = include_str!("assets/home.html");
const PRODUCT_HTML: &str = include_str!("assets/product.html");
const NOT_FOUND_HTML: &str = include_str!("assets/not_found.html");
const APP_CSS: &str = include_str!("assets/app.css");
const APP_JS: &str = include_str!("assets/app.js");
const ICON_SVG: &str = include_str!("assets/icon.svg");

/// FNV-1a, for compile-time asset versions (cache busting and `ETag`).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const APP_CSS_VERSION: u64 = fnv1a(APP_CSS.as_bytes());
const APP_JS_VERSION: u64 = fnv1a(APP_JS.as_bytes());
const ICON_VERSION: u64 = fnv1a(ICON_SVG.as_bytes());

const HTML: &str = "text/html; charset=utf-8";
/// The policy of error pages.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The vendors' published snippets, as the shop pages carry them in `<head>`, pointing at the
/// vendor stand-ins' `{{origin}}`: the GA4 gtag snippet, then the Meta Pixel loader with its
/// `<noscript>` pixel.
const GTAG_LOADER: &str = "<script async src=\"{{origin}}/gtag/js?id=G-DEMO\"></script>";
const GTAG_INLINE: &str = "
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());

  gtag('config', 'G-DEMO');
";
const META_PIXEL_INLINE: &str = "
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'{{origin}}/fbevents.js');
fbq('init', 'DEMO');
fbq('track', 'PageView');
";
const META_PIXEL_NOSCRIPT: &str = "<noscript><img height=\"1\" width=\"1\" alt=\"\" \
     src=\"{{origin}}/tr?id=DEMO&amp;ev=PageView&amp;noscript=1\"></noscript>";

/// The vendor snippets for `origin` and the texts of their inline scripts (for the CSP hashes).
fn vendor_tags(origin: &str) -> (String, [String; 2]) {
    let inline = [
        GTAG_INLINE.replace("{{origin}}", origin),
        META_PIXEL_INLINE.replace("{{origin}}", origin),
    ];
    let html = format!(
        "<!-- Google tag (gtag.js) -->\n{}\n<script>{}</script>\n\
         <!-- Meta Pixel Code -->\n<script>{}</script>\n{}\n<!-- End Meta Pixel Code -->",
        GTAG_LOADER.replace("{{origin}}", origin),
        inline[0],
        inline[1],
        META_PIXEL_NOSCRIPT.replace("{{origin}}", origin),
    );
    (html, inline)
}

/// The policy of the shop pages: scripts, images and beacons of the vendor origin, and the
/// vendor snippets' inline scripts by hash.
fn page_csp(vendor: &str, inline: &[String]) -> String {
    use base64::Engine as _;
    let hashes: String = inline
        .iter()
        .map(|text| {
            let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
            )
        })
        .collect();
    format!(
        "default-src 'self'; img-src 'self' data: {vendor}; style-src 'self'; \
         script-src 'self' {vendor}{hashes}; connect-src 'self' {vendor}; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Handles one request of the demo site. Pure: it reads only the request head, never the body.
///
/// Routes: `/` (also `/index.html`) and `/product` (HTML pages that set [`DEMO_COOKIES`]),
/// `/assets/app.css`, `/assets/app.js` and `/assets/icon.svg` (cacheable, with `ETag`),
/// `/favicon.ico` (204), and a 404 page for anything else. `HEAD` is answered like `GET`
/// without a body; other methods get 405.
pub(crate) fn respond<B>(req: &Request<B>, opts: &SiteOptions) -> Response<Full<Bytes>> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut res = html(StatusCode::METHOD_NOT_ALLOWED, render_error(405), head);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let path = req.uri().path();
    match path {
        "/" | "/index.html" | "/product" => {
            let host = request_host(req);
            let main = if path == "/product" {
                Page::Product
            } else {
                Page::Home
            };
            let vendor = super::launch::vendor_origin(opts.vendor_port);
            let (tags, inline) = vendor_tags(&vendor);
            let body = render_page(main, host.as_deref(), opts, &vendor, &tags);
            let mut res = html(StatusCode::OK, body, head);
            if let Ok(v) = HeaderValue::from_str(&page_csp(&vendor, &inline)) {
                res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            for line in set_cookie_lines(host.as_deref()) {
                if let Ok(v) = HeaderValue::from_str(&line) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            res
        }
        "/assets/app.css" => asset(req, "text/css; charset=utf-8", APP_CSS, APP_CSS_VERSION),
        "/assets/app.js" => asset(
            req,
            "text/javascript; charset=utf-8",
            APP_JS,
            APP_JS_VERSION,
        ),
        "/assets/icon.svg" => asset(req, "image/svg+xml", ICON_SVG, ICON_VERSION),
        "/favicon.ico" => {
            let mut res = empty(StatusCode::NO_CONTENT);
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            res
        }
        _ => html(StatusCode::NOT_FOUND, render_error(404), head),
    }
}

/// The request host: the URI authority (HTTP/2, absolute-form) or the `Host` header.
fn request_host<B>(req: &Request<B>) -> Option<String> {
    if let Some(a) = req.uri().authority() {
        return Some(a.as_str().to_owned());
    }
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Home,
    Product,
}

fn render_page(
    page: Page,
    host: Option<&str>,
    opts: &SiteOptions,
    vendor: &str,
    vendor_tags: &str,
) -> String {
    let (title, main) = match page {
        Page::Home => ("Helpdesk Supply: gear for support teams", HOME_HTML),
        Page::Product => ("Halo Pro headset · Helpdesk Supply", PRODUCT_HTML),
    };
    let cookie_domain = host.and_then(cookie_domain).unwrap_or_default();
    let nav = |p: Page| {
        if p == page {
            " aria-current=\"page\""
        } else {
            ""
        }
    };
    let server_cookies = DEMO_COOKIES.len().to_string();
    PAGE_HTML
        .replace("{{main}}", main)
        .replace("{{title}}", &escape(title))
        .replace("{{nav_home}}", nav(Page::Home))
        .replace("{{nav_product}}", nav(Page::Product))
        .replace(
            "{{admin_url}}",
            &escape(opts.admin_url.trim_end_matches('/')),
        )
        .replace("{{cookie_domain}}", &escape(&cookie_domain))
        .replace("{{vendor_origin}}", &escape(vendor))
        .replace("{{vendor_tags}}", vendor_tags)
        .replace("{{script_cookie}}", &escape(SCRIPT_COOKIE.line))
        .replace("{{cookie_rows}}", &cookie_rows())
        .replace("{{server_cookie_count}}", &server_cookies)
        .replace(
            "{{css}}",
            &format!("/assets/app.css?v={APP_CSS_VERSION:016x}"),
        )
        .replace("{{js}}", &format!("/assets/app.js?v={APP_JS_VERSION:016x}"))
        .replace(
            "{{icon}}",
            &format!("/assets/icon.svg?v={ICON_VERSION:016x}"),
        )
}

/// The rows of the cookie table: every server cookie, then the script cookie.
fn cookie_rows() -> String {
    let mut rows = String::new();
    let all = DEMO_COOKIES
        .iter()
        .map(|c| (c, "server"))
        .chain(std::iter::once((&SCRIPT_COOKIE, "script")));
    for (c, source) in all {
        let name = escape(c.name);
        let cat = c.category_label();
        let source_label = if source == "server" {
            if c.http_only() {
                "Set-Cookie, HttpOnly"
            } else if c.parent_domain {
                "Set-Cookie, parent domain"
            } else {
                "Set-Cookie"
            }
        } else {
            "page script"
        };
        rows.push_str(&format!(
            "<tr data-cookie=\"{name}\" data-category=\"{cat}\" data-source=\"{source}\" \
             data-httponly=\"{http_only}\"><td><code>{name}</code></td>\
             <td><span class=\"tag tag-{cat}\">{cat}</span></td><td>{source_label}</td>\
             <td class=\"status\"><span class=\"state state-pending\">checking…</span></td></tr>\n",
            http_only = c.http_only(),
        ));
    }
    rows
}

fn render_error(status: u16) -> String {
    let (title, text) = match status {
        404 => ("Page not found", "There is nothing at this address."),
        _ => ("Method not allowed", "This site only answers GET and HEAD."),
    };
    NOT_FOUND_HTML
        .replace("{{title}}", title)
        .replace("{{text}}", text)
        .replace(
            "{{css}}",
            &format!("/assets/app.css?v={APP_CSS_VERSION:016x}"),
        )
        .replace(
            "{{icon}}",
            &format!("/assets/icon.svg?v={ICON_VERSION:016x}"),
        )
}

fn html(status: StatusCode, body: String, head: bool) -> Response<Full<Bytes>> {
    let mut res = with_body(status, Bytes::from(body), head);
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

fn asset<B>(
    req: &Request<B>,
    content_type: &'static str,
    body: &'static str,
    version: u64,
) -> Response<Full<Bytes>> {
    let etag = format!("\"{version:016x}\"");
    let fresh = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    let mut res = if fresh {
        empty(StatusCode::NOT_MODIFIED)
    } else {
        let mut res = with_body(
            StatusCode::OK,
            Bytes::from_static(body.as_bytes()),
            req.method() == Method::HEAD,
        );
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        res
    };
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// A response with `body`, or with its `Content-Length` and no body for `HEAD`.
fn with_body(status: StatusCode, body: Bytes, head: bool) -> Response<Full<Bytes>> {
    let len = body.len();
    let mut res = Response::new(if head {
        Full::default()
    } else {
        Full::new(body)
    });
    *res.status_mut() = status;
    common_headers(res.headers_mut());
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = status;
    common_headers(res.headers_mut());
    res
}

fn common_headers(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("x-powered-by"),
        HeaderValue::from_static("helpdesk-supply-demo"),
    );
}

/// Serves the demo site on an already-bound listener until `shutdown` is cancelled.
///
/// HTTP/1.1, one task per connection, with a header read timeout. When `shutdown` is cancelled
/// it stops accepting, asks open connections to close after their current request, waits for
/// them for a few seconds at most, and returns. Accept errors (such as running out of file
/// descriptors) are logged and retried after a short pause, so this returns `Ok(())` on shutdown.
pub async fn serve(
    listener: TcpListener,
    opts: Arc<SiteOptions>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let tracker = TaskTracker::new();
    let stop = shutdown.clone();
    accept_loop(listener, None, stop, tracker.clone(), |stream, _| {
        let opts = Arc::clone(&opts);
        Some(serve_local(
            stream,
            HEADER_READ_TIMEOUT,
            shutdown.clone(),
            move |req| respond(req, &opts),
        ))
    })
    .await;
    tracker.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        tracing::debug!("demo site: connections still open after the drain timeout");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
