//! Tests of the demo site.
use super::*;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

fn opts() -> SiteOptions {
    SiteOptions {
        admin_url: "http://127.0.0.1:9090".to_owned(),
        vendor_port: 4711,
    }
}

fn get(path: &str, host: &str) -> Response<Full<Bytes>> {
    let req = Request::get(path).header("host", host).body(()).unwrap();
    respond(&req, &opts())
}

async fn body(res: Response<Full<Bytes>>) -> String {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn hv<'a>(res: &'a Response<Full<Bytes>>, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn set_cookies(res: &Response<Full<Bytes>>) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn cookie_table_is_consistent() {
    let mut names: Vec<_> = DEMO_COOKIES.iter().map(|c| c.name).collect();
    names.push(SCRIPT_COOKIE.name);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate names");
    for c in DEMO_COOKIES.iter().chain([&SCRIPT_COOKIE]) {
        assert!(
            c.line.starts_with(&format!("{}=", c.name)),
            "{} line starts with its name",
            c.name
        );
        assert!(!c.line.contains("Domain="), "{}: Domain is added", c.name);
        assert!(!c.line.contains("Secure"), "{}: plain HTTP demo", c.name);
        assert!(c.line.contains("Path=/"), "{}", c.name);
        if let Some(cat) = c.category {
            assert!(CATEGORIES.contains(&cat), "{}: {cat}", c.name);
        }
        HeaderValue::from_str(c.line).unwrap();
    }
    for cat in CATEGORIES {
        assert!(
            DEMO_COOKIES.iter().any(|c| c.category == Some(cat)),
            "no {cat} cookie"
        );
    }
    assert_eq!(
        DEMO_COOKIES.iter().filter(|c| c.category.is_none()).count(),
        1
    );
    assert_eq!(DEMO_COOKIES.iter().filter(|c| c.parent_domain).count(), 1);
    let http_only: Vec<_> = DEMO_COOKIES
        .iter()
        .filter(|c| c.http_only())
        .map(|c| c.name)
        .collect();
    assert_eq!(http_only, ["_zendesk_session", "__cf_bm", "IDE"]);
}

#[test]
fn cookie_domain_rules() {
    assert_eq!(
        cookie_domain("demo.localtest.me").as_deref(),
        Some("localtest.me")
    );
    assert_eq!(
        cookie_domain("demo.localtest.me:8080").as_deref(),
        Some("localtest.me")
    );
    assert_eq!(
        cookie_domain("Demo.LocalTest.ME.").as_deref(),
        Some("localtest.me")
    );
    assert_eq!(
        cookie_domain("shop.example.co.uk").as_deref(),
        Some("example.co.uk")
    );
    assert_eq!(
        cookie_domain("a.b.shop.example.co.uk:443").as_deref(),
        Some("example.co.uk")
    );
    assert_eq!(cookie_domain("127.0.0.1"), None);
    assert_eq!(cookie_domain("127.0.0.1:8080"), None);
    assert_eq!(cookie_domain("localhost"), None);
    assert_eq!(cookie_domain("localhost:8080"), None);
    assert_eq!(cookie_domain("[::1]:8080"), None);
    assert_eq!(cookie_domain("::1"), None);
    assert_eq!(cookie_domain("co.uk"), None);
    assert_eq!(cookie_domain(""), None);
    assert_eq!(cookie_domain("evil.example.com;x=y"), None);
    assert_eq!(cookie_domain("a..example.com"), None);
}

#[test]
fn parent_domain_attribute_follows_host() {
    let with_domain = |host: &str| {
        let res = get("/", host);
        set_cookies(&res)
            .into_iter()
            .filter(|l| l.contains("Domain="))
            .collect::<Vec<_>>()
    };
    let lines = with_domain("demo.localtest.me:8080");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("_zdshared_user_session_analytics="));
    assert!(lines[0].ends_with("; Domain=localtest.me"));
    let lines = with_domain("shop.example.co.uk");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].ends_with("; Domain=example.co.uk"));
    assert!(with_domain("127.0.0.1:8080").is_empty());
    assert!(with_domain("localhost:8080").is_empty());
    assert!(with_domain("localhost").is_empty());

    // With no Host at all the cookies are still set, host-only.
    let req = Request::get("/").body(()).unwrap();
    let res = respond(&req, &opts());
    assert_eq!(set_cookies(&res).len(), DEMO_COOKIES.len());
    assert!(set_cookies(&res).iter().all(|l| !l.contains("Domain=")));
}

