//! Mapping tables: the defaults, and the operator's typed tables over them.

use super::*;

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
fn default_maps() {
    let c = cats();
    let b = |k| SourceSpec::build(k, None, "consentry", &c).unwrap();
    assert_eq!(
        map_of(&b(SourceKind::OneTrust)),
        pairs(&[("C0002", 2), ("C0003", 1), ("C0004", 3), ("C0005", 3)])
    );
    assert_eq!(
        map_of(&b(SourceKind::Cookiebot)),
        pairs(&[("preferences", 1), ("statistics", 2), ("marketing", 3)])
    );
    assert_eq!(
        map_of(&b(SourceKind::CookieYes)),
        pairs(&[
            ("functional", 1),
            ("analytics", 2),
            ("performance", 2),
            ("advertisement", 3)
        ])
    );
    assert_eq!(
        map_of(&b(SourceKind::CcCookie)),
        pairs(&[
            ("essential", 0),
            ("functional", 1),
            ("analytics", 2),
            ("advertising", 3),
            ("marketing", 3),
            ("advertisement", 3)
        ])
    );
    assert_eq!(
        map_of(&b(SourceKind::Klaro)),
        pairs(&[
            ("essential", 0),
            ("functional", 1),
            ("analytics", 2),
            ("advertising", 3)
        ])
    );
    assert_eq!(
        b(SourceKind::Tcf),
        SourceSpec::Tcf {
            map: TcfMap {
                entries: vec![
                    (CategoryId(1), 0b1),
                    (CategoryId(2), 0b1_1000_0001),
                    (CategoryId(3), 0b100_1111),
                ]
            }
        }
    );
}

#[test]
fn defaults_for_missing_categories_are_dropped() {
    // A site without an advertising category (and with a `marketing` one of its own).
    let c = Categories::new([
        ("essential", true),
        ("analytics", false),
        ("marketing", false),
    ]);
    let b = |k| SourceSpec::build(k, None, "consentry", &c).unwrap();
    assert_eq!(map_of(&b(SourceKind::OneTrust)), pairs(&[("C0002", 1)]));
    // Identity wins over the default `marketing -> advertising`.
    assert_eq!(
        map_of(&b(SourceKind::CcCookie)),
        pairs(&[("essential", 0), ("analytics", 1), ("marketing", 2)])
    );
    assert_eq!(
        b(SourceKind::Tcf),
        SourceSpec::Tcf {
            map: TcfMap {
                entries: vec![(CategoryId(1), 0b1_1000_0001)]
            }
        }
    );
}

#[test]
fn build_rejects_a_native_mapping_table() {
    let c = cats();
    let t = names(&[("x", "y")]);
    let e = SourceSpec::build(SourceKind::Consentry, Some(&t), "consentry", &c).unwrap_err();
    assert!(e.reason.contains("no mapping table"), "{}", e.reason);
    assert!(SourceSpec::build(SourceKind::Consentry, None, "consentry", &c).is_ok());
}

#[test]
fn operator_tables_override_and_extend_defaults() {
    let c = cats();
    let t = names(&[
        ("C0002", "functional"),
        ("C0007", "advertising"),
        ("4", "analytics"),
    ]);
    let s = SourceSpec::build(SourceKind::OneTrust, Some(&t), "consentry", &c).unwrap();
    // Added names follow the defaults in the order given.
    assert_eq!(
        map_of(&s),
        pairs(&[
            ("C0002", 1),
            ("C0003", 1),
            ("C0004", 3),
            ("C0005", 3),
            ("C0007", 3),
            ("4", 2)
        ])
    );
    let t = names(&[("necessary", "essential")]);
    let s = SourceSpec::build(SourceKind::Cookiebot, Some(&t), "consentry", &c).unwrap();
    assert_eq!(map_of(&s).last(), Some(&("necessary".to_string(), 0)));
    let t = SourceTable::TcfPurposes(vec![("analytics".to_string(), vec![1, 7, 10])]);
    let s = SourceSpec::build(SourceKind::Tcf, Some(&t), "consentry", &c).unwrap();
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
    let err = |k, t: SourceTable| SourceSpec::build(k, Some(&t), "consentry", &c).unwrap_err();
    let e = err(SourceKind::OneTrust, names(&[("C0002", "analytic")]));
    assert_eq!(e.key, "C0002");
    assert!(
        e.reason.contains("unknown category `analytic`"),
        "{}",
        e.reason
    );
    assert!(e
        .reason
        .contains("essential, functional, analytics, advertising"));
    let purposes =
        |name: &str, ids: &[i64]| SourceTable::TcfPurposes(vec![(name.to_string(), ids.to_vec())]);
    let e = err(SourceKind::Tcf, purposes("marketing", &[1]));
    assert_eq!(e.key, "purposes.marketing");
    for bad in [&[0][..], &[25], &[], &[1, -1], &[i64::MAX]] {
        let e = err(SourceKind::Tcf, purposes("analytics", bad));
        assert_eq!(e.key, "purposes.analytics", "{bad:?}");
    }
    // A table of the wrong shape for the source is reported, never ignored.
    assert!(SourceSpec::build(SourceKind::Tcf, Some(&names(&[])), "consentry", &c).is_err());
    let t = purposes("analytics", &[1]);
    assert!(SourceSpec::build(SourceKind::Klaro, Some(&t), "consentry", &c).is_err());
}
