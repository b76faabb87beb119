//! The rewriter on the vendors' published snippet shapes, split points, odd markup and opt-in
//! conventions.

use std::sync::Arc;

use super::rewrite::{rewrite_page, Rewriter};
use super::*;
use crate::policy::consent::{SourceKind, SourceSpec};
use crate::policy::scripts::ScriptMatcher;
use crate::policy::testing::policy;
use crate::policy::{Mode, Unclassified};

const ANA: u8 = 2;
const ADV: u8 = 3;

/// Script patterns close to the shipped catalogue's.
pub(crate) const SCRIPTS: &[(&str, u8)] = &[
    ("google-analytics.com", ANA),
    ("googletagmanager.com/gtag/js?id=G-*", ANA),
    ("googletagmanager.com/gtm.js", ANA),
    ("googletagmanager.com/ns.html", ANA),
    ("googletagmanager.com/gtag/js?id=AW-*", ADV),
    ("googletagmanager.com/gtag/js?id=DC-*", ADV),
    ("hotjar.com", ANA),
    ("clarity.ms", ANA),
    ("connect.facebook.net", ADV),
    ("facebook.com/tr", ADV),
    ("snap.licdn.com", ADV),
    ("px.ads.linkedin.com", ADV),
    ("analytics.tiktok.com", ADV),
    ("doubleclick.net", ADV),
    ("youtube.com/embed", ADV),
];

/// The test policy (essential, functional, analytics, advertising) with every consent source and
/// the script patterns above.
pub(crate) fn page_config(mode: Mode) -> Arc<PageConfig> {
    let mut p = policy(mode, Unclassified::Deny);
    p.consent.sources = SourceKind::ALL
        .iter()
        .map(|&k| SourceSpec::build(k, None, "consentry", &p.categories).unwrap())
        .collect();
    let m = ScriptMatcher::new(SCRIPTS.iter().map(|&(s, c)| (s, CategoryId(c)))).unwrap();
    let p = p.with_scripts(m);
    Arc::new(PageConfig::defaults(&p))
}

pub(crate) fn plan_for(mode: Mode, cookie: &str) -> PagePlan {
    let config = page_config(mode);
    let mut p = policy(mode, Unclassified::Deny);
    p.consent.sources = SourceKind::ALL
        .iter()
        .map(|&k| SourceSpec::build(k, None, "consentry", &p.categories).unwrap())
        .collect();
    let consent = p.decide(cookie, false);
    PagePlan::new(&p, &consent, &config)
}

fn run(html: &str, plan: PagePlan) -> (String, Vec<RecordedEvent>) {
    let rec = Recorder::default();
    let out = rewrite_page(
        html.as_bytes(),
        plan,
        &Prelude::none(),
        Box::new(rec.clone()),
    )
    .unwrap();
    (String::from_utf8(out).unwrap(), rec.events())
}

/// Nothing granted but the essentials.
fn denied(html: &str) -> (String, Vec<RecordedEvent>) {
    run(html, plan_for(Mode::Enforce, "consentry=none"))
}

fn names(events: &[RecordedEvent]) -> Vec<(&'static str, String, &'static str)> {
    events
        .iter()
        .map(|e| (e.element.name(), e.url.clone(), e.action.name()))
        .collect()
}

const CM_DENIED: &str = "<script>(function(){var w=window;w.dataLayer=w.dataLayer||[];(function(){w.dataLayer.push(arguments)})('consent','default',{\"ad_storage\":\"denied\",\"ad_user_data\":\"denied\",\"ad_personalization\":\"denied\",\"analytics_storage\":\"denied\",\"functionality_storage\":\"denied\",\"personalization_storage\":\"denied\"});})();</script>";

pub(crate) const GA4: &str = r#"<!-- Google tag (gtag.js) -->
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());

  gtag('config', 'G-ABC123XYZ');
</script>"#;

pub(crate) const GTM_HEAD: &str = r#"<!-- Google Tag Manager -->
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-XXXX');</script>
<!-- End Google Tag Manager -->"#;

