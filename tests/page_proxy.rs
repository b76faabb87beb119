//! The page guard through the proxy: HTML pages rewritten on the wire in every content coding,
//! over HTTP/1.1 and HTTP/2, with the client guard's prelude and answers; everything else passes
//! as it came.

mod common;

use std::io::{Read, Write};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A page with the vendors' published snippet shapes (GA4 gtag, Meta Pixel and its noscript
/// image), a first-party script and JSON-LD.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST123"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());gtag('config','G-TEST123');</script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','123');fbq('track','PageView');</script>
<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id=123&ev=PageView&noscript=1"/></noscript>
<script src="/static/app.js"></script>
<script type="application/ld+json">{"@type":"Product","url":"https://connect.facebook.net/x"}</script>
</head><body><h1>Shop</h1></body></html>
"#;

fn page_config(up: std::net::SocketAddr, consent_extra: &str) -> String {
    config_text(up, consent_extra)
        .replace(
            "cookies = [\"_ga\", \"_ga_*\", \"_gid\"]",
            "cookies = [\"_ga\", \"_ga_*\", \"_gid\"]\nscripts = [\"googletagmanager.com/gtag/js?id=G-*\", \"google-analytics.com\"]",
        )
        .replace(
            "cookies = [\"_fbp\", \"IDE\", \"_gcl_*\"]",
            "cookies = [\"_fbp\", \"IDE\", \"_gcl_*\"]\nscripts = [\"connect.facebook.net\", \"facebook.com/tr\"]",
        )
}

fn encode(coding: &str, data: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(data).unwrap();
            }
            out
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        _ => data.to_vec(),
    }
}

fn decode(coding: &str, data: &[u8]) -> String {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(data).unwrap(),
        _ => out = data.to_vec(),
    }
    String::from_utf8(out).unwrap()
}

/// An upstream serving PAGE at `/<coding>.html` in that coding, and a plain-text file.
async fn site() -> std::net::SocketAddr {
    upstream(|req: Request<hyper::body::Incoming>| async move {
        let path = req.uri().path().to_string();
        if path == "/data.txt" {
            return Response::builder()
                .header("content-type", "text/plain")
                .header("etag", "\"abc\"")
                .body(full(PAGE))
                .unwrap();
        }
        let coding = path.trim_start_matches('/').trim_end_matches(".html");
        let mut r = Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .header("etag", "\"strong\"")
            .header("cache-control", "public, max-age=60");
        let coding = if coding == "csp" { "identity" } else { coding };
        if coding != "identity" {
            r = r.header("content-encoding", coding);
        }
        if path == "/csp.html" {
            r = r.header(
                "content-security-policy",
                "script-src 'nonce-r4nd0m' 'strict-dynamic'; object-src 'none'",
            );
        }
        r.body(full(encode(coding, PAGE.as_bytes()))).unwrap()
    })
    .await
}