#[tokio::test]
async fn pages_set_every_demo_cookie() {
    for path in ["/", "/product", "/?utm_source=demo"] {
        let res = get(path, "127.0.0.1:8080");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(hv(&res, "content-type"), "text/html; charset=utf-8");
        assert_eq!(hv(&res, "cache-control"), "no-store");
        let lines = set_cookies(&res);
        let expected: Vec<_> = DEMO_COOKIES.iter().map(|c| c.line.to_owned()).collect();
        assert_eq!(lines, expected, "{path}");
        let len: usize = hv(&res, "content-length").parse().unwrap();
        let text = body(res).await;
        assert_eq!(len, text.len());
        assert!(text.starts_with("<!doctype html>"));
        assert!(!text.contains("{{"), "unfilled placeholder in {path}");
    }
}

#[tokio::test]
async fn page_has_banner_panel_and_admin_meta() {
    let text = body(get("/", "demo.localtest.me:8080")).await;
    assert!(text.contains(r#"<meta name="consentry-admin" content="http://127.0.0.1:9090">"#));
    assert!(text.contains(r#"<meta name="consentry-cookie-domain" content="localtest.me">"#));
    assert!(text.contains(r#"<meta name="consentry-script-cookie" content="_gat=1;"#));
    assert!(text.contains(r#"id="cookie-banner""#));
    assert!(text.contains(r#"data-consent="all""#));
    assert!(text.contains(r#"data-consent="none""#));
    assert!(text.contains(r#"id="banner-choose""#));
    for cat in &CATEGORIES[1..] {
        assert!(
            text.contains(&format!(r#"name="category" value="{cat}""#)),
            "{cat} checkbox"
        );
    }
    assert!(text.contains(r#"id="open-settings""#));
    for c in DEMO_COOKIES.iter().chain([&SCRIPT_COOKIE]) {
        assert!(
            text.contains(&format!(r#"data-cookie="{}""#, c.name)),
            "{} row",
            c.name
        );
    }
    assert!(text.contains(r#"id="blocked-list""#));
    assert!(text.contains(r#"id="deleted-list""#));
    assert!(text.contains(r#"id="browser-cookies""#));
    assert!(text.contains("/assets/app.js?v="));
    assert!(text.contains("/assets/app.css?v="));

    assert!(text.contains(r#"id="guard-list""#));
    assert!(text.contains(r#"id="vendor-hits""#));

    // No external resources besides the vendor stand-ins' loopback origin: every src/href is
    // local, a fragment, or on that origin.
    for attr in ["src=\"", "href=\""] {
        for part in text.split(attr).skip(1) {
            let url = part.split('"').next().unwrap();
            assert!(
                url.starts_with('/')
                    || url.starts_with('#')
                    || url.is_empty()
                    || url.starts_with("http://localhost:4711/"),
                "external {attr}{url}"
            );
        }
    }
}

#[tokio::test]
async fn admin_url_is_escaped_and_optional() {
    let req = Request::get("/").body(()).unwrap();
    let res = respond(
        &req,
        &SiteOptions {
            admin_url: "http://x/\"><script>".to_owned(),
            ..SiteOptions::default()
        },
    );
    let text = body(res).await;
    assert!(text.contains(r#"content="http://x/&quot;&gt;&lt;script&gt;""#));
    let res = respond(&req, &SiteOptions::default());
    assert!(body(res)
        .await
        .contains(r#"<meta name="consentry-admin" content="">"#));
}

#[tokio::test]
async fn product_page_differs_from_home() {
    let home = body(get("/", "localhost")).await;
    let product = body(get("/product", "localhost")).await;
    assert!(product.contains("Halo Pro"));
    assert!(product.contains(r#"href="/product" aria-current="page""#));
    assert!(home.contains(r#"href="/" aria-current="page""#));
    assert_ne!(home, product);
}

#[tokio::test]
async fn assets_have_types_and_are_cacheable() {
    for (path, ty, content) in [
        ("/assets/app.css", "text/css; charset=utf-8", APP_CSS),
        ("/assets/app.js", "text/javascript; charset=utf-8", APP_JS),
        ("/assets/icon.svg", "image/svg+xml", ICON_SVG),
    ] {
        let res = get(path, "localhost");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(hv(&res, "content-type"), ty);
        assert!(hv(&res, "cache-control").starts_with("public, max-age="));
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let etag = hv(&res, "etag").to_owned();
        assert_eq!(body(res).await, content);

        let req = Request::get(path)
            .header("if-none-match", &etag)
            .body(())
            .unwrap();
        let res = respond(&req, &opts());
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(body(res).await.is_empty());
    }
}

#[tokio::test]
async fn favicon_and_unknown_paths() {
    let res = get("/favicon.ico", "localhost");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(body(res).await.is_empty());

    for path in ["/nope", "/assets/", "/assets/other.js", "/product/"] {
        let res = get(path, "localhost");
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(hv(&res, "content-type"), "text/html; charset=utf-8");
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let text = body(res).await;
        assert!(text.contains("Page not found"));
        assert!(!text.contains("{{"));
    }
}

#[tokio::test]
async fn head_is_get_without_body() {
    for path in ["/", "/product", "/assets/app.js", "/nope"] {
        let get_res = get(path, "demo.localtest.me");
        let req = Request::head(path)
            .header("host", "demo.localtest.me")
            .body(())
            .unwrap();
        let head_res = respond(&req, &opts());
        assert_eq!(head_res.status(), get_res.status(), "{path}");
        assert_eq!(
            hv(&head_res, "content-length"),
            hv(&get_res, "content-length")
        );
        assert_eq!(hv(&head_res, "content-type"), hv(&get_res, "content-type"));
        assert_eq!(set_cookies(&head_res), set_cookies(&get_res));
        assert!(body(head_res).await.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn other_methods_are_not_allowed() {
    let req = Request::post("/").body(()).unwrap();
    let res = respond(&req, &opts());
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(hv(&res, "allow"), "GET, HEAD");
    assert!(res.headers().get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn serves_over_tcp_and_shuts_down() {
    use hyper::client::conn::http1 as client;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, Arc::new(opts()), shutdown.clone()));

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = client::handshake(TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    let req = Request::get("/product")
        .header("host", format!("demo.localtest.me:{}", addr.port()))
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let lines: Vec<_> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        lines,
        set_cookie_lines(Some(&format!("demo.localtest.me:{}", addr.port())))
    );
    assert!(lines.iter().any(|l| l.ends_with("; Domain=localtest.me")));
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert!(std::str::from_utf8(&text).unwrap().contains("Halo Pro"));

    // The kept-alive connection is closed by the shutdown, and serve returns.
    shutdown.cancel();
    let done = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns after shutdown")
        .unwrap();
    assert!(done.is_ok());
    tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .expect("client connection closed")
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn pages_carry_the_vendor_snippets_and_a_csp_that_allows_them() {
    let res = get("/", "127.0.0.1:8080");
    let csp = hv(&res, "content-security-policy").to_owned();
    let text = body(res).await;
    let vendor = "http://localhost:4711";
    assert!(text.contains(&format!(
        r#"<script async src="{vendor}/gtag/js?id=G-DEMO"></script>"#
    )));
    assert!(text.contains("gtag('config', 'G-DEMO');"));
    assert!(text.contains(&format!("'{vendor}/fbevents.js');")));
    assert!(text.contains(&format!(
        r#"<noscript><img height="1" width="1" alt="" src="{vendor}/tr?id=DEMO"#
    )));
    assert!(text.contains(&format!(
        r#"<meta name="consentry-vendor" content="{vendor}">"#
    )));
    assert!(!text.contains("{{"), "every placeholder is filled");
    let directive = |name: &str| -> Vec<String> {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {csp}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    let scripts = directive("script-src");
    assert!(scripts.contains(&"'self'".to_owned()), "{csp}");
    assert!(scripts.contains(&vendor.to_owned()), "{csp}");
    assert!(!scripts.iter().any(|s| s == "'unsafe-inline'"), "{csp}");
    // Every inline script of the page is allowed by its hash, and nothing else inline.
    use base64::Engine as _;
    let mut inline = 0;
    for part in text.split("<script>").skip(1) {
        let code = &part[..part.find("</script>").unwrap()];
        let digest = ring::digest::digest(&ring::digest::SHA256, code.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        assert!(scripts.contains(&format!("'sha256-{hash}'")), "{code}");
        inline += 1;
    }
    assert_eq!(inline, 2);
    assert_eq!(scripts.len(), 2 + inline, "{csp}");
    assert!(directive("img-src").contains(&vendor.to_owned()));
    assert_eq!(directive("connect-src"), ["'self'", vendor]);
    // Error pages keep the strict policy.
    let res = get("/nope", "127.0.0.1:8080");
    assert_eq!(hv(&res, "content-security-policy"), CSP);
}