pub(crate) const GTM_BODY: &str = r#"<!-- Google Tag Manager (noscript) -->
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-XXXX"
height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<!-- End Google Tag Manager (noscript) -->"#;

pub(crate) const META_PIXEL: &str = r#"<!-- Meta Pixel Code -->
<script>
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '123456789012345');
fbq('track', 'PageView');
</script>
<noscript><img height="1" width="1" style="display:none"
src="https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1"
/></noscript>
<!-- End Meta Pixel Code -->"#;

pub(crate) const HOTJAR: &str = r#"<!-- Hotjar Tracking Code -->
<script>
    (function(h,o,t,j,a,r){
        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
        h._hjSettings={hjid:1234567,hjsv:6};
        a=o.getElementsByTagName('head')[0];
        r=o.createElement('script');r.async=1;
        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
        a.appendChild(r);
    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
</script>"#;

pub(crate) const CLARITY: &str = r#"<script type="text/javascript">
    (function(c,l,a,r,i,t,y){
        c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
        t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
        y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
    })(window, document, "clarity", "script", "abcdefghij");
</script>"#;

pub(crate) const LINKEDIN: &str = r#"<script type="text/javascript">
_linkedin_partner_id = "1234567";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
</script><script type="text/javascript">
(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);
</script>
<noscript>
<img height="1" width="1" style="display:none;" alt="" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" />
</noscript>"#;

pub(crate) const TIKTOK: &str = r#"<script>
!function (w, d, t) {
  w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=["page","track","identify","instances","debug","on","off","once","ready","alias","group","enableCookie","disableCookie"],ttq.setAndDefer=function(t,e){t[e]=function(){t.push([e].concat(Array.prototype.slice.call(arguments,0)))}};for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);ttq.instance=function(t){for(var e=ttq._i[t]||[],n=0;n<ttq.methods.length;n++)ttq.setAndDefer(e,ttq.methods[n]);return e},ttq.load=function(e,n){var i="https://analytics.tiktok.com/i18n/pixel/events.js";ttq._i=ttq._i||{},ttq._i[e]=[],ttq._i[e]._u=i,ttq._t=ttq._t||{},ttq._t[e]=+new Date,ttq._o=ttq._o||{},ttq._o[e]=n||{};var o=document.createElement("script");o.type="text/javascript",o.async=!0,o.src=i+"?sdkid="+e+"&lib="+t;var a=document.getElementsByTagName("script")[0];a.parentNode.insertBefore(o,a)};
  ttq.load('C4ABCDEFGHIJKLMNOP');
  ttq.page();
}(window, document, 'ttq');
</script>"#;

pub(crate) const JSON_LD: &str = r#"<script type="application/ld+json">{"@context":"https://schema.org","@type":"Organization","url":"https://www.googletagmanager.com/gtm.js","sameAs":["https://www.facebook.com/tr"]}</script>"#;

/// A page with every snippet above.
pub(crate) fn full_page() -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Shop</title>\n{GTM_HEAD}\n{GA4}\n{HOTJAR}\n{CLARITY}\n{META_PIXEL}\n{JSON_LD}\n<link rel=\"preconnect\" href=\"https://www.googletagmanager.com\">\n<link rel=\"stylesheet\" href=\"/app.css\">\n<script src=\"/js/app.js\" defer></script>\n</head>\n<body>\n{GTM_BODY}\n<h1>Welcome</h1>\n<iframe src=\"https://www.youtube.com/embed/abc\"></iframe>\n{LINKEDIN}\n{TIKTOK}\n</body>\n</html>\n"
    )
}

#[test]
fn ga4_gtag_snippet() {
    let (out, ev) = denied(&format!("<head>{GA4}</head>"));
    // Consent Mode goes before the first element (comments may stay ahead of it).
    assert!(
        out.starts_with(&format!(
            "<head><!-- Google tag (gtag.js) -->\n{CM_DENIED}<script async"
        )),
        "{out}"
    );
    assert!(out.contains(
        r#"<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ" type="text/plain" data-consentry-category="analytics"></script>"#
    ), "{out}");
    // The inline part loads nothing: it stays as it is.
    assert!(out.contains("<script>\n  window.dataLayer"), "{out}");
    assert_eq!(
        names(&ev),
        [(
            "script",
            "https://www.googletagmanager.com/gtag/js?id=G-ABC123XYZ".into(),
            "block"
        )]
    );
}

