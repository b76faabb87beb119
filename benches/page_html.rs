//! The realistic page the page-guard benchmarks rewrite: a help-centre page with the vendors'
//! published tag snippets (GTM, GA4, Hotjar, Clarity, Meta Pixel, LinkedIn), a video embed, JSON-LD
//! and first-party scripts, padded with articles to the size asked for. Shared by the criterion
//! bench (`benches/page.rs`) and the load generator's `page` command (`benches/page_cost.sh`).
#![allow(dead_code)]

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

/// A page of about `size` bytes: the head with the vendors' published tags, articles, and a
/// tail with a video embed and the LinkedIn tag.
pub fn page(size: usize) -> String {
    let mut p = String::from(HEAD);
    let mut n = 0;
    while p.len() + TAIL.len() < size {
        p.push_str(&ARTICLE.replace("{N}", &format!("{}", 360000 + n)));
        n += 1;
    }
    p.push_str(TAIL);
    p
}
