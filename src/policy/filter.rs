//! Judging cookies against a visitor's consent: `Set-Cookie` lines on the response, and the
//! cookies the browser sent on the request (cleanup and stripping).
//!
//! The functions here report every decision to a [`Observer`] instead of building lists, so the
//! proxy counts metrics without allocating and `explain` collects the same decisions to print.

use std::borrow::Cow;

use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use rustc_hash::FxHashSet;

use super::categories::CategoryId;
use super::consent::Consent;
use super::cookie_header;
use super::rules::RuleId;
use super::{set_cookie, Class, Mode, Policy};

/// What happens to one `Set-Cookie` line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Pass,
    Block,
    /// `report-only`: it would have been blocked, and is kept.
    WouldBlock,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Block => "block",
            Action::WouldBlock => "would-block",
        }
    }
}

/// The judgement of one `Set-Cookie` line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub class: Class,
    /// The category the line was judged under; `None` when unclassified (and not mapped).
    pub category: Option<CategoryId>,
    pub action: Action,
    /// The line deletes a cookie of a non-granted category. In `enforce` mode the proxy sends
    /// its own deletion in its place ([`Policy::sent_line`]); in `report-only` it passes as is.
    pub deletion: bool,
}

impl Verdict {
    pub fn rule(&self) -> Option<RuleId> {
        match self.class {
            Class::Rule(r) => Some(r),
            _ => None,
        }
    }
}

/// Receives each decision the filter makes.
pub trait Observer {
    /// One `Set-Cookie` line was judged. `name` is the name it presents.
    fn set_cookie(&mut self, _line: &[u8], _name: &[u8], _verdict: &Verdict) {}
    /// An expiring line was added for a cookie the browser sent.
    fn deletion(&mut self, _name: &str, _category: CategoryId, _line: &str) {}
    /// A request cookie was removed from the `Cookie` header sent upstream.
    fn stripped(&mut self, _name: &str, _category: CategoryId) {}
}

/// An observer that ignores everything.
pub struct Ignore;
impl Observer for Ignore {}