fn assert_neutralised(html: &str) {
    // The gtag loader is neutralised in its own tag, not merely mentioned somewhere.
    let at = html
        .find("https://www.googletagmanager.com/gtag/js")
        .unwrap();
    let open = html[..at].rfind("<script").unwrap();
    let tag = &html[open..open + html[open..].find('>').unwrap()];
    assert!(tag.contains(r#"type="text/plain""#), "{tag}");
    assert!(
        tag.contains(r#"data-consentry-category="analytics""#),
        "{tag}"
    );
    // The Meta loader (inline) and its noscript pixel are held back.
    assert!(
        html.contains(r#"data-consentry-category="advertising""#),
        "{html}"
    );
    assert!(
        html.contains("data-consentry-src=\"https://www.facebook.com/tr"),
        "{html}"
    );
    assert!(
        !html.contains(" src=\"https://www.facebook.com/tr"),
        "{html}"
    );
    // First-party script and JSON-LD untouched.
    assert!(
        html.contains(r#"<script src="/static/app.js"></script>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<script type="application/ld+json">{"@type""#),
        "{html}"
    );
    // The client guard comes first in <head>.
    let head = html.find("<head>").unwrap();
    let guard = html.find("consentry-guard-data").expect("guard data");
    let first_script = html.find("googletagmanager").unwrap();
    assert!(head < guard && guard < first_script, "{html}");
}

#[tokio::test]
async fn pages_are_rewritten_in_every_coding() {
    let up = site().await;
    let p = proxy_with(&page_config(up, ""), Default::default()).await;
    for coding in ["identity", "gzip", "deflate", "br", "zstd"] {
        let r = get(&client(), p.http.unwrap(), &format!("/{coding}.html"), None).await;
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        assert!(!h.contains_key("content-length"), "{coding}");
        assert!(!h.contains_key("etag"), "{coding}");
        assert_eq!(h["cache-control"], "max-age=60, private", "{coding}");
        if coding != "identity" {
            assert_eq!(h["content-encoding"], coding);
        }
        let body = body_bytes(r).await;
        assert_neutralised(&decode(coding, &body));
    }
    let (_, m) = admin_get(&client(), p.admin.unwrap(), "/metrics").await;
    assert!(
        metric(
            &m,
            "consentry_page_elements_blocked_total{category=\"advertising\",element=\"img\",rule=\"facebook.com/tr\"}"
        ) >= 5.0,
        "{m}"
    );
    let (_, status) = admin_get(&client(), p.admin.unwrap(), "/").await;
    assert!(
        status.contains("Page elements held back per category"),
        "{status}"
    );
    assert!(status.contains("facebook.com/tr"), "{status}");
    p.drain().await;
}

#[tokio::test]
async fn what_has_nothing_to_change_passes_as_it_came() {
    let up = site().await;
    let p = proxy_with(&page_config(up, ""), Default::default()).await;
    // Not HTML: byte-identical, with its length and validator.
    let r = get(&client(), p.http.unwrap(), "/data.txt", None).await;
    assert_eq!(r.headers()["etag"], "\"abc\"");
    assert!(r.headers().contains_key("content-length"));
    assert_eq!(body_bytes(r).await, PAGE);
    // Every category granted: the page's bytes are unchanged.
    let r = get(
        &client(),
        p.http.unwrap(),
        "/gzip.html",
        Some("consentry=all"),
    )
    .await;
    let body = body_bytes(r).await;
    assert_eq!(decode("gzip", &body), PAGE);
    // HEAD: no body to rewrite.
    let r = client()
        .request(
            Request::head(format!("http://{}/identity.html", p.http.unwrap()))
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    p.drain().await;

    // `rewrite = false` and report-only: the page passes unchanged.
    for extra in ["", "mode = \"report-only\""] {
        let mut text = page_config(up, extra);
        if extra.is_empty() {
            text.push_str("\n[page]\nrewrite = false\n");
        }
        let p = proxy_with(&text, Default::default()).await;
        let r = get(&client(), p.http.unwrap(), "/identity.html", None).await;
        assert_eq!(r.headers()["etag"], "\"strong\"", "{extra}");
        assert_eq!(body_bytes(r).await, PAGE, "{extra}");
        let (_, m) = admin_get(&client(), p.admin.unwrap(), "/metrics").await;
        let counted = metric(
            &m,
            "consentry_page_elements_blocked_total{category=\"advertising\",element=\"img\",rule=\"facebook.com/tr\"}",
        );
        assert_eq!(counted, if extra.is_empty() { 0.0 } else { 1.0 }, "{extra}");
        p.drain().await;
    }
}

#[tokio::test]
async fn http2_clients_get_the_rewritten_page_and_the_guard_answers() {
    let up = site().await;
    let p = proxy_with(&page_config(up, ""), Default::default()).await;
    let tcp = tokio::net::TcpStream::connect(p.http.unwrap())
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("http://shop.test/br.html")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let r = send.send_request(req).await.unwrap();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    assert_neutralised(&decode("br", &body));

    // The consent endpoint answers from the request's cookies, never from the upstream.
    let r = get(
        &client(),
        p.http.unwrap(),
        "/.consentry/consent",
        Some("consentry=analytics"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
    let allowed: Vec<String> = serde_json::from_value(v["a"].clone()).unwrap();
    assert!(allowed.contains(&"analytics".to_string()), "{v}");
    assert!(!allowed.contains(&"advertising".to_string()), "{v}");
    let path = consentry::page::guard::guard_path();
    let r = get(&client(), p.http.unwrap(), path, None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(body_bytes(r).await, consentry::page::guard::GUARD_JS);
    p.drain().await;
}

#[tokio::test]
async fn a_nonce_csp_is_reused_not_weakened() {
    let up = site().await;
    let p = proxy_with(&page_config(up, ""), Default::default()).await;
    let r = get(&client(), p.http.unwrap(), "/csp.html", None).await;
    assert_eq!(
        r.headers()["content-security-policy"],
        "script-src 'nonce-r4nd0m' 'strict-dynamic'; object-src 'none'"
    );
    let html = String::from_utf8(body_bytes(r).await.to_vec()).unwrap();
    let guard_at = html.find("consentry-guard-data").unwrap();
    let tag_start = html[..guard_at].rfind("<script").unwrap();
    let rest = &html[tag_start..];
    assert!(rest.contains("nonce=\"r4nd0m\""), "{html}");
    p.drain().await;
}
