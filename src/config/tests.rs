use std::path::Path;

use super::*;

const BASE: &str = r#"
[listen]
http = "127.0.0.1:8080"

[upstream]
url = "http://127.0.0.1:3000"

[categories.essential]
required = true
cookies = ["_zendesk_session"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]

[categories.advertising]
cookies = ["_fbp", "_gcl_*"]
"#;

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(Path::new("test.toml"), text)
}

fn error(text: &str) -> ConfigError {
    load(text).expect_err("config should be rejected")
}

fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn the_base_config_loads_with_defaults() {
    let c = load(BASE).unwrap();
    assert_eq!(c.listen.http, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(c.admin.listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert_eq!(c.upstream.authority.as_str(), "127.0.0.1:3000");
    assert_eq!(c.upstream.connect_timeout, Duration::from_secs(3));
    assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
    let p = &c.policy;
    assert_eq!(p.categories.len(), 3);
    assert_eq!(p.categories.name(CategoryId(0)), "essential");
    assert_eq!(p.categories.name(CategoryId(2)), "advertising");
    assert_eq!(p.mode, Mode::Enforce);
    assert_eq!(p.unclassified, Unclassified::Deny);
    assert!(p.cleanup && p.strip_request);
    // GPC defaults to advertising when such a category exists.
    assert_eq!(p.consent.gpc, [CategoryId(2)].into_iter().collect());
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn the_shipped_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/consentry.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.policy.categories.len() >= 4);
}

#[test]
fn unknown_keys_name_the_key_and_line() {
    let e = error(&BASE.replace("[upstream]", "[upstream]\nurll = \"x\""));
    assert_eq!(e.key, "upstream.urll");
    assert_eq!(e.line, Some(6));
    assert!(e.reason.contains("unknown field"), "{e}");
    assert!(
        e.to_string().starts_with("test.toml:6: upstream.urll: "),
        "{e}"
    );

    let e = error(&with("[consent]\nmode = \"enforce\"\nfoo = 1"));
    assert_eq!(e.key, "consent.foo");
    let e = error(&with("[unknown]\nx = 1"));
    assert!(e.reason.contains("unknown field"), "{e}");
}

#[test]
fn bad_durations_are_errors() {
    let e = error(&BASE.replace(
        "url = \"http://127.0.0.1:3000\"",
        "url = \"http://127.0.0.1:3000\"\nconnect_timeout = \"3 parsecs\"",
    ));
    assert_eq!(e.key, "upstream.connect_timeout");
    assert!(e.line.is_some());
    let ok = load(&BASE.replace(
        "url = \"http://127.0.0.1:3000\"",
        "url = \"http://127.0.0.1:3000\"\nconnect_timeout = \"500ms\"\nresponse_timeout = \"2m\"",
    ))
    .unwrap();
    assert_eq!(ok.upstream.connect_timeout, Duration::from_millis(500));
    assert_eq!(ok.upstream.response_timeout, Duration::from_secs(120));
    let e = error(&with("[server]\nheader_read_timeout = \"0s\""));
    assert_eq!(e.key, "server.header_read_timeout");
}

#[test]
fn the_http1_path_is_fast_or_hyper() {
    assert_eq!(load(BASE).unwrap().server.http1, Http1::Fast);
    for (v, want) in [("fast", Http1::Fast), ("hyper", Http1::Hyper)] {
        let c = load(&with(&format!("[server]\nhttp1 = \"{v}\""))).unwrap();
        assert_eq!(c.server.http1, want);
    }
    let e = error(&with("[server]\nhttp1 = \"quick\""));
    assert_eq!(e.key, "server.http1");
    assert_eq!(e.file, Path::new("test.toml"));
    assert!(e.to_string().contains("test.toml"), "{e}");
    assert!(e.reason.contains("\"quick\""), "{}", e.reason);
}

#[test]
fn unknown_categories_in_gpc_and_unclassified() {
    let e = error(&with("[consent]\ngpc = [\"marketing\"]"));
    assert_eq!(e.key, "consent.gpc");
    assert!(e.reason.contains("\"marketing\""), "{e}");
    assert!(
        e.reason.contains("essential, analytics, advertising"),
        "{e}"
    );

    let e = error(&with("[consent]\nunclassified = \"marketing\""));
    assert_eq!(e.key, "consent.unclassified");
    let c = load(&with("[consent]\nunclassified = \"analytics\"")).unwrap();
    assert_eq!(c.policy.unclassified, Unclassified::Category(CategoryId(1)));
    let c = load(&with("[consent]\nunclassified = \"allow\"")).unwrap();
    assert_eq!(c.policy.unclassified, Unclassified::Allow);
}

#[test]
fn duplicate_exact_names_are_errors() {
    let e = error(&BASE.replace("[\"_fbp\", \"_gcl_*\"]", "[\"_fbp\", \"_ga\"]"));
    assert_eq!(e.key, "categories.advertising.cookies");
    assert!(
        e.reason
            .contains("\"_ga\" is listed in both \"analytics\" and \"advertising\""),
        "{e}"
    );
}

#[test]
fn tied_globs_are_errors() {
    let e = error(&BASE.replace("[\"_fbp\", \"_gcl_*\"]", "[\"_fbp\", \"*_ga_\"]"));
    assert_eq!(e.key, "categories.advertising.cookies");
    assert!(
        e.reason.contains("same number of literal characters"),
        "{e}"
    );
}

#[test]
fn no_categories_is_an_error() {
    let text = "[listen]\nhttp = \"127.0.0.1:1\"\n[upstream]\nurl = \"http://127.0.0.1:2\"\n";
    let e = error(text);
    assert_eq!(e.key, "categories");
}

#[test]
fn other_validation_errors() {
    let e = error(&BASE.replace("http://127.0.0.1:3000", "ftp://x"));
    assert_eq!(e.key, "upstream.url");
    let e = error(&BASE.replace("http://127.0.0.1:3000", "http://127.0.0.1:3000/app"));
    assert_eq!(e.key, "upstream.url");
    let e = error(&BASE.replace("127.0.0.1:8080", "localhost"));
    assert_eq!(e.key, "listen.http");
    let e = error(&with("[consent]\nmode = \"strict\""));
    assert_eq!(e.key, "consent.mode");
    let e = error(&with("[consent]\nundecided = \"maybe\""));
    assert_eq!(e.key, "consent.undecided");
    let e = error(&with("[consent]\nsources = [\"consentry\", \"nosuchcmp\"]"));
    assert_eq!(e.key, "consent.sources");
    let e = error(&with("[consent]\nsources = [\"consentry\", \"consentry\"]"));
    assert_eq!(e.key, "consent.sources");
    let e = error(&with("[consent]\ncookie = \"bad name\""));
    assert_eq!(e.key, "consent.cookie");
    let e = error(&with("[consent]\ncleanup_paths = [\"shop\"]"));
    assert_eq!(e.key, "consent.cleanup_paths");
    let e = error(&BASE.replace("\"_fbp\"", "\"_f;bp\""));
    assert_eq!(e.key, "categories.advertising.cookies");
    let e = error(&BASE.replace("[categories.analytics]", "[categories.\"ana lytics\"]"));
    assert_eq!(e.key, "categories.ana lytics");
    let e = error(
        &with("[listen]\nhttps = \"127.0.0.1:8443\"")
            .replace("[listen]\nhttp = \"127.0.0.1:8080\"\n", ""),
    );
    assert_eq!(e.key, "listen.https");
    let e = error(&BASE.replace("[upstream]\nurl = \"http://127.0.0.1:3000\"", ""));
    assert_eq!(e.key, "upstream.url");
    let e = error(&with("[server]\nworkers = 0"));
    assert_eq!(e.key, "server.workers");
    let e = error(&with("[consent.consentry]\nx = \"y\""));
    assert_eq!(e.key, "consent.consentry.x");
}

#[test]
fn warnings_for_short_globs_and_open_admin() {
    let c =
        load(&with("[admin]\nlisten = \"0.0.0.0:9090\"").replace("\"_gcl_*\"", "\"_g*\"")).unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("\"_g*\" has fewer than 3 literal")),
        "{:?}",
        c.warnings
    );
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("not a loopback address")),
        "{:?}",
        c.warnings
    );
    let c = load(&with(
        "[admin]\nlisten = \"0.0.0.0:9090\"\ntoken = \"s3cret\"",
    ))
    .unwrap();
    assert!(!c.warnings.iter().any(|w| w.contains("loopback")));
    // An IPv4-mapped loopback address is loopback.
    let c = load(&with("[admin]\nlisten = \"[::ffff:127.0.0.1]:9090\"")).unwrap();
    assert!(
        !c.warnings.iter().any(|w| w.contains("loopback")),
        "{:?}",
        c.warnings
    );
    let c = load(&with("[admin]\nlisten = \"\"")).unwrap();
    assert_eq!(c.admin.listen, None);
}