impl Policy {
    /// Judges one `Set-Cookie` line at time `now` (seconds since the epoch).
    pub fn judge<'l>(&self, consent: &Consent, line: &'l [u8], now: i64) -> (Verdict, &'l [u8]) {
        let name = set_cookie::presented_name(line);
        let class = self.classify(name);
        let category = self.category_of(class);
        let granted = match class {
            Class::Consent => true,
            _ => match category {
                Some(c) => consent.allowed.contains(c),
                None => self.unclassified == super::Unclassified::Allow,
            },
        };
        // A deleting line of a non-granted cookie passes as the proxy's own deletion (enforce)
        // or unchanged (report-only); a nameless one cannot be deleted by name and is blocked.
        let (action, deletion) = if granted {
            (Action::Pass, false)
        } else if (self.mode == Mode::ReportOnly || set_cookie::has_deletable_name(line))
            && set_cookie::is_deletion(line, now)
        {
            (Action::Pass, true)
        } else if self.mode == Mode::ReportOnly {
            (Action::WouldBlock, false)
        } else {
            (Action::Block, false)
        };
        (
            Verdict {
                class,
                category,
                action,
                deletion,
            },
            name,
        )
    }

    /// The line sent for a judged one: the proxy's own deletion in place of a deleting line of
    /// a non-granted cookie (`enforce`), the line itself when it passes, `None` when blocked.
    pub fn sent_line<'l>(&self, line: &'l [u8], v: &Verdict) -> Option<Cow<'l, [u8]>> {
        match v.action {
            Action::Block => None,
            Action::Pass if v.deletion && self.mode == Mode::Enforce => {
                set_cookie::own_deletion(line).map(|l| Cow::Owned(l.into_bytes()))
            }
            _ => Some(Cow::Borrowed(line)),
        }
    }

    /// Filters the `Set-Cookie` lines of a response in place. Kept lines stay the very same
    /// `HeaderValue`s, in their order; a deleting line of a non-granted cookie is replaced by
    /// the proxy's own deletion. Returns whether any line was removed or replaced.
    pub fn filter_set_cookies(
        &self,
        consent: &Consent,
        headers: &mut HeaderMap,
        now: i64,
        obs: &mut impl Observer,
    ) -> bool {
        // First pass: judge, and remember which lines change (a bit mask for the usual short
        // lists).
        let mut mask: u64 = 0;
        let mut overflow: Vec<bool> = Vec::new();
        let mut any = false;
        let mut count = 0;
        for (i, value) in headers.get_all(SET_COOKIE).iter().enumerate() {
            count += 1;
            let (verdict, name) = self.judge(consent, value.as_bytes(), now);
            obs.set_cookie(value.as_bytes(), name, &verdict);
            let change =
                verdict.action == Action::Block || (verdict.deletion && self.mode == Mode::Enforce);
            any |= change;
            if i < 64 {
                mask |= (change as u64) << i;
            } else {
                if overflow.is_empty() {
                    overflow.resize(64, false);
                }
                overflow.push(change);
            }
        }
        if !any {
            return false;
        }
        // One allocation: the surviving lines, cloned by reference count (the same buffers) or
        // replaced, then every line removed and the survivors put back in their order.
        let mut kept: Vec<HeaderValue> = Vec::with_capacity(count);
        for (i, value) in headers.get_all(SET_COOKIE).iter().enumerate() {
            let change = if i < 64 {
                mask & (1 << i) != 0
            } else {
                overflow[i]
            };
            if !change {
                kept.push(value.clone());
                continue;
            }
            // Judged again: only the changed lines, a rare case.
            let (verdict, _) = self.judge(consent, value.as_bytes(), now);
            if let Some(Cow::Owned(line)) = self.sent_line(value.as_bytes(), &verdict) {
                if let Ok(v) = HeaderValue::from_bytes(&line) {
                    kept.push(v);
                }
            }
        }
        headers.remove(SET_COOKIE);
        for value in kept {
            headers.append(SET_COOKIE, value);
        }
        true
    }

    /// Filters `Set-Cookie` lines given as bytes (a response head parsed by hand): each line is
    /// judged as [`Policy::filter_set_cookies`] judges it and `keep` gets the lines sent, in
    /// order (a kept line as it came, a replaced one as the proxy's own deletion). Returns
    /// whether any line was removed or replaced.
    pub fn filter_set_cookie_lines<'l>(
        &self,
        consent: &Consent,
        lines: impl IntoIterator<Item = &'l [u8]>,
        now: i64,
        obs: &mut impl Observer,
        mut keep: impl FnMut(Cow<'l, [u8]>),
    ) -> bool {
        let mut changed = false;
        for line in lines {
            let (verdict, name) = self.judge(consent, line, now);
            obs.set_cookie(line, name, &verdict);
            match self.sent_line(line, &verdict) {
                Some(Cow::Borrowed(l)) => keep(Cow::Borrowed(l)),
                Some(Cow::Owned(l)) => {
                    changed = true;
                    // The same rule as the header map: a line that is no header value is dropped.
                    if HeaderValue::from_bytes(&l).is_ok() {
                        keep(Cow::Owned(l));
                    }
                }
                None => changed = true,
            }
        }
        changed
    }

    /// The request-side plan for the cookies a browser sent: which to expire on the response and
    /// the `Cookie` header to forward without them. Does nothing in `report-only` mode or when
    /// both features are off.
    pub fn plan_request<'h>(&self, consent: &Consent, cookie_header: &'h str) -> RequestPlan<'h> {
        let mut plan = RequestPlan::default();
        if self.mode == Mode::ReportOnly || (!self.cleanup && !self.strip_request) {
            return plan;
        }
        // Every category allowed: nothing the browser sent can be denied.
        if self.categories.all().is_subset(consent.allowed) {
            return plan;
        }
        // Which pairs are denied, as a bit mask for the first 64 (the second pass then needs no
        // second classification); pairs beyond are classified again.
        let mut mask: u64 = 0;
        for (i, pair) in cookie_header::pairs(cookie_header).enumerate() {
            let name = pair.presented_name();
            if let Some(category) = self.request_cookie_denied(consent, name) {
                plan.denied.push((name, category));
                if i < 64 {
                    mask |= 1 << i;
                }
            }
        }
        if plan.denied.is_empty() {
            return plan;
        }
        if self.strip_request {
            let kept: Vec<&str> = cookie_header::pairs(cookie_header)
                .enumerate()
                .filter(|(i, p)| {
                    if *i < 64 {
                        mask & (1 << i) == 0
                    } else {
                        self.request_cookie_denied(consent, p.presented_name())
                            .is_none()
                    }
                })
                .map(|(_, p)| p.raw)
                .collect();
            plan.forward = if kept.is_empty() {
                CookieEdit::Remove
            } else {
                CookieEdit::Rewrite(kept.join("; "))
            };
        }
        plan
    }

    /// The category of a request cookie that must go, or `None` to keep it. Only cookies some
    /// rule names (or that `unclassified` maps to a category) are touched: an unknown cookie may
    /// be the site's own session, and removing it would log visitors out.
    fn request_cookie_denied(&self, consent: &Consent, name: &str) -> Option<CategoryId> {
        let class = self.classify(name.as_bytes());
        if matches!(class, Class::Consent) {
            return None;
        }
        let category = match class {
            Class::Rule(r) => self.matcher.rule(r).category,
            Class::Unclassified => match self.unclassified {
                super::Unclassified::Category(c) => c,
                _ => return None,
            },
            Class::Consent => return None,
        };
        if consent.allowed.contains(category) {
            None
        } else {
            Some(category)
        }
    }

    /// Reports and returns the expiring lines for a request plan.
    pub fn cleanup_lines(
        &self,
        plan: &RequestPlan<'_>,
        host: &str,
        obs: &mut impl Observer,
    ) -> Vec<String> {
        let mut out = Vec::new();
        if !self.cleanup {
            return out;
        }
        if plan.denied.is_empty() {
            return out;
        }
        let domains = super::cleanup::cookie_domains(host);
        let mut done: FxHashSet<&str> = FxHashSet::default();
        let mut bytes = 0;
        for &(name, category) in &plan.denied {
            if name.is_empty() || done.contains(name) {
                continue;
            }
            if done.len() >= MAX_CLEANUP_NAMES {
                break;
            }
            done.insert(name);
            let from = out.len();
            super::cleanup::expiring_lines_into(name, &domains, &self.cleanup_paths, &mut out);
            let added: usize = out[from..].iter().map(|l| l.len()).sum();
            // All of a cookie's lines or none: a partial set would leave it on some domain.
            if out.len() > MAX_CLEANUP_LINES || bytes + added > MAX_CLEANUP_BYTES {
                out.truncate(from);
                break;
            }
            bytes += added;
            for line in &out[from..] {
                obs.deletion(name, category, line);
            }
        }
        out
    }

    /// Reports each stripped request cookie.
    pub fn report_stripped(&self, plan: &RequestPlan<'_>, obs: &mut impl Observer) {
        if plan.forward != CookieEdit::Keep {
            for &(name, category) in &plan.denied {
                obs.stripped(name, category);
            }
        }
    }
}

