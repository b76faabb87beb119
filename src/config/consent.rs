//! `[consent.<source>]` mapping tables read from the file into the policy's typed
//! [`SourceTable`]s. Only the shape of the values is checked here; the categories they name
//! and the purpose ids are checked when the policy compiles them.

use crate::policy::consent::tcf::MAX_PURPOSE;
use crate::policy::consent::{PurposeLists, SourceConfigError, SourceKind, SourceTable};

/// The operator's table for `kind`, typed; `None` when the source keeps its defaults.
pub(crate) fn source_table(
    kind: SourceKind,
    table: Option<&toml::Table>,
) -> Result<Option<SourceTable>, SourceConfigError> {
    let Some(table) = table else {
        return Ok(None);
    };
    match kind {
        SourceKind::Consentry => match table.keys().next() {
            Some(k) => Err(SourceConfigError::new(
                k.clone(),
                "the native cookie has no mapping table (set `consent.cookie` for its name)",
            )),
            None => Ok(None),
        },
        SourceKind::Tcf => Ok(tcf_purposes(table)?.map(SourceTable::TcfPurposes)),
        SourceKind::OneTrust
        | SourceKind::Cookiebot
        | SourceKind::CookieYes
        | SourceKind::CcCookie
        | SourceKind::Klaro => Ok(Some(SourceTable::Names(names(table)?))),
    }
}

/// A CMP table: every value is a category name.
fn names(table: &toml::Table) -> Result<Vec<(String, String)>, SourceConfigError> {
    table
        .iter()
        .map(|(key, value)| match value.as_str() {
            Some(category) => Ok((key.clone(), category.to_string())),
            None => Err(SourceConfigError::new(
                key,
                format!(
                    "expected a category name (a string), found a {}",
                    value.type_str()
                ),
            )),
        })
        .collect()
}