#[test]
fn categories_keep_file_order() {
    let c = load(&BASE.replace(
        "[categories.essential]",
        "[categories.zzz]\ncookies = [\"z\"]\n\n[categories.essential]",
    ))
    .unwrap();
    assert_eq!(c.policy.categories.name(CategoryId(0)), "zzz");
    assert_eq!(c.policy.categories.name(CategoryId(1)), "essential");
}

#[test]
fn includes_merge_cookie_lists() {
    let dir = std::env::temp_dir().join(format!("consentry-include-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(
        dir.join("catalog/trackers.toml"),
        "[categories.analytics]\ncookies = [\"_hjid\", \"_ga\"]\n[categories.advertising]\ncookies = [\"_ttp\"]\n",
    )
    .unwrap();
    let main = dir.join("main.toml");
    std::fs::write(
        &main,
        format!("include = [\"catalog/trackers.toml\"]\n{BASE}"),
    )
    .unwrap();
    let c = Config::load(&main).unwrap();
    let m = &c.policy.matcher;
    assert_eq!(
        m.rule(m.classify(b"_hjid").unwrap()).category,
        CategoryId(1)
    );
    assert_eq!(m.rule(m.classify(b"_ttp").unwrap()).category, CategoryId(2));

    // A conflicting include and an include naming an unknown category are errors.
    std::fs::write(
        dir.join("bad.toml"),
        "[categories.advertising]\ncookies = [\"_ga\"]\n",
    )
    .unwrap();
    std::fs::write(&main, format!("include = [\"bad.toml\"]\n{BASE}")).unwrap();
    let e = Config::load(&main).unwrap_err();
    assert!(e.reason.contains("listed in both"), "{e}");
    std::fs::write(
        dir.join("bad.toml"),
        "[categories.marketing]\ncookies = [\"_x\"]\n",
    )
    .unwrap();
    let e = Config::load(&main).unwrap_err();
    assert_eq!(e.file, dir.join("bad.toml"));
    assert_eq!(e.key, "categories.marketing");
    std::fs::write(&main, format!("include = [\"missing.toml\"]\n{BASE}")).unwrap();
    let e = Config::load(&main).unwrap_err();
    assert_eq!(e.key, "include");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_names_the_file() {
    let e = Config::load(Path::new("/nonexistent/consentry.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/consentry.toml: cannot read the file"),
        "{e}"
    );
}

#[test]
fn includes_are_regular_bounded_files_and_errors_quote_no_content() {
    for target in ["/dev/zero", "/proc/self/environ"] {
        let text = format!("include = [\"{target}\"]\n{BASE}");
        let e = error(&text);
        let shown = e.to_string();
        // No variable name or value of the environment reaches the message.
        for (k, v) in std::env::vars() {
            if k.len() > 3 && !target.contains(&k) {
                assert!(!shown.contains(&format!("{k}=")), "{shown}");
            }
            if v.len() > 12 {
                assert!(!shown.contains(&v), "{shown}");
            }
        }
        if target == "/dev/zero" {
            assert!(shown.contains("not a regular file"), "{shown}");
        }
    }
}

#[test]
fn cookie_names_browsers_store_are_accepted() {
    // Chromium stores and sends names with spaces, quotes and commas inside.
    let c = load(&BASE.replace(
        "cookies = [\"_ga\", \"_ga_*\"]",
        "cookies = [\"_ga\", \"_ga_*\", \"foo bar\", \"\\\"foo\", \"a,b\"]",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let m = &c.policy.matcher;
    assert!(m.classify(b"foo bar").is_some());
    assert!(m.classify(b"\"foo").is_some());
    // What a browser never stores is refused: controls, `;`, `=`, outer whitespace.
    for bad in ["a;b", "a=b", "a\\u0001", " lead", "trail\\t"] {
        let e = error(&BASE.replace(
            "cookies = [\"_ga\", \"_ga_*\"]",
            &format!("cookies = [\"_ga\", \"{bad}\"]"),
        ));
        assert_eq!(e.key, "categories.analytics.cookies", "{bad}: {e}");
    }
}
