//! Shared bench fixtures: rule sets of a given size, realistic headers.
#![allow(dead_code)]

use std::path::Path;

use consentry::config::Config;
use consentry::policy::Policy;

/// A configuration with about `rules` patterns: a tenth of them globs, in four categories.
pub fn config_with_rules(rules: usize) -> Config {
    let mut cats: [Vec<String>; 4] = Default::default();
    // Real names first so lookups hit realistic entries.
    let real: [&[&str]; 4] = [
        &["_zendesk_session", "__cf_bm", "_help_center_session"],
        &["ZD-settings", "ZD-store", "*.conversationStartedAt"],
        &["_ga", "_ga_*", "_gid", "_gat_*"],
        &["_fbp", "IDE", "_gcl_*"],
    ];
    for (i, r) in real.iter().enumerate() {
        cats[i].extend(r.iter().map(|s| s.to_string()));
    }
    let mut i = 0;
    while cats.iter().map(Vec::len).sum::<usize>() < rules {
        let c = i % 4;
        if i % 10 == 9 {
            cats[c].push(format!("vendor{i:04}_*"));
        } else if i % 10 == 8 {
            cats[c].push(format!("*.tracker{i:04}"));
        } else {
            cats[c].push(format!("cookie_{i:05}_{}", ["id", "sess", "uid", "ref"][c]));
        }
        i += 1;
    }
    let list = |v: &Vec<String>| {
        v.iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "[listen]\nhttp = \"127.0.0.1:0\"\n[admin]\nlisten = \"\"\n[upstream]\nurl = \"http://127.0.0.1:1\"\n\
         [categories.essential]\nrequired = true\ncookies = [{}]\n[categories.functional]\ncookies = [{}]\n\
         [categories.analytics]\ncookies = [{}]\n[categories.advertising]\ncookies = [{}]\n",
        list(&cats[0]), list(&cats[1]), list(&cats[2]), list(&cats[3])
    );
    Config::from_str(Path::new("bench.toml"), &text).unwrap()
}

pub fn policy_with_rules(rules: usize) -> std::sync::Arc<Policy> {
    config_with_rules(rules).policy
}

/// The site's session cookies and the analytics cookies a request header starts with.
pub const SITE_AND_ANALYTICS: [&str; 5] = [
    "_zendesk_session=BAh7CEkiD3Nlc3Npb25faWQGOgZFVEkiJWM1YjQ3",
    "__cf_bm=q8GfV0Zs7x3Yk0aZ.1700000000-0-AQ",
    "_ga=GA1.1.1234567890.1700000000",
    "_ga_ABC123XYZ=GS1.1.1700000000.1.1.1700000001.0.0.0",
    "_gid=GA1.2.987654321.1700000000",
];

/// A realistic 30-cookie request header of a visitor who granted analytics only.
pub fn cookie_header_30() -> String {
    let mut parts: Vec<String> = SITE_AND_ANALYTICS.iter().map(|s| s.to_string()).collect();
    parts.extend([
        "consentry=analytics".to_string(),
        "ZD-settings=%7B%22a%22%3A1%7D".to_string(),
    ]);
    for i in parts.len()..30 {
        parts.push(format!("app_pref_{i}=value{i}"));
    }
    parts.join("; ")
}

/// Eight Set-Cookie lines: one per category, a glob hit, an unclassified one and a deletion.
pub const SET_COOKIE_8: &[&str] = &[
    "_zendesk_session=BAh7CEkiD3Nlc3Npb25f; Path=/; HttpOnly; Secure; SameSite=Lax",
    "__cf_bm=q8GfV0Zs7x3Yk0aZ; Path=/; Expires=Wed, 01 Jan 2099 00:00:00 GMT; Domain=example.com; HttpOnly; Secure",
    "ZD-settings=%7B%22a%22%3A1%7D; Path=/; Max-Age=31536000",
    "_ga=GA1.1.1234567890.1700000000; Path=/; Domain=example.com; Max-Age=63072000",
    "_ga_ABC123XYZ=GS1.1.1700000000.1.1; Path=/; Domain=example.com; Max-Age=63072000",
    "_gcl_au=1.1.1234567890.1700000000; Path=/; Max-Age=7776000",
    "_fbp=fb.1.1700000000000.1234567890; Path=/; Max-Age=7776000",
    "experiment_bucket=b; Path=/",
];
