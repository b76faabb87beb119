//! `Config::from_str` on arbitrary text: errors are fine, panics are not. A configuration that
//! loads must compile into a policy whose matcher agrees with a plain scan of its patterns.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use consentry::config::Config;
use consentry::policy::Class;
use consentry_fuzz::check_classify;
use libfuzzer_sys::fuzz_target;

/// The path the text is read "from": the project's config folder, so relative includes such as
/// `catalog/trackers.toml` resolve to real files.
fn path() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/consentry.toml"))
}

/// Includes are read from disk: keep them inside the config folder, so an input cannot make the
/// target read `/dev/zero` or a pipe.
fn includes_are_safe(text: &str) -> bool {
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return true; // Config::from_str fails at the same step, before reading anything.
    };
    match table.get("include") {
        None => true,
        Some(toml::Value::Array(list)) => list.iter().all(|v| match v.as_str() {
            Some(p) => !p.starts_with('/') && !p.contains("..") && !p.contains('\\'),
            None => true,
        }),
        Some(_) => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !includes_are_safe(text) {
        return;
    }
    let Ok(config) = Config::from_str(path(), text) else {
        return;
    };
    let policy = &config.policy;
    for name in policy.consent_cookies() {
        assert_eq!(policy.classify(name.as_bytes()), Class::Consent, "{name}");
    }
    // The oracle scans every rule for every name it checks, so it is quadratic in the rule
    // count: on a configuration with the shipped catalogue (about 400 rules) checking every rule
    // took seconds per input under AddressSanitizer and tripped libFuzzer's timeout, while
    // loading the same file takes milliseconds. Check at most 24 rules, spread over the list.
    let rules = policy.matcher.rules();
    let stride = rules.len().div_ceil(24).max(1);
    for rule in rules.iter().step_by(stride) {
        let p = rule.pattern.as_bytes();
        check_classify(&policy.matcher, p);
        // The pattern with each `*` replaced by nothing and by some text.
        let empty: Vec<u8> = p.iter().copied().filter(|&b| b != b'*').collect();
        check_classify(&policy.matcher, &empty);
        let filled: Vec<u8> = p
            .iter()
            .flat_map(|&b| if b == b'*' { b"x*y".to_vec() } else { vec![b] })
            .collect();
        check_classify(&policy.matcher, &filled);
        if !rule.is_glob && !policy.consent_cookies().iter().any(|c| c.as_bytes() == p) {
            // An exact name beats every glob.
            match policy.classify(p) {
                Class::Rule(r) => assert_eq!(policy.matcher.rule(r).pattern, rule.pattern),
                other => panic!("exact pattern {:?} classified as {other:?}", rule.pattern),
            }
        }
    }
});