/// `[consent.tcf]`: `purposes = { <category> = [<purpose id>, ...], ... }`, or `None` without
/// `purposes`.
fn tcf_purposes(table: &toml::Table) -> Result<Option<PurposeLists>, SourceConfigError> {
    if let Some(key) = table.keys().find(|k| *k != "purposes") {
        return Err(SourceConfigError::new(
            key,
            "unknown key (the only key of [consent.tcf] is `purposes`)",
        ));
    }
    let Some(purposes) = table.get("purposes") else {
        return Ok(None);
    };
    let Some(purposes) = purposes.as_table() else {
        return Err(SourceConfigError::new(
            "purposes",
            format!(
                "expected a table of category = [purpose ids], found a {}",
                purposes.type_str()
            ),
        ));
    };
    let mut out = Vec::with_capacity(purposes.len());
    for (name, list) in purposes {
        let key = format!("purposes.{name}");
        let Some(list) = list.as_array() else {
            return Err(SourceConfigError::new(
                key,
                format!(
                    "expected an array of purpose ids (1 to {MAX_PURPOSE}), found a {}",
                    list.type_str()
                ),
            ));
        };
        let ids = list
            .iter()
            .map(|p| {
                p.as_integer().ok_or_else(|| {
                    SourceConfigError::new(
                        &key,
                        format!("purpose ids are integers from 1 to {MAX_PURPOSE}, found {p}"),
                    )
                })
            })
            .collect::<Result<Vec<i64>, _>>()?;
        out.push((name.clone(), ids));
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    //! The tables as written in TOML, through the loader's reading and the policy's compiling.

    use super::*;
    use crate::policy::categories::{Categories, CategoryId};
    use crate::policy::consent::{SourceSpec, TcfMap};

    fn cats() -> Categories {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    /// What the configuration does with a source's table: read it, then compile it.
    fn build(
        kind: SourceKind,
        table: Option<&toml::Table>,
        native_cookie: &str,
        categories: &Categories,
    ) -> Result<SourceSpec, SourceConfigError> {
        let typed = source_table(kind, table)?;
        SourceSpec::build(kind, typed.as_ref(), native_cookie, categories)
    }

    fn map_of(spec: &SourceSpec) -> Vec<(String, u8)> {
        let map = match spec {
            SourceSpec::OneTrust { map }
            | SourceSpec::Cookiebot { map }
            | SourceSpec::CookieYes { map }
            | SourceSpec::CcCookie { map }
            | SourceSpec::Klaro { map } => map,
            _ => panic!("no name map"),
        };
        map.iter().map(|(n, c)| (n.to_string(), c.0)).collect()
    }

    fn pairs(v: &[(&str, u8)]) -> Vec<(String, u8)> {
        v.iter().map(|&(n, c)| (n.to_string(), c)).collect()
    }

    #[test]
    fn build_rejects_a_native_mapping_table() {
        let c = cats();
        let mut t = toml::Table::new();
        t.insert("x".into(), toml::Value::String("y".into()));
        let e = build(SourceKind::Consentry, Some(&t), "consentry", &c).unwrap_err();
        assert_eq!(e.key, "x");
        assert!(build(SourceKind::Consentry, None, "consentry", &c).is_ok());
    }

    #[test]
    fn operator_tables_override_and_extend_defaults() {
        let c = cats();
        let t = table(
            r#"
            C0002 = "functional"
            C0007 = "advertising"
            "4" = "analytics"
            "#,
        );
        let s = build(SourceKind::OneTrust, Some(&t), "consentry", &c).unwrap();
        assert_eq!(
            map_of(&s),
            pairs(&[
                ("C0002", 1),
                ("C0003", 1),
                ("C0004", 3),
                ("C0005", 3),
                ("4", 2),
                ("C0007", 3)
            ])
        );
        let t = table(r#"necessary = "essential""#);
        let s = build(SourceKind::Cookiebot, Some(&t), "consentry", &c).unwrap();
        assert_eq!(map_of(&s).last(), Some(&("necessary".to_string(), 0)));
        let t = table("purposes = { analytics = [1, 7, 10] }");
        let s = build(SourceKind::Tcf, Some(&t), "consentry", &c).unwrap();
        // The operator's table replaces the defaults as a whole.
        assert_eq!(
            s,
            SourceSpec::Tcf {
                map: TcfMap {
                    entries: vec![(CategoryId(2), 0b10_0100_0001)]
                }
            }
        );
    }

    #[test]
    fn mapping_errors_name_the_key() {
        let c = cats();
        let err = |k, text: &str| build(k, Some(&table(text)), "consentry", &c).unwrap_err();
        let e = err(SourceKind::OneTrust, r#"C0002 = "analytic""#);
        assert_eq!(e.key, "C0002");
        assert!(
            e.reason.contains("unknown category `analytic`"),
            "{}",
            e.reason
        );
        assert!(e
            .reason
            .contains("essential, functional, analytics, advertising"));
        let e = err(SourceKind::Cookiebot, "statistics = 1");
        assert_eq!(e.key, "statistics");
        assert!(e.reason.contains("string"), "{}", e.reason);
        let e = err(SourceKind::Klaro, r#"matomo = ["analytics"]"#);
        assert_eq!(e.key, "matomo");
        let e = err(SourceKind::Tcf, r#"analytics = [1]"#);
        assert_eq!(e.key, "analytics");
        assert!(e.reason.contains("purposes"), "{}", e.reason);
        let e = err(SourceKind::Tcf, r#"purposes = [1]"#);
        assert_eq!(e.key, "purposes");
        let e = err(SourceKind::Tcf, "purposes = { marketing = [1] }");
        assert_eq!(e.key, "purposes.marketing");
        for bad in ["[0]", "[25]", "[\"1\"]", "[1.0]", "[]", "1"] {
            let e = err(
                SourceKind::Tcf,
                &format!("purposes = {{ analytics = {bad} }}"),
            );
            assert_eq!(e.key, "purposes.analytics", "{bad}");
        }
    }
}
