//! Per-`Set-Cookie` classification cost with 20 and with 2,000 rules.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

fn classify(c: &mut Criterion) {
    let names: &[&[u8]] = &[
        b"_ga",
        b"_ga_ABC123XYZ",
        b"_gcl_au",
        b"experiment_bucket",
        b"abc.conversationStartedAt",
        b"_zendesk_session",
    ];
    let mut g = c.benchmark_group("classify_set_cookie_line");
    g.throughput(Throughput::Elements(super_len(names)));
    for rules in [20usize, 2000] {
        let p = common::policy_with_rules(rules);
        let lines: Vec<Vec<u8>> = common::SET_COOKIE_8
            .iter()
            .map(|l| l.as_bytes().to_vec())
            .collect();
        let consent = p.decide("consentry=analytics", false);
        g.bench_with_input(BenchmarkId::new("judge_line", rules), &rules, |b, _| {
            b.iter(|| {
                for l in &lines {
                    black_box(p.judge(&consent, black_box(l), 1_700_000_000));
                }
            })
        });
        g.bench_with_input(BenchmarkId::new("classify_name", rules), &rules, |b, _| {
            b.iter(|| {
                for n in names {
                    black_box(p.classify(black_box(n)));
                }
            })
        });
    }
    g.finish();
}

fn super_len(names: &[&[u8]]) -> u64 {
    names.len() as u64
}

criterion_group!(benches, classify);
criterion_main!(benches);