#[test]
fn gtag_for_ads_is_advertising() {
    let html =
        r#"<script async src="https://www.googletagmanager.com/gtag/js?id=AW-123456789"></script>"#;
    let (out, ev) = run(html, plan_for(Mode::Enforce, "consentry=analytics"));
    assert!(
        out.contains(r#"data-consentry-category="advertising""#),
        "{out}"
    );
    assert_eq!(ev.len(), 1);
    // With analytics granted, the analytics gtag passes.
    let (out, ev) = run(GA4, plan_for(Mode::Enforce, "consentry=analytics"));
    assert!(!out.contains("text/plain"), "{out}");
    assert!(ev.is_empty());
}

#[test]
fn gtm_snippet_and_its_noscript_iframe() {
    let (out, ev) = denied(&format!(
        "<html><head>{GTM_HEAD}</head><body>{GTM_BODY}</body></html>"
    ));
    assert!(out.contains(
        "<script type=\"text/plain\" data-consentry-category=\"analytics\">(function(w,d,s,l,i){w[l]=w[l]||[];"
    ), "{out}");
    assert!(
        out.contains("})(window,document,'script','dataLayer','GTM-XXXX');</script>"),
        "{out}"
    );
    // `lol_html` reads `<noscript>` as text (as a browser with scripting on); its content is
    // rewritten as markup all the same.
    assert!(out.contains(
        r#"<noscript><iframe height="0" width="0" style="display:none;visibility:hidden" data-consentry-src="https://www.googletagmanager.com/ns.html?id=GTM-XXXX" data-consentry-category="analytics"></iframe></noscript>"#
    ), "{out}");
    assert_eq!(
        names(&ev),
        [
            (
                "script",
                "www.googletagmanager.com/gtm.js?id=".into(),
                "block"
            ),
            (
                "iframe",
                "https://www.googletagmanager.com/ns.html?id=GTM-XXXX".into(),
                "block"
            ),
        ]
    );
}

#[test]
fn meta_pixel_with_its_noscript_img() {
    let (out, ev) = denied(META_PIXEL);
    assert!(out.contains("<script type=\"text/plain\" data-consentry-category=\"advertising\">\n!function(f,b,e,v,n,t,s)"), "{out}");
    assert!(out.contains(
        "<img height=\"1\" width=\"1\" style=\"display:none\"\n data-consentry-src=\"https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1\" data-consentry-category=\"advertising\"/>"
    ) || out.contains("data-consentry-src=\"https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1\""), "{out}");
    assert!(!out.contains(" src=\"https://www.facebook.com"), "{out}");
    assert_eq!(
        names(&ev),
        [
            (
                "script",
                "connect.facebook.net/en_US/fbevents.js".into(),
                "block"
            ),
            (
                "img",
                "https://www.facebook.com/tr?id=123456789012345&ev=PageView&noscript=1".into(),
                "block"
            ),
        ]
    );
}

#[test]
fn hotjar_clarity_linkedin_tiktok() {
    let (out, ev) = denied(HOTJAR);
    assert!(out.contains("<script type=\"text/plain\" data-consentry-category=\"analytics\">\n    (function(h,o,t,j,a,r){"), "{out}");
    assert_eq!(
        names(&ev),
        [("script", "static.hotjar.com/c/hotjar-".into(), "block")]
    );

    let (out, ev) = denied(CLARITY);
    assert!(out.starts_with(&format!(
        "{CM_DENIED}<script type=\"text/plain\" data-consentry-category=\"analytics\" data-consentry-type=\"text/javascript\">\n    (function(c,l,a,r,i,t,y){{"
    )), "{out}");
    assert_eq!(
        names(&ev),
        [("script", "www.clarity.ms/tag/".into(), "block")]
    );

    let (out, ev) = denied(LINKEDIN);
    // The partner-id script loads nothing; the loader and the noscript pixel are held back.
    assert!(
        out.starts_with(&format!(
            "{CM_DENIED}<script type=\"text/javascript\">\n_linkedin_partner_id"
        )),
        "{out}"
    );
    assert!(out.contains("</script><script type=\"text/plain\" data-consentry-category=\"advertising\" data-consentry-type=\"text/javascript\">\n(function(l) {"), "{out}");
    assert!(
        out.contains(
            "data-consentry-src=\"https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif\""
        ),
        "{out}"
    );
    assert_eq!(ev.len(), 2);

    let (out, ev) = denied(TIKTOK);
    assert!(out.starts_with(&format!("{CM_DENIED}<script type=\"text/plain\" data-consentry-category=\"advertising\">\n!function (w, d, t) {{")), "{out}");
    assert_eq!(
        names(&ev),
        [(
            "script",
            "analytics.tiktok.com/i18n/pixel/events.js".into(),
            "block"
        )]
    );
}

#[test]
fn everything_granted_changes_nothing() {
    let page = full_page();
    let (out, ev) = run(&page, plan_for(Mode::Enforce, "consentry=all"));
    assert_eq!(out, page);
    assert!(ev.is_empty());
}

#[test]
fn report_only_counts_and_writes_nothing() {
    let page = full_page();
    let rec = Recorder::default();
    let mut r = Rewriter::new(
        plan_for(Mode::ReportOnly, "consentry=none"),
        &Prelude::none(),
        Box::new(rec.clone()),
        None,
    );
    r.write(page.as_bytes()).unwrap();
    r.end().unwrap();
    assert!(r.take_output().is_empty(), "report-only writes nothing out");
    let ev = rec.events();
    assert!(ev.iter().all(|e| e.action.name() == "would-block"));
    let (_, enforced) = denied(&page);
    assert_eq!(ev.len(), enforced.len());
    assert_eq!(
        ev.iter()
            .map(|e| (e.element, e.url.clone()))
            .collect::<Vec<_>>(),
        enforced
            .iter()
            .map(|e| (e.element, e.url.clone()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn full_page_rewrite() {
    let (out, ev) = denied(&full_page());
    // Consent Mode after the charset declaration, before everything else.
    assert!(
        out.contains(&format!(
            "<meta charset=\"utf-8\">\n{CM_DENIED}<title>Shop</title>"
        )),
        "{out}"
    );
    assert!(out.contains(JSON_LD), "JSON-LD untouched");
    assert!(
        out.contains("<script src=\"/js/app.js\" defer></script>"),
        "first party untouched"
    );
    assert!(out.contains("<link rel=\"stylesheet\" href=\"/app.css\">"));
    assert!(out.contains(
        // The most specific pattern on that host of a category not granted: the `AW-` gtag's.
        "<link rel=\"preconnect\" data-consentry-href=\"https://www.googletagmanager.com\" data-consentry-category=\"advertising\">"
    ), "{out}");
    assert!(out.contains("<iframe data-consentry-src=\"https://www.youtube.com/embed/abc\" data-consentry-category=\"advertising\"></iframe>"), "{out}");
    let elements: Vec<_> = ev.iter().map(|e| e.element.name()).collect();
    assert_eq!(
        elements,
        [
            "script", "script", "script", "script", "script", "img", "link", "iframe", "iframe",
            "script", "img", "script"
        ]
    );
}

#[test]
fn every_split_point_gives_the_same_output() {
    let page = full_page();
    let bytes = page.as_bytes();
    let whole = {
        let (out, ev) = denied(&page);
        (out.into_bytes(), ev)
    };
    for at in 0..=bytes.len() {
        let rec = Recorder::default();
        let mut r = Rewriter::new(
            plan_for(Mode::Enforce, "consentry=none"),
            &Prelude::none(),
            Box::new(rec.clone()),
            None,
        );
        r.write(&bytes[..at]).unwrap();
        r.write(&bytes[at..]).unwrap();
        r.end().unwrap();
        assert_eq!(r.take_output(), whole.0, "split at {at}");
        assert_eq!(rec.events(), whole.1, "events, split at {at}");
    }
}

#[test]
fn byte_by_byte_gives_the_same_output() {
    let page = full_page();
    let (whole, _) = denied(&page);
    let mut r = Rewriter::new(
        plan_for(Mode::Enforce, "consentry=none"),
        &Prelude::none(),
        Box::new(IgnorePage),
        None,
    );
    let mut out = Vec::new();
    for b in page.as_bytes() {
        r.write(std::slice::from_ref(b)).unwrap();
        r.drain_into(&mut out);
    }
    r.end().unwrap();
    r.drain_into(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), whole);
}

#[test]
fn tags_in_comments_attributes_and_text_are_not_elements() {
    let html = concat!(
        "<!-- <script src=\"https://connect.facebook.net/x.js\"></script> -->",
        "<div title='<script src=\"https://connect.facebook.net/x.js\"></script>'>",
        "&lt;img src=\"https://www.facebook.com/tr\"&gt;</div>",
        "<textarea><iframe src=\"https://www.youtube.com/embed/x\"></iframe></textarea>",
        "<p>see https://connect.facebook.net/</p>"
    );
    let (out, ev) = denied(html);
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(
        out,
        format!("{CM_DENIED}{html}")
            .replacen(CM_DENIED, "", 0)
            .replace(CM_DENIED, "")
    );
}

#[test]
fn template_noscript_uppercase_unquoted_and_malformed() {
    let html = concat!(
        "<template><script src=https://connect.facebook.net/t.js></script></template>",
        "<NOSCRIPT><IMG SRC=https://www.facebook.com/tr?id=1></NOSCRIPT>",
        "<SCRIPT SRC='//static.hotjar.com/c/hotjar-1.js?sv=6' ASYNC></SCRIPT>",
        "<iframe src=\" https://www.youtube.com/embed/x \"",
        " allowfullscreen></iframe>",
        "<img src=\"https&#58;//www.facebook.com/tr\">",
        "<div><p>unclosed <b>tags <script src=\"https://snap.licdn.com/li.js\">"
    );
    let (out, ev) = denied(html);
    assert!(out.contains("<template><script src=https://connect.facebook.net/t.js type=\"text/plain\" data-consentry-category=\"advertising\"></script></template>"), "{out}");
    assert!(out.contains("<NOSCRIPT><IMG data-consentry-src=\"https://www.facebook.com/tr?id=1\" data-consentry-category=\"advertising\"></NOSCRIPT>"), "{out}");
    assert!(out.contains("<SCRIPT SRC='//static.hotjar.com/c/hotjar-1.js?sv=6' ASYNC type=\"text/plain\" data-consentry-category=\"analytics\"></SCRIPT>"), "{out}");
    assert!(
        out.contains("data-consentry-src=\" https://www.youtube.com/embed/x \""),
        "{out}"
    );
    assert!(
        out.contains("<img data-consentry-src=\"https&#58;//www.facebook.com/tr\""),
        "{out}"
    );
    assert!(out.ends_with("<script src=\"https://snap.licdn.com/li.js\" type=\"text/plain\" data-consentry-category=\"advertising\">"), "{out}");
    assert_eq!(ev.len(), 6, "{ev:?}");
}

#[test]
fn inline_script_cut_off_by_the_end_of_the_page() {
    let html = "<script>var s='https://connect.facebook.net/en_US/fbevents.js';";
    let (out, ev) = denied(html);
    assert_eq!(
        out,
        format!("{CM_DENIED}<script type=\"text/plain\" data-consentry-category=\"advertising\">var s='https://connect.facebook.net/en_US/fbevents.js';")
    );
    assert_eq!(ev.len(), 1);
}

#[test]
fn non_javascript_types_are_left_alone() {
    for ty in [
        "application/ld+json",
        "application/json",
        "text/template",
        "importmap",
        "text/x-handlebars",
    ] {
        let html = format!("<script type=\"{ty}\" src=\"https://connect.facebook.net/x.js\">'https://connect.facebook.net/'</script>");
        let (out, ev) = denied(&html);
        assert!(out.ends_with(&html), "{ty}: {out}");
        assert!(ev.is_empty(), "{ty}");
    }
    // `module` and JavaScript MIME types with parameters are JavaScript.
    let (out, _) =
        denied("<script type=\"module\" src=\"https://connect.facebook.net/x.js\"></script>");
    assert!(out.ends_with("<script type=\"text/plain\" src=\"https://connect.facebook.net/x.js\" data-consentry-category=\"advertising\" data-consentry-type=\"module\"></script>"), "{out}");
    let (out, _) = denied("<script type=\"text/javascript; charset=utf-8\" src=\"https://connect.facebook.net/x.js\"></script>");
    assert!(
        out.contains("data-consentry-type=\"text/javascript; charset=utf-8\""),
        "{out}"
    );
}

#[test]
fn resource_hints() {
    let html = concat!(
        "<link rel=\"dns-prefetch\" href=\"//static.hotjar.com\">",
        "<link rel=\"preload\" as=\"script\" href=\"https://connect.facebook.net/en_US/fbevents.js\">",
        "<link rel=\"modulepreload\" href=\"/app.js\">",
        "<link rel=\"preconnect\" href=\"https://fonts.gstatic.com\" crossorigin>",
        "<link rel=\"icon\" href=\"https://www.facebook.com/favicon.ico\">"
    );
    let (out, ev) = denied(html);
    assert!(out.contains("<link rel=\"dns-prefetch\" data-consentry-href=\"//static.hotjar.com\" data-consentry-category=\"analytics\">"), "{out}");
    assert!(out.contains("<link rel=\"preload\" as=\"script\" data-consentry-href=\"https://connect.facebook.net/en_US/fbevents.js\" data-consentry-category=\"advertising\">"), "{out}");
    assert!(out.contains("<link rel=\"modulepreload\" href=\"/app.js\">"));
    assert!(
        out.contains("<link rel=\"preconnect\" href=\"https://fonts.gstatic.com\" crossorigin>")
    );
    assert!(out.contains("<link rel=\"icon\" href=\"https://www.facebook.com/favicon.ico\">"));
    assert_eq!(ev.len(), 2);
}

#[test]
fn embed_object_and_srcset() {
    let html = concat!(
        "<embed src=\"https://www.youtube.com/embed/v\">",
        "<object data=\"https://www.youtube.com/embed/v\"></object>",
        "<img src=\"/logo.png\" srcset=\"/logo2.png 2x, https://www.facebook.com/tr?id=1 3x\">"
    );
    let (out, ev) = denied(html);
    assert!(out.contains("<embed data-consentry-src=\"https://www.youtube.com/embed/v\" data-consentry-category=\"advertising\">"), "{out}");
    assert!(out.contains("<object data-consentry-data=\"https://www.youtube.com/embed/v\" data-consentry-category=\"advertising\"></object>"), "{out}");
    assert!(out.contains("<img src=\"/logo.png\" data-consentry-srcset=\"/logo2.png 2x, https://www.facebook.com/tr?id=1 3x\" data-consentry-category=\"advertising\">"), "{out}");
    assert_eq!(
        ev.iter().map(|e| e.element.name()).collect::<Vec<_>>(),
        ["embed", "object", "img"]
    );
}

#[test]
fn opt_in_markup_is_activated_when_granted() {
    let html = concat!(
        "<script type=\"text/plain\" data-consentry-category=\"analytics\">a()</script>",
        "<script type=\"text/plain\" data-cookieconsent=\"statistics\" src=\"/stats.js\"></script>",
        "<script type=\"text/plain\" data-category=\"analytics\" data-type=\"module\">b()</script>",
        "<script type=\"text/plain\" class=\"optanon-category-C0002\">c()</script>",
        "<script type=\"text/plain\" data-type=\"text/javascript\" data-name=\"analytics\">d()</script>",
        "<script type=\"text/plain\" data-cookieyes=\"cookieyes-analytics\">e()</script>",
        "<script type=\"text/plain\" data-cookieconsent=\"statistics, marketing\">f()</script>",
        "<iframe data-cookieblock-src=\"https://maps.example.com/x\" data-cookieconsent=\"statistics\"></iframe>",
        "<img data-consentry-src=\"/pixel.gif\" data-consentry-category=\"analytics\">"
    );
    let (out, ev) = run(html, plan_for(Mode::Enforce, "consentry=analytics"));
    let out = &out[out.find("</script>").unwrap() + 9..];
    assert_eq!(
        out,
        concat!(
            "<script data-consentry-category=\"analytics\">a()</script>",
            "<script data-cookieconsent=\"statistics\" src=\"/stats.js\"></script>",
            "<script type=\"module\" data-category=\"analytics\" data-type=\"module\">b()</script>",
            "<script class=\"optanon-category-C0002\">c()</script>",
            "<script type=\"text/javascript\" data-type=\"text/javascript\" data-name=\"analytics\">d()</script>",
            "<script data-cookieyes=\"cookieyes-analytics\">e()</script>",
            // Marketing is not granted: stays inert.
            "<script type=\"text/plain\" data-cookieconsent=\"statistics, marketing\">f()</script>",
            "<iframe data-cookieblock-src=\"https://maps.example.com/x\" data-cookieconsent=\"statistics\" src=\"https://maps.example.com/x\"></iframe>",
            "<img data-consentry-category=\"analytics\" src=\"/pixel.gif\">"
        ),
        "{out}"
    );
    let conventions: Vec<_> = ev
        .iter()
        .map(|e| match e.action {
            PageAction::Activate(c) => c,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        conventions,
        [
            "consentry",
            "cookiebot",
            "cc_cookie",
            "onetrust",
            "klaro",
            "cookieyes",
            "cookiebot",
            "consentry"
        ]
    );
    // Not granted: nothing moves.
    let (out, ev) = run(html, plan_for(Mode::Enforce, "consentry=functional"));
    assert!(out.ends_with(&html[html.len() - 60..]), "{out}");
    assert!(out.contains(
        "<script type=\"text/plain\" data-consentry-category=\"analytics\">a()</script>"
    ));
    assert!(ev.is_empty());
}

#[test]
fn opt_in_markup_with_a_held_back_url_stays_inert() {
    let html = "<script type=\"text/plain\" data-cookieconsent=\"statistics\" src=\"https://connect.facebook.net/x.js\"></script>";
    let (out, ev) = run(html, plan_for(Mode::Enforce, "consentry=analytics"));
    assert!(out.contains("type=\"text/plain\""), "{out}");
    assert!(
        out.contains("data-consentry-category=\"advertising\""),
        "{out}"
    );
    assert_eq!(
        names(&ev),
        [(
            "script",
            "https://connect.facebook.net/x.js".into(),
            "block"
        )]
    );
}

#[test]
fn injection_places_and_prelude_and_nonce() {
    let prelude = Prelude {
        html: "<script nonce=\"abc\">guard()</script>".into(),
        nonce: Some("abc".into()),
    };
    let plan = || plan_for(Mode::Enforce, "consentry=none");
    let cm = CM_DENIED.replacen("<script>", "<script nonce=\"abc\">", 1);
    let inj = format!("{cm}<script nonce=\"abc\">guard()</script>");
    let cases = [
        (
            "<html><head><title>t</title></head></html>",
            format!("<html><head>{inj}<title>t</title></head></html>"),
        ),
        (
            "<head><meta charset=utf-8><meta name=x></head>",
            format!("<head><meta charset=utf-8>{inj}<meta name=x></head>"),
        ),
        (
            "<head></head><body></body>",
            format!("<head>{inj}</head><body></body>"),
        ),
        (
            "<head><meta charset=utf-8></head>",
            format!("<head><meta charset=utf-8>{inj}</head>"),
        ),
        (
            "<title>t</title><script>x()</script>",
            format!("<title>t</title>{inj}<script>x()</script>"),
        ),
        (
            "<p>hi</p><body><p>x</p></body>",
            format!("<p>hi</p><body>{inj}<p>x</p></body>"),
        ),
        ("just text", "just text".to_string()),
    ];
    for (page, want) in cases {
        let out = rewrite_page(page.as_bytes(), plan(), &prelude, Box::new(IgnorePage)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), want, "{page}");
    }
    // A nonce that could break out of the attribute is not used.
    let bad = Prelude {
        html: String::new(),
        nonce: Some("a\"b".into()),
    };
    let out = rewrite_page(b"<head></head>", plan(), &bad, Box::new(IgnorePage)).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("<head>{CM_DENIED}</head>")
    );
    // Everything granted: no Consent Mode; the prelude still goes in.
    let out = rewrite_page(
        b"<head></head>",
        plan_for(Mode::Enforce, "consentry=all"),
        &prelude,
        Box::new(IgnorePage),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "<head><script nonce=\"abc\">guard()</script></head>"
    );
}

#[test]
fn long_inline_scripts_pass_after_the_bound() {
    let filler = "x".repeat(rewrite::INLINE_SCRIPT_BOUND + 10);
    let late = format!(
        "<script>var a='{filler}';var u='https://connect.facebook.net/x.js';</script><p>after</p>"
    );
    let (out, ev) = denied(&late);
    assert_eq!(out, format!("{CM_DENIED}{late}"));
    assert!(ev.is_empty());
    let early =
        format!("<script>var u='https://connect.facebook.net/x.js';var a='{filler}';</script>");
    let (out, ev) = denied(&early);
    assert!(out.starts_with(&format!(
        "{CM_DENIED}<script type=\"text/plain\" data-consentry-category=\"advertising\">var u="
    )));
    assert!(out.ends_with(&format!("{filler}';</script>")));
    assert_eq!(ev.len(), 1);
}

#[test]
fn a_huge_tag_makes_the_rewriter_give_up_gracefully() {
    let big = "a".repeat(rewrite::MEMORY_LIMIT + 1024);
    let html = format!("<img alt=\"{big}\" src=\"https://www.facebook.com/tr\"><script src=\"https://connect.facebook.net/x.js\"></script>");
    let mut r = Rewriter::new(
        plan_for(Mode::Enforce, "consentry=none"),
        &Prelude::none(),
        Box::new(IgnorePage),
        None,
    );
    for chunk in html.as_bytes().chunks(8192) {
        r.write(chunk).unwrap();
    }
    r.end().unwrap();
    assert!(r.bailed_out());
    let out = String::from_utf8(r.take_output()).unwrap();
    // Nothing lost, nothing duplicated: the page from the bail-out point on is as it was.
    assert!(out.ends_with(&html[html.len() - 200..]));
    assert!(
        out.len() <= html.len() + CM_DENIED.len() + 200,
        "{}",
        out.len()
    );
}

#[test]
fn is_noop_only_without_rewrite_or_optional_categories() {
    assert!(!plan_for(Mode::Enforce, "consentry=all").is_noop());
    assert!(!plan_for(Mode::Enforce, "consentry=none").is_noop());
    let mut p = policy(Mode::Enforce, Unclassified::Deny);
    p.categories = crate::policy::categories::Categories::new([("essential", true)]);
    let config = Arc::new(PageConfig::new(&p, Some(true), true, None));
    let consent = p.decide("", false);
    assert!(PagePlan::new(&p, &consent, &config).is_noop());
    let config = Arc::new(PageConfig::new(
        &policy(Mode::Enforce, Unclassified::Deny),
        None,
        true,
        None,
    ));
    assert!(
        !config.rewrite,
        "no scripts anywhere: rewrite defaults to off"
    );
}

#[test]
fn invalid_bytes_pass_unchanged_when_nothing_is_to_change() {
    let mut page = b"<script>var a='".to_vec();
    page.extend_from_slice(&[0xff, 0xfe, 0x80]);
    page.extend_from_slice(b"';</script><noscript>\xff<img src=/x.gif></noscript>");
    let out = rewrite_page(
        &page,
        plan_for(Mode::Enforce, "consentry=all"),
        &Prelude::none(),
        Box::new(IgnorePage),
    )
    .unwrap();
    assert_eq!(out, page);
}
