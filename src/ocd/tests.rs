//! The import end to end: CSV text in, TOML text and warnings out.

mod pinned;

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::rows::is_placeholder;
use super::*;

const HEADER: &str = "ID,Platform,Category,Cookie / Data Key name,Domain,Description,\
                      Retention period,Data Controller,User Privacy & GDPR Rights Portals,\
                      Wildcard match";

/// One CSV row with the OCD's columns (no quoting applied: pass quoted text yourself).
fn row(id: &str, platform: &str, category: &str, name: &str, wildcard: &str) -> String {
    format!("{id},{platform},{category},{name},,desc,1 year,Ctrl,https://x.example/,{wildcard}")
}

fn csv(rows: &[String]) -> String {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s
}

/// The parsed TOML's `categories.<name>.cookies`.
fn cookies(toml_text: &str, category: &str) -> Vec<String> {
    let doc: toml::Table = toml::from_str(toml_text)
        .unwrap_or_else(|e| panic!("the output is not TOML: {e}\n{toml_text}"));
    doc["categories"][category]["cookies"]
        .as_array()
        .expect("a cookies array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

fn all_cookies(toml_text: &str) -> BTreeMap<&'static str, Vec<String>> {
    Category::ALL
        .iter()
        .map(|c| (c.name(), cookies(toml_text, c.name())))
        .collect()
}

// -- header -----------------------------------------------------------------------------

#[test]
fn header_errors() {
    assert_eq!(import("").unwrap_err(), OcdError::Empty);
    assert_eq!(import("\n\n").unwrap_err(), OcdError::Empty);
    assert_eq!(
        import("ID,Platform,Cookie / Data Key name\n").unwrap_err(),
        OcdError::MissingColumn("Category")
    );
    assert_eq!(
        import("ID,Category\n").unwrap_err(),
        OcdError::MissingColumn("Cookie / Data Key name")
    );
    let msg = OcdError::MissingColumn("Category").to_string();
    assert!(msg.contains("\"Category\""), "{msg}");
}

#[test]
fn an_unterminated_quote_fails_the_import() {
    assert_eq!(
        import(&format!("{HEADER}\nx,y,Analytics,\"_ga,,,0\n")).unwrap_err(),
        OcdError::UnterminatedQuote { line: 2 }
    );
}

#[test]
fn minimal_header_in_any_order_and_case() {
    let out = import("cookie / data key name, CATEGORY \n_ga,Analytics\nabc_,marketing\n").unwrap();
    assert_eq!(cookies(&out.toml, "analytics"), vec!["_ga"]);
    assert_eq!(cookies(&out.toml, "advertising"), vec!["abc_"]);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.counts.rows, 2);
}

// -- mapping ----------------------------------------------------------------------------

#[test]
fn category_mapping() {
    let text = csv(&[
        row("1", "P", "Functional", "f1", "0"),
        row("2", "P", "Personalization", "f2", "0"),
        row("3", "P", "Analytics", "a1", "0"),
        row("4", "P", "Marketing", "m1", "0"),
        row("5", "P", "Security", "s1", "0"),
        row("6", "P", "Necessary", "n1", "0"),
        row("7", "P", "Social Media", "x1", "0"),
        row("8", "P", "", "x2", "0"),
    ]);
    let out = import(&text).unwrap();
    let all = all_cookies(&out.toml);
    assert_eq!(all["essential"], vec!["n1", "s1"]);
    assert_eq!(all["functional"], vec!["f1", "f2"]);
    assert_eq!(all["analytics"], vec!["a1"]);
    assert_eq!(all["advertising"], vec!["m1"]);
    assert_eq!(out.counts.skipped_category, 2);
    assert_eq!(out.counts.patterns, [2, 2, 1, 1]);
    assert_eq!(out.counts.ocd_categories["Social Media"], 1);
    assert_eq!(out.counts.ocd_categories["Marketing"], 1);
    assert_eq!(out.warnings.len(), 2);
    assert!(
        out.warnings[0].contains("row 7 (line 8)"),
        "{:?}",
        out.warnings
    );
    assert!(
        out.warnings[0].contains("\"Category\""),
        "{:?}",
        out.warnings
    );
    assert!(
        out.warnings[0].contains("Social Media"),
        "{:?}",
        out.warnings
    );
    assert!(out.warnings[1].contains("row 8"), "{:?}", out.warnings);
}

