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

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Support - Help Center</title>
<link rel="preconnect" href="https://www.googletagmanager.com"><link rel="dns-prefetch" href="//static.hotjar.com">
<link rel="stylesheet" href="/assets/app-3f2a9c.css"><link rel="icon" href="/favicon.ico">
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);})(window,document,'script','dataLayer','GTM-ABCDEF');</script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());gtag('config','G-ABC123XYZ');</script>
<script>(function(h,o,t,j,a,r){h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};h._hjSettings={hjid:1234567,hjsv:6};a=o.getElementsByTagName('head')[0];r=o.createElement('script');r.async=1;r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;a.appendChild(r);})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');</script>
<script type="text/javascript">(function(c,l,a,r,i,t,y){c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);})(window, document, "clarity", "script", "abcdefghij");</script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window, document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init', '123456789012345');fbq('track', 'PageView');</script>
<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1"/></noscript>
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Organization","name":"Acme","url":"https://www.acme.example"}</script>
<script src="/assets/vendor-1b2c3d.js" defer></script><script src="/assets/app-3f2a9c.js" defer></script>
</head><body class="home">
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-ABCDEF" height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<header class="site-header"><nav><ul><li><a href="/">Home</a></li><li><a href="/hc/en-us/categories">Categories</a></li><li><a href="/hc/en-us/requests/new">Submit a request</a></li></ul></nav></header>
<main id="main-content">
"#;

const ARTICLE: &str = r#"<article class="article" id="article-{N}"><h2 class="article-title"><a href="/hc/en-us/articles/{N}-How-to-reset-your-password">How to reset your password ({N})</a></h2>
<div class="article-meta"><img class="avatar" src="/avatars/{N}.png" alt="" width="32" height="32"><span class="author">Support team</span> <time datetime="2025-06-16T12:18:11Z">June 16, 2025</time></div>
<p>If you forgot your password, open the <a href="/login">sign-in page</a> and choose <strong>Forgot password</strong>. We send a link to the address on your account; it is valid for 24 hours. Follow the link, choose a new password and sign in again.</p>
<p>Still stuck? <a href="/hc/en-us/requests/new" class="button button-primary" data-track="contact">Contact us</a> and include the email address of the account, so we can find it quickly.</p>
<ul class="article-list"><li><a href="/hc/en-us/articles/{N}1">Change your email address</a></li><li><a href="/hc/en-us/articles/{N}2">Two-factor authentication</a></li><li><a href="/hc/en-us/articles/{N}3">Close your account</a></li></ul>
</article>
"#;

const TAIL: &str = r#"</main>
<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ" title="Video" allowfullscreen></iframe>
<script type="text/javascript">_linkedin_partner_id = "1234567";window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];window._linkedin_data_partner_ids.push(_linkedin_partner_id);</script><script type="text/javascript">(function(l) {if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};window.lintrk.q=[]}var s = document.getElementsByTagName("script")[0];var b = document.createElement("script");b.type = "text/javascript";b.async = true;b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";s.parentNode.insertBefore(b, s);})(window.lintrk);</script>
<noscript><img height="1" width="1" style="display:none;" alt="" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" /></noscript>
<footer><p>&copy; 2025 Acme</p><script>document.querySelectorAll('[data-track]').forEach(function(e){e.addEventListener('click',function(){window.dataLayer.push({event:'click',target:e.dataset.track})})});</script></footer>
</body></html>
"#;

/// About 100 KB of page.
fn page() -> String {
    let mut p = String::from(HEAD);
    let mut n = 0;
    while p.len() + TAIL.len() < 100 * 1024 {
        p.push_str(&ARTICLE.replace("{N}", &format!("{}", 360000 + n)));
        n += 1;
    }
    p.push_str(TAIL);
    p
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
    let page = page();
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
