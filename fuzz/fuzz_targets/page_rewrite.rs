//! The page rewriter on arbitrary HTML in arbitrary chunks. The first byte picks the visitor's
//! consent (bit 0 functional, bit 1 analytics, bit 2 advertising granted) and bit 3 report-only;
//! the second seeds the chunk sizes; the rest is the page.
//!
//! Checks besides "no panic": the output and the reported elements do not depend on how the page
//! is cut into chunks; a visitor who granted everything gets the page byte for byte unless some
//! opt-in markup was activated; report-only mode passes every byte through the body wrapper
//! unchanged.
#![no_main]

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use consentry::page::body::{Coding, RewriteBody};
use consentry::page::rewrite::{rewrite_page, Rewriter};
use consentry::page::{PageAction, PageConfig, PagePlan, Prelude, Recorder};
use consentry::policy::categories::CategoryId;
use consentry::policy::consent::{ConsentPolicy, SourceSpec, Undecided};
use consentry::policy::rules::Matcher;
use consentry::policy::scripts::ScriptMatcher;
use consentry::policy::{CleanupOptions, Mode, Policy, PolicyParts, Unclassified};
use consentry_fuzz::{advertising, all_specs, categories};
use http_body::{Body, Frame};
use libfuzzer_sys::fuzz_target;

const SCRIPTS: &[(&str, u8)] = &[
    ("google-analytics.com", 2),
    ("googletagmanager.com", 2),
    ("googletagmanager.com/gtag/js?id=AW-*", 3),
    ("*.hotjar.com", 2),
    ("clarity.ms", 2),
    ("connect.facebook.net", 3),
    ("facebook.com/tr", 3),
    ("snap.licdn.com", 3),
    ("youtube.com/embed", 3),
    ("widget.intercom.io", 1),
];

fn policy(mode: Mode) -> Policy {
    let sources: Vec<SourceSpec> = all_specs().to_vec();
    Policy::new(PolicyParts {
        categories: categories().clone(),
        matcher: Matcher::new([("_ga", CategoryId(2))]).expect("matcher"),
        consent: ConsentPolicy {
            sources,
            undecided: Undecided::Deny,
            gpc: advertising(),
        },
        mode,
        unclassified: Unclassified::Deny,
        cleanup: CleanupOptions::default(),
        strip_request: true,
    })
    .with_scripts(
        ScriptMatcher::new(SCRIPTS.iter().map(|&(p, c)| (p, CategoryId(c)))).expect("scripts"),
    )
}

fn setup(mode: Mode) -> &'static (Policy, Arc<PageConfig>) {
    static ENFORCE: OnceLock<(Policy, Arc<PageConfig>)> = OnceLock::new();
    static REPORT: OnceLock<(Policy, Arc<PageConfig>)> = OnceLock::new();
    let cell = if mode == Mode::Enforce {
        &ENFORCE
    } else {
        &REPORT
    };
    cell.get_or_init(|| {
        let p = policy(mode);
        let c = Arc::new(PageConfig::defaults(&p));
        (p, c)
    })
}

fn plan(mode: Mode, granted: u8) -> PagePlan {
    let (policy, config) = setup(mode);
    let names = ["functional", "analytics", "advertising"];
    let list: Vec<&str> = (0..3)
        .filter(|i| granted & (1 << i) != 0)
        .map(|i| names[i])
        .collect();
    let cookie = format!(
        "consentry={}",
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(",")
        }
    );
    PagePlan::new(policy, &policy.decide(&cookie, false), config)
}

/// Chunk lengths from a seed: 1 to 64 bytes, varying.
fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut s = seed as usize | 1;
    while at < data.len() {
        s = s.wrapping_mul(1103515245).wrapping_add(12345) & 0x7fff_ffff;
        let n = (s % 64 + 1).min(data.len() - at);
        out.push(&data[at..at + n]);
        at += n;
    }
    out
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

fuzz_target!(|data: &[u8]| {
    let [flags, seed, page @ ..] = data else {
        return;
    };
    let granted = flags & 7;
    let mode = if flags & 8 != 0 {
        Mode::ReportOnly
    } else {
        Mode::Enforce
    };

    // Whole page at once.
    let whole_events = Recorder::default();
    let whole = rewrite_page(
        page,
        plan(mode, granted),
        &Prelude::none(),
        Box::new(whole_events.clone()),
    )
    .expect("the rewriter gives up gracefully, never with an error");

    // The same page in chunks.
    let events = Recorder::default();
    let mut r = Rewriter::new(
        plan(mode, granted),
        &Prelude::none(),
        Box::new(events.clone()),
        None,
    );
    let mut out = Vec::new();
    for c in chunks(page, *seed) {
        r.write(c).expect("write");
        r.drain_into(&mut out);
    }
    r.end().expect("end");
    r.drain_into(&mut out);
    assert_eq!(out, whole, "output depends on chunking");
    assert_eq!(
        events.events(),
        whole_events.events(),
        "events depend on chunking"
    );

    if mode == Mode::ReportOnly {
        assert!(whole.is_empty(), "report-only writes nothing");
        let frames = chunks(page, *seed)
            .into_iter()
            .map(Bytes::copy_from_slice)
            .collect();
        let mut body = RewriteBody::new(
            Frames(frames),
            plan(mode, granted),
            Coding::Identity,
            &Prelude::none(),
            Box::new(Recorder::default()),
        );
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut passed = Vec::new();
        while let Poll::Ready(Some(f)) = Pin::new(&mut body).poll_frame(&mut cx) {
            passed.extend_from_slice(&f.expect("identity never fails").into_data().expect("data"));
        }
        assert_eq!(passed, page, "report-only changes nothing");
    } else if granted == 7 {
        let activated = whole_events
            .events()
            .iter()
            .any(|e| matches!(e.action, PageAction::Activate(_)));
        if !activated {
            assert_eq!(whole, page, "nothing to change, yet the page changed");
        }
    }
});