#[test]
fn essential_is_required() {
    let out = import(&csv(&[row("1", "P", "Security", "csrf", "0")])).unwrap();
    let doc: toml::Table = toml::from_str(&out.toml).unwrap();
    let cats = doc["categories"].as_table().unwrap();
    assert_eq!(cats["essential"]["required"].as_bool(), Some(true));
    for c in ["functional", "analytics", "advertising"] {
        assert!(cats[c].get("required").is_none(), "{c}");
        assert_eq!(cats[c]["cookies"].as_array().unwrap().len(), 0);
    }
    assert_eq!(
        cats.keys().collect::<Vec<_>>(),
        vec!["advertising", "analytics", "essential", "functional"]
    );
    assert_eq!(doc.len(), 1, "only [categories.*] tables");
}

// -- names and globs --------------------------------------------------------------------

#[test]
fn wildcards_become_prefix_globs() {
    let text = csv(&[
        row("1", "Google Analytics", "Analytics", "_ga_", "1"),
        row("2", "Google Analytics", "Analytics", "_ga", "0"),
        row("3", "Adkernel", "Marketing", "SSPR_*", "0"),
        row("4", "Adkernel", "Marketing", "DSP2F_*", "1"),
        row("5", "Case", "Functional", "Abc", "0"),
        row("6", "Case", "Functional", "abc", "0"),
    ]);
    let out = import(&text).unwrap();
    let all = all_cookies(&out.toml);
    assert_eq!(all["analytics"], vec!["_ga", "_ga_*"]);
    assert_eq!(all["advertising"], vec!["DSP2F_*", "SSPR_*"]);
    assert_eq!(
        all["functional"],
        vec!["Abc", "abc"],
        "names are case-sensitive"
    );
    // Only the row whose name itself ends in '*' without the wildcard flag is noted.
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("row 3"), "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("prefix glob"),
        "{:?}",
        out.warnings
    );
    assert_eq!(out.counts.skipped(), 0);
}

#[test]
fn bad_stars_are_skipped() {
    let text = csv(&[
        row("1", "P", "Marketing", "a*b", "0"),
        row("2", "P", "Marketing", "*", "0"),
        row("3", "P", "Marketing", "*", "1"),
        row("4", "P", "Marketing", "ab*c", "1"),
    ]);
    let out = import(&text).unwrap();
    assert!(cookies(&out.toml, "advertising").is_empty());
    assert_eq!(out.counts.skipped_name, 4);
    assert_eq!(out.warnings.len(), 4, "{:?}", out.warnings);
}

#[test]
fn short_globs_are_kept_with_a_warning() {
    let text = csv(&[
        row("1", "P", "Analytics", "_s", "1"),
        row("2", "P", "Analytics", "abc", "1"),
        row("3", "P", "Analytics", "ab", "0"),
    ]);
    let out = import(&text).unwrap();
    assert_eq!(cookies(&out.toml, "analytics"), vec!["_s*", "ab", "abc*"]);
    assert_eq!(out.counts.short_globs, 1);
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("row 1"), "{:?}", out.warnings);
    assert!(out.warnings[0].contains("\"_s*\""), "{:?}", out.warnings);
}

#[test]
fn odd_names_are_skipped_naming_row_and_column() {
    let odd = [
        "",
        "two words",
        "a;b",
        "a,b",
        "a=b",
        "\"quoted\"",
        "it's",
        "tab\tinside",
        "soft\u{ad}hyphen",
        "caf\u{e9}",
        "ctrl\u{1}",
        "del\u{7f}",
        "line\nbreak",
        "pagead/conv/%INTEGER%",
    ];
    let rows: Vec<String> = odd
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            row(&format!("id-{k}"), "P", "Analytics", &quoted, "0")
        })
        .collect();
    let out = import(&csv(&rows)).unwrap();
    assert!(cookies(&out.toml, "analytics").is_empty(), "{}", out.toml);
    assert_eq!(out.counts.skipped_name, odd.len());
    assert_eq!(out.warnings.len(), odd.len(), "{:?}", out.warnings);
    for (k, w) in out.warnings.iter().enumerate() {
        assert!(w.contains(&format!("row id-{k} ")), "{w}");
        assert!(w.contains("column \"Cookie / Data Key name\""), "{w}");
        assert!(w.ends_with("skipped"), "{w}");
        assert!(!w.contains('\n'), "warnings are one line: {w:?}");
    }
}

