//! Cookie values never appear in logs (at any level, trace included), metrics, error pages or
//! admin endpoints.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use http::{Request, Response};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

const SECRETS: &[&str] = &[
    "SECRETsession7731",
    "SECRETga9921",
    "SECRETfbp4410",
    "SECRETconsent",
    "SECRETunknown5150",
    "SECRETreq8080",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_values_never_leak() {
    // One process-wide subscriber (proxy tasks run on every worker thread) with a text layer and
    // a JSON layer, both at TRACE, writing into the same capture.
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let capture = Capture::default();
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(capture.clone())
                .with_ansi(false),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(capture.clone()),
        )
        .init();
    run_traffic().await;
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(
        logs.len() > 1000,
        "expected trace output, got {} bytes",
        logs.len()
    );
    assert!(
        logs.contains("TRACE") || logs.contains("\"level\":\"TRACE\""),
        "trace level was not captured"
    );
    for s in SECRETS {
        assert!(!logs.contains(s), "cookie value {s} appears in the logs");
    }
}

async fn run_traffic() {
    let up = upstream(|req| async move {
        if req.uri().path() == "/boom" {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        }
        Response::builder()
            .header("set-cookie", "_zendesk_session=SECRETsession7731; Path=/")
            .header("set-cookie", "_ga=SECRETga9921; Path=/")
            .header("set-cookie", "_fbp=SECRETfbp4410; Path=/")
            .header("set-cookie", "weird_name=SECRETunknown5150")
            .body(full("page"))
            .unwrap()
    })
    .await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    let cookie = "consentry=analytics; _fbp=SECRETreq8080; _zendesk_session=SECRETreq8080; odd=SECRETconsent";
    for path in ["/", "/boom"] {
        let req = Request::get(format!("http://{addr}{path}"))
            .header("cookie", cookie)
            .header("sec-gpc", "1")
            .body(full(""))
            .unwrap();
        let r = c.request(req).await.unwrap();
        let status = r.status();
        let body = body_bytes(r).await;
        if status != 200 {
            for s in SECRETS {
                assert!(
                    !String::from_utf8_lossy(&body).contains(s),
                    "error page leaks {s}"
                );
            }
        }
    }
    // A malformed consent cookie too.
    get(&c, addr, "/", Some("consentry=SECRETconsent{}")).await;
    for path in ["/metrics", "/healthz", "/readyz", "/"] {
        let (_, text) = admin_get(&c, p.admin.unwrap(), path).await;
        for s in SECRETS {
            assert!(!text.contains(s), "admin {path} leaks {s}");
        }
    }
    p.drain().await;
}
