//! The request path allocates nothing on the common path: deciding consent, judging every
//! `Set-Cookie` line and filtering a response whose lines all pass keep the original
//! `HeaderValue`s and touch no heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use consentry::config::Config;
use consentry::policy::filter::Ignore;
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = COUNT.with(Cell::get);
    f();
    COUNT.with(Cell::get) - before
}

const CONFIG: &str = r#"
[listen]
http = "127.0.0.1:0"
[upstream]
url = "http://127.0.0.1:1"
[categories.essential]
required = true
cookies = ["_zendesk_session", "__cf_bm"]
[categories.functional]
cookies = ["ZD-settings", "*.conversationStartedAt"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid"]
[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*"]
"#;

const LINES: &[&str] = &[
    "_zendesk_session=abc; Path=/; HttpOnly",
    "__cf_bm=x; Path=/; Expires=Wed, 01 Jan 2099 00:00:00 GMT",
    "ZD-settings=1; Path=/",
    "_ga=GA1.1.1.1; Path=/; Max-Age=63072000",
    "_ga_XYZ=GS1.1; Path=/",
    "_gcl_au=1.1; Path=/",
    "_fbp=fb.1; Path=/",
    "abc.conversationStartedAt=1; Path=/",
];

#[test]
fn the_common_path_does_not_allocate() {
    let config = Config::from_str(Path::new("alloc.toml"), CONFIG).unwrap();
    let p = config.policy.clone();
    let cookie = "_zendesk_session=abc; _ga=GA1.1.1.1; consentry=all; _fbp=fb.1; a=1; b=2; c=3";
    let mut h = HeaderMap::with_capacity(16);
    for l in LINES {
        h.append(SET_COOKIE, HeaderValue::from_static(l));
    }
    let before: Vec<*const u8> = h
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.as_bytes().as_ptr())
        .collect();

    // Warm up anything lazily initialised.
    let c = p.decide(cookie, false);
    p.filter_set_cookies(&c, &mut h.clone(), 0, &mut Ignore);

    let n = allocations(|| {
        let consent = p.decide(cookie, false);
        let plan = p.plan_request(&consent, cookie);
        assert_eq!(plan.forward, consentry::policy::filter::CookieEdit::Keep);
        let changed = p.filter_set_cookies(&consent, &mut h, 1_700_000_000, &mut Ignore);
        assert!(!changed);
    });
    assert_eq!(n, 0, "the common path allocated {n} times");
    // Kept lines are the very same buffers.
    let after: Vec<*const u8> = h
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.as_bytes().as_ptr())
        .collect();
    assert_eq!(before, after);

    // No cookie at all (a first visit) and a visitor who denied everything: deciding and judging
    // still allocate nothing; only removing lines from the map does.
    for cookie in ["", "consentry=none"] {
        let n = allocations(|| {
            let consent = p.decide(cookie, false);
            for l in LINES {
                std::hint::black_box(p.judge(&consent, l.as_bytes(), 1_700_000_000));
            }
        });
        assert_eq!(
            n, 0,
            "deciding and judging for {cookie:?} allocated {n} times"
        );
    }
    let consent = p.decide("consentry=none", false);
    let mut denied = h.clone();
    let n = allocations(|| {
        assert!(p.filter_set_cookies(&consent, &mut denied, 1_700_000_000, &mut Ignore));
    });
    assert!(n <= 1, "removing lines allocated {n} times");
    assert_eq!(denied.get_all(SET_COOKIE).iter().count(), 2);
}
