//! The whole response filter: a 30-cookie request and a response with 8 `Set-Cookie` lines.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use std::hint::black_box;

use consentry::policy::filter::Ignore;

fn response() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for l in common::SET_COOKIE_8 {
        h.append(SET_COOKIE, HeaderValue::from_static(l));
    }
    h
}

fn whole_filter(c: &mut Criterion) {
    let p = common::policy_with_rules(300);
    let cookie = common::cookie_header_30();
    let mut g = c.benchmark_group("response_filter");
    g.bench_function("decide_and_filter_8_lines_30_cookies", |b| {
        b.iter_batched_ref(
            response,
            |h| {
                let consent = p.decide(black_box(&cookie), false);
                let plan = p.plan_request(&consent, &cookie);
                let lines = p.cleanup_lines(&plan, "www.example.com", &mut Ignore);
                p.filter_set_cookies(&consent, h, 1_700_000_000, &mut Ignore);
                black_box((lines, plan.forward));
            },
            criterion::BatchSize::SmallInput,
        )
    });
    let all = "consentry=all; ".to_string() + &cookie;
    g.bench_function("all_granted_nothing_changes", |b| {
        b.iter_batched_ref(
            response,
            |h| {
                let consent = p.decide(black_box(&all), false);
                let plan = p.plan_request(&consent, &all);
                black_box(p.filter_set_cookies(&consent, h, 1_700_000_000, &mut Ignore));
                black_box(plan.forward);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, whole_filter);
criterion_main!(benches);