/// Distinct cookie names cleanup expires per response at most: browsers send about 180 cookies
/// per domain, so a longer list is not a browser's.
pub const MAX_CLEANUP_NAMES: usize = 180;
/// Expiring lines one response gets at most.
pub const MAX_CLEANUP_LINES: usize = 512;
/// Bytes of expiring lines one response gets at most (a normal visitor's few cookies take a
/// few hundred; browsers and upstream proxies cap a response head at 64-256 KiB).
pub const MAX_CLEANUP_BYTES: usize = 32 * 1024;

/// What to do with the cookies a request carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestPlan<'h> {
    /// Request cookies whose category is not allowed, by presented name.
    pub denied: Vec<(&'h str, CategoryId)>,
    /// What becomes of the `Cookie` header sent upstream.
    pub forward: CookieEdit,
}

/// The `Cookie` header sent upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CookieEdit {
    /// Forwarded as the client sent it.
    #[default]
    Keep,
    /// Replaced by this header (the client's pairs without the stripped ones).
    Rewrite(String),
    /// Removed: every pair was stripped.
    Remove,
}

impl CookieEdit {
    /// The header forwarded for a request whose joined header is `original`: `None` when no
    /// header goes upstream.
    pub fn forwarded<'a>(&'a self, original: Option<&'a str>) -> Option<&'a str> {
        match self {
            CookieEdit::Keep => original.filter(|c| !c.is_empty()),
            CookieEdit::Rewrite(c) => Some(c),
            CookieEdit::Remove => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::policy;
    use crate::policy::Unclassified;

    const NOW: i64 = 1_763_900_000;

    #[derive(Default)]
    struct Collect {
        lines: Vec<(String, Action, Option<CategoryId>)>,
        deletions: Vec<String>,
        stripped: Vec<String>,
    }
    impl Observer for Collect {
        fn set_cookie(&mut self, _line: &[u8], name: &[u8], v: &Verdict) {
            self.lines
                .push((String::from_utf8_lossy(name).into(), v.action, v.category));
        }
        fn deletion(&mut self, _name: &str, _c: CategoryId, line: &str) {
            self.deletions.push(line.into());
        }
        fn stripped(&mut self, name: &str, _c: CategoryId) {
            self.stripped.push(name.into());
        }
    }

    fn response(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/html"));
        for l in lines {
            h.append(SET_COOKIE, HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn set_cookies(h: &HeaderMap) -> Vec<&str> {
        h.get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    const LINES: &[&str] = &[
        "_zendesk_session=abc; Path=/; HttpOnly",
        "_ga=GA1.2.3.4; Path=/; Max-Age=63072000",
        "_ga_ABC=GS1.1; Path=/",
        "_fbp=fb.1.2.3; Path=/",
        "ZD-settings=x; Path=/",
        "mystery=1; Path=/",
        "consentry=all; Path=/",
    ];

    #[test]
    fn blocks_what_is_not_allowed_and_keeps_order() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=analytics", false);
        let mut h = response(LINES);
        let mut obs = Collect::default();
        assert!(p.filter_set_cookies(&c, &mut h, NOW, &mut obs));
        assert_eq!(
            set_cookies(&h),
            vec![
                "_zendesk_session=abc; Path=/; HttpOnly",
                "_ga=GA1.2.3.4; Path=/; Max-Age=63072000",
                "_ga_ABC=GS1.1; Path=/",
                "consentry=all; Path=/",
            ]
        );
        assert_eq!(obs.lines.len(), 7);
        assert_eq!(
            obs.lines[3],
            ("_fbp".into(), Action::Block, Some(CategoryId(3)))
        );
        assert_eq!(obs.lines[5], ("mystery".into(), Action::Block, None));
        assert_eq!(obs.lines[6].1, Action::Pass);
        assert_eq!(h.get("content-type").unwrap(), "text/html");
    }

    #[test]
    fn nothing_changes_when_everything_is_allowed() {
        let p = policy(Mode::Enforce, Unclassified::Allow);
        let c = p.decide("consentry=all", false);
        let mut h = response(LINES);
        let before = h.clone();
        assert!(!p.filter_set_cookies(&c, &mut h, NOW, &mut Ignore));
        assert_eq!(h, before);
    }

    #[test]
    fn report_only_keeps_everything_and_reports_would_block() {
        let p = policy(Mode::ReportOnly, Unclassified::Deny);
        let c = p.decide("", false);
        let mut h = response(LINES);
        let mut obs = Collect::default();
        assert!(!p.filter_set_cookies(&c, &mut h, NOW, &mut obs));
        assert_eq!(set_cookies(&h).len(), LINES.len());
        let would: Vec<_> = obs
            .lines
            .iter()
            .filter(|l| l.1 == Action::WouldBlock)
            .map(|l| l.0.as_str())
            .collect();
        assert_eq!(
            would,
            vec!["_ga", "_ga_ABC", "_fbp", "ZD-settings", "mystery"]
        );
        let plan = p.plan_request(&c, "_ga=1; _fbp=2");
        assert_eq!(plan, RequestPlan::default());
    }

    #[test]
    fn deletions_always_pass() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=none", false);
        let mut h = response(&[
            "_ga=; Max-Age=0; Path=/",
            "_fbp=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "_gid=x; Max-Age=100",
        ]);
        let mut obs = Collect::default();
        assert!(p.filter_set_cookies(&c, &mut h, NOW, &mut obs));
        // The deletions pass as the proxy's own lines: no byte of the upstream's value or
        // attributes beyond the cookie's scope reaches the browser.
        assert_eq!(
            set_cookies(&h),
            vec![
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
                "_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
            ]
        );
        assert_eq!(obs.lines[0].1, Action::Pass);
        assert_eq!(obs.lines[2].1, Action::Block);
    }

    #[test]
    fn lines_only_the_rfc_reads_as_deletions_are_blocked() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=none", false);
        let lines = [
            "_ga=E1; Max-Age=0; Max-Age=+34560000; Path=/",
            "_ga=E2; Max-Age=0; Max-Age=abc",
            "_gid=E3; Expires=Thu, 1st Jan 1970 00:00:00 GMT",
            "_gid=E4; Expires=01x Jan 1970 00:00:00 GMT",
            "=_ga=E5; Max-Age=0",
        ];
        let mut h = response(&lines);
        assert!(p.filter_set_cookies(&c, &mut h, NOW, &mut Ignore));
        assert!(set_cookies(&h).is_empty(), "{:?}", set_cookies(&h));
        // Granted: byte-identical, whatever the attributes say.
        let c = p.decide("consentry=analytics", false);
        let mut h = response(&lines[..4]);
        assert!(!p.filter_set_cookies(&c, &mut h, NOW, &mut Ignore));
        assert_eq!(set_cookies(&h), lines[..4].to_vec());
    }

    #[test]
    fn cleanup_is_bounded_and_deduplicated() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=none", false);
        // 6,000 distinct denied names and a deep host: the lines stay within the bounds.
        let header: Vec<String> = (0..6000).map(|i| format!("_ga_{i}=")).collect();
        let header = header.join(";");
        let plan = p.plan_request(&c, &header);
        assert_eq!(plan.denied.len(), 6000);
        let mut obs = Collect::default();
        let lines = p.cleanup_lines(&plan, "a.b.c.d.e.f.g.h.i.j.example.com", &mut obs);
        let bytes: usize = lines.iter().map(String::len).sum();
        assert!(bytes <= MAX_CLEANUP_BYTES, "{bytes}");
        assert!(lines.len() <= MAX_CLEANUP_LINES);
        assert_eq!(obs.deletions.len(), lines.len());
        // Whole cookies only: each name has its host-only line and its four domain lines.
        assert_eq!(lines.len() % 5, 0);
        // Repeated names are expired once.
        let plan = p.plan_request(&c, "_ga=1; _ga=2; _ga=3; _fbp=1");
        let lines = p.cleanup_lines(&plan, "www.example.com", &mut Ignore);
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn unclassified_mapped_to_a_category() {
        let p = policy(Mode::Enforce, Unclassified::Category(CategoryId(1)));
        let c = p.decide("consentry=functional", false);
        let (v, _) = p.judge(&c, b"mystery=1", NOW);
        assert_eq!(v.action, Action::Pass);
        assert_eq!(v.category, Some(CategoryId(1)));
        assert_eq!(p.rule_label(v.class), "(unclassified)");
        let c = p.decide("consentry=analytics", false);
        assert_eq!(p.judge(&c, b"mystery=1", NOW).0.action, Action::Block);
    }

    #[test]
    fn nameless_cookies_are_judged_by_the_name_they_present() {
        let p = policy(Mode::Enforce, Unclassified::Allow);
        let c = p.decide("consentry=none", false);
        let (v, name) = p.judge(&c, b"=_ga=GA1.2", NOW);
        assert_eq!(name, b"_ga");
        assert_eq!(v.action, Action::Block);
        assert_eq!(p.judge(&c, b"_ga", NOW).0.action, Action::Block);
    }

    /// `n` cookies `name=x`: every third an analytics one (`_ga_<i>`), the others unknown.
    fn every_third_analytics(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                if i % 3 == 0 {
                    format!("_ga_{i}=x")
                } else {
                    format!("k{i}=x")
                }
            })
            .collect()
    }

    #[test]
    fn more_than_64_lines() {
        let p = policy(Mode::Enforce, Unclassified::Allow);
        let c = p.decide("consentry=none", false);
        let lines = every_third_analytics(150);
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut h = response(&refs);
        assert!(p.filter_set_cookies(&c, &mut h, NOW, &mut Ignore));
        let kept = set_cookies(&h);
        assert_eq!(kept.len(), 100);
        assert!(kept.iter().all(|l| l.starts_with('k')));
    }

    #[test]
    fn request_with_more_than_64_cookies() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=functional", false);
        let pairs = every_third_analytics(150);
        let header = pairs.join("; ");
        let plan = p.plan_request(&c, &header);
        assert_eq!(plan.denied.len(), 50);
        let kept: Vec<&str> = pairs
            .iter()
            .filter(|p| p.starts_with('k'))
            .map(String::as_str)
            .collect();
        assert_eq!(plan.forward, CookieEdit::Rewrite(kept.join("; ")));
    }

