//! The page guard: rewrite throughput on a realistic ~100 KB page with tags (per core: one
//! thread), and the script-URL matcher at 20 and at 2,000 patterns.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use consentry::page::body::{Coding, RewriteBody};
use consentry::page::rewrite::rewrite_page;
use consentry::page::{IgnorePage, PageConfig, PagePlan, Prelude};
use consentry::policy::categories::{Categories, CategoryId};
use consentry::policy::consent::{ConsentPolicy, SourceKind, SourceSpec, Undecided};
use consentry::policy::rules::Matcher;
use consentry::policy::scripts::ScriptMatcher;
use consentry::policy::{CleanupOptions, Mode, Policy, PolicyParts, Unclassified};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http_body::{Body, Frame};

mod page_html;
use page_html::page;

const REAL: &[(&str, u8)] = &[
    ("google-analytics.com", 2),
    ("googletagmanager.com", 2),
    ("googletagmanager.com/gtag/js?id=G-*", 2),
    ("googletagmanager.com/gtag/js?id=AW-*", 3),
    ("hotjar.com", 2),
    ("clarity.ms", 2),
    ("connect.facebook.net", 3),
    ("facebook.com/tr", 3),
    ("snap.licdn.com", 3),
    ("px.ads.linkedin.com", 3),
    ("analytics.tiktok.com", 3),
    ("doubleclick.net", 3),
    ("googleadservices.com", 3),
    ("bat.bing.com", 3),
    ("youtube.com/embed", 3),
    ("widget.intercom.io", 1),
    ("cdn.segment.com", 2),
    ("*.mixpanel.com", 2),
    ("static.ads-twitter.com", 3),
    ("s.pinimg.com/ct", 3),
];

/// `n` patterns: the real ones, then made-up vendors (hosts, host/path, a tenth with globs).
fn patterns(n: usize) -> Vec<(String, CategoryId)> {
    let mut v: Vec<(String, CategoryId)> = REAL
        .iter()
        .take(n)
        .map(|&(p, c)| (p.to_string(), CategoryId(c)))
        .collect();
    let mut i = 0;
    while v.len() < n {
        let c = CategoryId(1 + (i % 3) as u8);
        let p = match i % 10 {
            9 => format!("*.cdn{i:04}.tracker-net.com"),
            8 => format!("pixel{i:04}.adnetwork.io/collect"),
            7 => format!("tags{i:04}.example-analytics.com/js/*.js"),
            _ => format!("vendor{i:04}.example{}.com", i % 7),
        };
        v.push((p, c));
        i += 1;
    }
    v
}

fn policy(n: usize, mode: Mode) -> Policy {
    let cats = Categories::new([
        ("essential", true),
        ("functional", false),
        ("analytics", false),
        ("advertising", false),
    ]);
    let sources = SourceKind::ALL
        .iter()
        .map(|&k| SourceSpec::build(k, None, "consentry", &cats).unwrap())
        .collect();
    let pats = patterns(n);
    Policy::new(PolicyParts {
        categories: cats,
        matcher: Matcher::new([("_ga", CategoryId(2))]).unwrap(),
        consent: ConsentPolicy {
            sources,
            undecided: Undecided::Deny,
            gpc: [CategoryId(3)].into_iter().collect(),
        },
        mode,
        unclassified: Unclassified::Deny,
        cleanup: CleanupOptions::default(),
        strip_request: true,
    })
    .with_scripts(ScriptMatcher::new(pats.iter().map(|(p, c)| (p.as_str(), *c))).unwrap())
}

fn plan(policy: &Policy, config: &Arc<PageConfig>, cookie: &str) -> PagePlan {
    PagePlan::new(policy, &policy.decide(cookie, false), config)
}

struct Frames(std::collections::VecDeque<Bytes>);

impl Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

fn drain<B: Body<Data = Bytes> + Unpin>(mut b: B) -> usize
where
    B::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut n = 0;
    while let Poll::Ready(Some(f)) = Pin::new(&mut b).poll_frame(&mut cx) {
        n += f.unwrap().into_data().map_or(0, |d| d.len());
    }
    n
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn rewrite(c: &mut Criterion) {
    let page = page(100 * 1024);
    let p = policy(REAL.len(), Mode::Enforce);
    let config = Arc::new(PageConfig::defaults(&p));
    let report = policy(REAL.len(), Mode::ReportOnly);
    let report_config = Arc::new(PageConfig::defaults(&report));
    let gz = gzip(page.as_bytes());
    let frames = |data: &[u8]| Frames(data.chunks(16 * 1024).map(Bytes::copy_from_slice).collect());

    let mut g = c.benchmark_group("page_rewrite_100k");
    g.throughput(Throughput::Bytes(page.len() as u64));
    g.bench_function("nothing_granted", |b| {
        b.iter(|| {
            let plan = plan(&p, &config, "consentry=none");
            black_box(
                rewrite_page(
                    black_box(page.as_bytes()),
                    plan,
                    &Prelude::none(),
                    Box::new(IgnorePage),
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("analytics_granted", |b| {
        b.iter(|| {
            let plan = plan(&p, &config, "consentry=analytics");
            black_box(
                rewrite_page(
                    black_box(page.as_bytes()),
                    plan,
                    &Prelude::none(),
                    Box::new(IgnorePage),
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("all_granted", |b| {
        b.iter(|| {
            let plan = plan(&p, &config, "consentry=all");
            black_box(
                rewrite_page(
                    black_box(page.as_bytes()),
                    plan,
                    &Prelude::none(),
                    Box::new(IgnorePage),
                )
                .unwrap(),
            )
        })
    });
    g.bench_function("body_identity_16k_frames", |b| {
        b.iter(|| {
            let plan = plan(&p, &config, "consentry=none");
            black_box(drain(RewriteBody::new(
                frames(page.as_bytes()),
                plan,
                Coding::Identity,
                &Prelude::none(),
                Box::new(IgnorePage),
            )))
        })
    });
    g.bench_function("body_gzip_16k_frames", |b| {
        b.iter(|| {
            let plan = plan(&p, &config, "consentry=none");
            black_box(drain(RewriteBody::new(
                frames(&gz),
                plan,
                Coding::Gzip,
                &Prelude::none(),
                Box::new(IgnorePage),
            )))
        })
    });
    g.bench_function("body_report_only_16k_frames", |b| {
        b.iter(|| {
            let plan = plan(&report, &report_config, "consentry=none");
            black_box(drain(RewriteBody::new(
                frames(page.as_bytes()),
                plan,
                Coding::Identity,
                &Prelude::none(),
                Box::new(IgnorePage),
            )))
        })
    });
    g.finish();
}

fn matcher(c: &mut Criterion) {
    let urls = [
        "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ",
        "https://connect.facebook.net/en_US/fbevents.js",
        "https://static.hotjar.com/c/hotjar-1234567.js?sv=6",
        "https://api-js.mixpanel.com/track/",
        "https://cdn.example-shop.com/assets/app-3f2a9c.js",
        "https://fonts.googleapis.com/css2?family=Roboto",
        "https://tags0007.example-analytics.com/js/tag.js",
        "https://x.cdn0009.tracker-net.com/p.gif",
    ];
    let mut g = c.benchmark_group("script_classify_url");
    g.throughput(Throughput::Elements(urls.len() as u64));
    for n in [20usize, 2000] {
        let m = ScriptMatcher::new(patterns(n).iter().map(|(p, c)| (p.as_str(), *c))).unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                for u in urls {
                    black_box(m.classify_url(black_box(u)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, rewrite, matcher);
criterion_main!(benches);
