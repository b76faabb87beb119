//! The embedded demo used by `consentry demo`.
//!
//! [`site`] is the origin: a small shop that, like many real sites, sets cookies of every category
//! on every page without asking, plus a consent banner that writes the native `consentry` cookie
//! and a live panel that shows what the proxy in front removed. It needs nothing besides this
//! binary: every asset is compiled in, and the trackers the pages carry (the GA4 gtag snippet and
//! the Meta Pixel) load offline stand-ins from a second loopback origin started with the demo.

pub mod launch;
pub mod site;

pub use site::{serve, DemoCookie, CONSENT_COOKIE, DEMO_COOKIES, SCRIPT_COOKIE};