    #[test]
    fn request_cookies_of_denied_categories_are_stripped_and_expired() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=functional", false);
        let header =
            "_zendesk_session=s; _ga=GA1; consentry=functional; ZD-settings=1; app=2; _gcl_au=3";
        let plan = p.plan_request(&c, header);
        assert_eq!(
            plan.denied,
            vec![("_ga", CategoryId(2)), ("_gcl_au", CategoryId(3))]
        );
        assert_eq!(
            plan.forward,
            CookieEdit::Rewrite(
                "_zendesk_session=s; consentry=functional; ZD-settings=1; app=2".into()
            )
        );
        let mut obs = Collect::default();
        let lines = p.cleanup_lines(&plan, "www.example.com", &mut obs);
        assert_eq!(lines.len(), 6);
        assert!(lines.iter().all(|l| l.contains("Max-Age=0")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("_ga=;") && l.ends_with("Domain=example.com")));
        p.report_stripped(&plan, &mut obs);
        assert_eq!(obs.stripped, vec!["_ga", "_gcl_au"]);
    }

    #[test]
    fn request_header_removed_when_nothing_is_left() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("", false);
        let plan = p.plan_request(&c, "_ga=1; _fbp=2");
        assert_eq!(plan.forward, CookieEdit::Remove);
        let none = p.plan_request(&c, "app=1; other=2");
        assert_eq!(none, RequestPlan::default());
    }

    #[test]
    fn gpc_strips_advertising_even_with_full_consent() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let c = p.decide("consentry=all", true);
        let plan = p.plan_request(&c, "consentry=all; _fbp=2; _ga=1");
        assert_eq!(plan.denied, vec![("_fbp", CategoryId(3))]);
    }

    /// A `Set-Cookie` line from pieces that exercise the judge: known and unknown names,
    /// deletions, attributes, odd spacing and bytes.
    fn line_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = prop_oneof![
            Just("_ga"),
            Just("_ga_X1"),
            Just("_gid"),
            Just("_fbp"),
            Just("IDE"),
            Just("_gcl_au"),
            Just("consentry"),
            Just("session"),
            Just("_zendesk_session"),
            Just(""),
            Just(" _ga "),
            Just("__Host-x"),
        ];
        let value = prop_oneof![Just(""), Just("1"), Just("GA1.2.3"), Just("a b")];
        let attrs = proptest::collection::vec(
            prop_oneof![
                Just("; Max-Age=0"),
                Just("; Max-Age=3600"),
                Just("; Expires=Thu, 01 Jan 1970 00:00:00 GMT"),
                Just("; Expires=Fri, 01 Jan 2038 00:00:00 GMT"),
                Just("; Path=/"),
                Just("; Domain=.example.com"),
                Just("; Secure"),
                Just("; HttpOnly"),
                Just(";;"),
            ],
            0..4,
        );
        (name, prop_oneof![Just("="), Just("")], value, attrs)
            .prop_map(|(n, eq, v, a)| format!("{n}{eq}{v}{}", a.concat()))
    }

    proptest::proptest! {
        /// The raw-bytes filter (the own HTTP/1.1 path) and the header map filter (hyper's path)
        /// keep the same lines, in the same order, and report the same change.
        #[test]
        fn raw_and_header_map_filters_agree(
            lines in proptest::collection::vec(line_strategy(), 0..80),
            report_only in proptest::prelude::any::<bool>(),
            unclassified_allow in proptest::prelude::any::<bool>(),
            cookie in proptest::sample::select(vec!["", "consentry=analytics", "consentry=all", "consentry=none"]),
            gpc in proptest::prelude::any::<bool>(),
        ) {
            let mode = if report_only { Mode::ReportOnly } else { Mode::Enforce };
            let unclassified = if unclassified_allow { Unclassified::Allow } else { Unclassified::Deny };
            let p = policy(mode, unclassified);
            let c = p.decide(cookie, gpc);
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let mut h = response(&refs);
            let mut obs_map = Collect::default();
            let changed_map = p.filter_set_cookies(&c, &mut h, NOW, &mut obs_map);
            let mut obs_raw = Collect::default();
            let mut kept: Vec<String> = Vec::new();
            let changed_raw = p.filter_set_cookie_lines(
                &c,
                lines.iter().map(|l| l.as_bytes()),
                NOW,
                &mut obs_raw,
                |l| kept.push(String::from_utf8(l.into_owned()).unwrap()),
            );
            proptest::prop_assert_eq!(changed_map, changed_raw);
            proptest::prop_assert_eq!(set_cookies(&h), kept.iter().map(String::as_str).collect::<Vec<_>>());
            proptest::prop_assert_eq!(obs_map.lines, obs_raw.lines);
        }
    }
}