#[test]
fn surrounding_whitespace_is_trimmed_with_a_warning() {
    let out = import(&csv(&[row("1", "P", "Functional", "\"ce_need\t\"", "0")])).unwrap();
    assert_eq!(cookies(&out.toml, "functional"), vec!["ce_need"]);
    assert_eq!(out.warnings.len(), 1);
    assert!(out.warnings[0].contains("trim"), "{:?}", out.warnings);
}

#[test]
fn unusual_but_valid_names_are_kept() {
    let names = [
        "barometric[cuid]",
        "a0_users:sess.sig",
        "crisp-client/",
        "__Host-x",
        "back\\slash",
        "a%2Fb",
        "{json}",
    ];
    let rows: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(k, n)| row(&k.to_string(), "P", "Functional", n, "0"))
        .collect();
    let out = import(&csv(&rows)).unwrap();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(cookies(&out.toml, "functional"), want);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // The writer picks a literal string for a name with a backslash: the same value as the
    // basic string "back\\slash".
    assert!(out.toml.contains(r#"'back\slash', # P"#), "{}", out.toml);
}

// -- duplicates and conflicts -----------------------------------------------------------

#[test]
fn duplicates_merge_silently() {
    let text = csv(&[
        row("1", "Google", "Marketing", "DSID", "0"),
        row("2", "DoubleClick", "Marketing", "DSID", "0"),
        row("3", "Google", "Marketing", "DSID", "0"),
        row("4", "Sec", "Security", "tok", "0"),
        row("5", "Nec", "Necessary", "tok", "0"),
    ]);
    let out = import(&text).unwrap();
    assert_eq!(cookies(&out.toml, "advertising"), vec!["DSID"]);
    assert_eq!(cookies(&out.toml, "essential"), vec!["tok"]);
    assert_eq!(out.counts.duplicates, 3);
    assert_eq!(out.counts.conflicts, 0);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert!(
        out.toml.contains("\"DSID\", # Google, DoubleClick\n"),
        "{}",
        out.toml
    );
    assert!(out.toml.contains("\"tok\", # Sec, Nec\n"), "{}", out.toml);
}

#[test]
fn conflicts_keep_the_most_restrictive_category() {
    let text = csv(&[
        row("1", "Adform", "Marketing", "token", "0"),
        row("2", "Xandr", "Functional", "token", "0"),
        row("3", "A", "Security", "xy_", "1"),
        row("4", "B", "Analytics", "xy_", "1"),
        row("5", "C", "Functional", "xy_", "1"),
        row("6", "D", "Functional", "chk", "0"),
        row("7", "E", "Security", "chk", "0"),
    ]);
    let out = import(&text).unwrap();
    let all = all_cookies(&out.toml);
    assert_eq!(all["advertising"], vec!["token"]);
    assert_eq!(all["analytics"], vec!["xy_*"]);
    assert_eq!(all["functional"], vec!["chk"]);
    assert!(all["essential"].is_empty());
    assert_eq!(out.counts.conflicts, 3);
    assert_eq!(out.warnings.len(), 3, "{:?}", out.warnings);
    let w = out
        .warnings
        .iter()
        .find(|w| w.contains("\"token\""))
        .unwrap();
    assert!(w.contains("row 1") && w.contains("row 2"), "{w}");
    assert!(w.contains("kept in advertising"), "{w}");
    // The comment names the platform of the kept category only.
    assert!(out.toml.contains("\"token\", # Adform\n"), "{}", out.toml);
}

#[test]
fn exact_names_and_globs_may_differ_in_category() {
    let text = csv(&[
        row("1", "A", "Analytics", "abc", "1"),
        row("2", "B", "Functional", "abcdef", "0"),
        row("3", "C", "Marketing", "abc", "0"),
        row("4", "D", "Marketing", "abcd", "1"),
    ]);
    let out = import(&text).unwrap();
    let all = all_cookies(&out.toml);
    assert_eq!(all["analytics"], vec!["abc*"]);
    assert_eq!(all["functional"], vec!["abcdef"]);
    assert_eq!(all["advertising"], vec!["abc", "abcd*"]);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

// -- other skips ------------------------------------------------------------------------

#[test]
fn local_storage_keys_are_skipped() {
    let text = format!(
        "{HEADER}\n1,Q,Necessary,__cmp_key,,d,Local Storage,C,u,0\n2,Q,Necessary,real,,d,session,C,u,0\n"
    );
    let out = import(&text).unwrap();
    assert_eq!(cookies(&out.toml, "essential"), vec!["real"]);
    assert_eq!(out.counts.skipped_local_storage, 1);
    assert!(out.warnings[0].contains("row 1"), "{:?}", out.warnings);
    assert!(
        out.warnings[0].contains("\"Retention period\""),
        "{:?}",
        out.warnings
    );
}

#[test]
fn malformed_rows_are_skipped() {
    let text = format!(
        "{HEADER}\n1,P,Analytics,short\n{}\n{}\n",
        row("2", "P", "Analytics", "w", "yes"),
        row("3", "P", "Analytics", "ok", "")
    );
    let out = import(&text).unwrap();
    assert_eq!(cookies(&out.toml, "analytics"), vec!["ok"]);
    assert_eq!(out.counts.skipped_malformed, 2);
    assert!(
        out.warnings[0].contains("row 1 (line 2)"),
        "{:?}",
        out.warnings
    );
    assert!(out.warnings[0].contains("4 fields"), "{:?}", out.warnings);
    assert!(
        out.warnings[1].contains("\"Wildcard match\""),
        "{:?}",
        out.warnings
    );
}

#[test]
fn rows_without_id_are_named_by_line() {
    let out = import(&csv(&[row("", "P", "Other", "x", "0")])).unwrap();
    assert!(
        out.warnings[0].starts_with("row at line 2,"),
        "{:?}",
        out.warnings
    );
}

// -- TOML -------------------------------------------------------------------------------

#[test]
fn header_and_comments_cannot_break_the_document() {
    let text = csv(&[
        row(
            "1",
            "\"Evil\nPlatform\r\n[categories.x]\"",
            "Analytics",
            "a_b",
            "0",
        ),
        row("2", "\"Tab\tbed   spaces\"", "Analytics", "c_d", "0"),
        row("3", "", "Analytics", "e_f", "0"),
    ]);
    let options = ImportOptions {
        source: Some("ocd.csv\n[bad]"),
        version: Some("v1\r\nkey = 1"),
    };
    let out = import_with(&text, &options).unwrap();
    let doc: toml::Table = toml::from_str(&out.toml).unwrap();
    assert_eq!(doc.len(), 1, "{}", out.toml);
    assert_eq!(doc["categories"].as_table().unwrap().len(), 4);
    assert_eq!(cookies(&out.toml, "analytics"), vec!["a_b", "c_d", "e_f"]);
    assert!(
        out.toml.contains("# Source: ocd.csv [bad]\n"),
        "{}",
        out.toml
    );
    assert!(
        out.toml.contains("# OCD version: v1 key = 1\n"),
        "{}",
        out.toml
    );
    assert!(
        out.toml
            .contains("\"a_b\", # Evil Platform [categories.x]\n"),
        "{}",
        out.toml
    );
    assert!(
        out.toml.contains("\"c_d\", # Tab bed spaces\n"),
        "{}",
        out.toml
    );
    assert!(out.toml.contains("    \"e_f\",\n"), "{}", out.toml);
}

#[test]
fn header_comment_explains_use() {
    let out = import_with(
        &csv(&[row("1", "P", "Analytics", "_ga", "0")]),
        &ImportOptions {
            source: Some("open-cookie-database.csv"),
            version: Some("abc123 2026-01-21"),
        },
    )
    .unwrap();
    let head: Vec<&str> = out
        .toml
        .lines()
        .take_while(|l| l.starts_with('#'))
        .collect();
    let head = head.join("\n");
    assert!(head.contains("Open Cookie Database"), "{head}");
    assert!(head.contains("open-cookie-database.csv"), "{head}");
    assert!(head.contains("abc123 2026-01-21"), "{head}");
    assert!(head.contains("include = [\"ocd.toml\"]"), "{head}");
    assert!(head.contains("1 rows, 1 patterns"), "{head}");
}

#[test]
fn output_is_sorted_one_per_line() {
    let text = csv(&[
        row("1", "P", "Analytics", "zeta", "0"),
        row("2", "P", "Analytics", "Alpha", "0"),
        row("3", "P", "Analytics", "_under", "0"),
        row("4", "P", "Analytics", "beta", "1"),
    ]);
    let out = import(&text).unwrap();
    let expected = "[categories.analytics]\ncookies = [\n    \"Alpha\", # P\n    \
                    \"_under\", # P\n    \"beta*\", # P\n    \"zeta\", # P\n]\n";
    assert!(out.toml.contains(expected), "{}", out.toml);
}

#[test]
fn placeholders() {
    assert!(is_placeholder("pagead/conv/%INTEGER%"));
    assert!(is_placeholder("%ID%_x"));
    assert!(!is_placeholder("a%2Fb%2F"));
    assert!(!is_placeholder("100%"));
    assert!(!is_placeholder("%%"));
    assert!(!is_placeholder("a%B"));
}

const PROP_CATEGORIES: [&str; 7] = [
    "Functional",
    "Analytics",
    "Marketing",
    "Security",
    "Necessary",
    "Personalization",
    "Other",
];

proptest! {
    #[test]
    fn any_input_imports_or_fails_cleanly(body in "[a-c_*%; \t\",\r\n\u{e9}\\\\01]{0,200}") {
        // Make some rows land on known categories and wildcard values.
        let body = body.replace('a', "Analytics").replace('1', ",1");
        if let Ok(out) = import(&format!("{HEADER}\n{body}")) {
            let doc: toml::Table = toml::from_str(&out.toml)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(doc.len(), 1);
            let all = all_cookies(&out.toml);
            let mut seen = std::collections::HashSet::new();
            for p in all.values().flatten() {
                prop_assert!(seen.insert(p.clone()), "{} twice", p);
            }
            prop_assert_eq!(seen.len(), out.counts.total_patterns());
        }
        let _ = import(&body);
    }

    #[test]
    fn structured_rows_round_trip(
        rows in prop::collection::vec(
            (0..PROP_CATEGORIES.len(), "[a-cA-C_*\\\\\"' ;=\t\u{e9}\u{1}-]{0,6}", any::<bool>()),
            0..30,
        )
    ) {
        let lines: Vec<String> = rows
            .iter()
            .enumerate()
            .map(|(k, (c, name, wildcard))| {
                let name = format!("\"{}\"", name.replace('"', "\"\""));
                let wildcard = if *wildcard { "1" } else { "0" };
                let platform = "\"P,\"\"x\"\"\"";
                row(&k.to_string(), platform, PROP_CATEGORIES[*c], &name, wildcard)
            })
            .collect();
        let out = import(&csv(&lines)).unwrap();
        let all = all_cookies(&out.toml);
        let mut seen = std::collections::HashSet::new();
        for p in all.values().flatten() {
            prop_assert!(seen.insert(p.clone()), "{} twice", p);
            let literal = p.strip_suffix('*').unwrap_or(p);
            let from_a_row = rows
                .iter()
                .any(|(_, n, _)| n.trim_matches([' ', '\t']).starts_with(literal));
            prop_assert!(from_a_row, "{} comes from no row", p);
        }
        prop_assert_eq!(out.counts.rows, rows.len());
        prop_assert_eq!(out.counts.skipped_malformed, 0);
        if !all.values().all(Vec::is_empty) {
            prop_assert!(out.toml.contains(" # P,\"x\"\n"), "{}", out.toml);
        }
    }
}
