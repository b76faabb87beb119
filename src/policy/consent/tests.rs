//! The consent decision, every format through it, and the sources' cookies.

mod mapping;
mod robustness;

use super::*;
use crate::policy::categories::{Categories, CategoryId, CategorySet};

pub(super) fn cats() -> Categories {
    Categories::new([
        ("essential", true),
        ("functional", false),
        ("analytics", false),
        ("advertising", false),
    ])
}

pub(super) fn set(ids: &[u8]) -> CategorySet {
    ids.iter().map(|&i| CategoryId(i)).collect()
}

fn policy(undecided: Undecided) -> ConsentPolicy {
    ConsentPolicy {
        sources: vec![SourceSpec::Consentry {
            cookie: "consentry".into(),
        }],
        undecided,
        gpc: set(&[3]),
    }
}

#[test]
fn no_cookie_is_undecided_and_follows_policy() {
    let c = cats();
    let d = policy(Undecided::Deny).decide("session=1", false, &c);
    assert_eq!(d.state, ConsentState::Undecided);
    assert_eq!(d.source, None);
    assert_eq!(d.source_name(), "none");
    assert_eq!(d.allowed, set(&[0]));
    assert_eq!(d.category_state(CategoryId(0)), CategoryState::Granted);
    assert_eq!(d.category_state(CategoryId(2)), CategoryState::Undecided);

    let g = policy(Undecided::Grant).decide("", false, &c);
    assert_eq!(g.allowed, set(&[0, 1, 2, 3]));
    assert_eq!(g.granted, set(&[0]));
}

#[test]
fn native_cookie_decides() {
    let c = cats();
    let d = policy(Undecided::Grant).decide("a=b; consentry=analytics; c=d", false, &c);
    assert_eq!(d.source, Some(SourceKind::Consentry));
    assert_eq!(d.state, ConsentState::Partial);
    // A decision denies every category not listed, whatever the undecided policy.
    assert_eq!(d.allowed, set(&[0, 2]));
    assert_eq!(d.category_state(CategoryId(3)), CategoryState::Denied);

    let all = policy(Undecided::Deny).decide("consentry=all", false, &c);
    assert_eq!(all.state, ConsentState::All);
    assert_eq!(all.allowed, set(&[0, 1, 2, 3]));

    let none = policy(Undecided::Grant).decide("consentry=", false, &c);
    assert_eq!(none.state, ConsentState::None);
    assert_eq!(none.allowed, set(&[0]));
}

#[test]
fn gpc_denies_configured_categories_whatever_the_cookie_says() {
    let c = cats();
    let d = policy(Undecided::Deny).decide("consentry=all", true, &c);
    assert!(d.gpc);
    assert_eq!(d.allowed, set(&[0, 1, 2]));
    assert_eq!(d.category_state(CategoryId(3)), CategoryState::Denied);
    let g = policy(Undecided::Grant).decide("", true, &c);
    assert_eq!(g.allowed, set(&[0, 1, 2]));
}

#[test]
fn gpc_never_denies_required_categories() {
    let c = cats();
    let mut p = policy(Undecided::Deny);
    p.gpc = set(&[0, 3]);
    let d = p.decide("consentry=all", true, &c);
    assert!(d.allowed.contains(CategoryId(0)));
}

#[test]
fn malformed_cookie_is_absent_and_counted() {
    let c = cats();
    let d = policy(Undecided::Grant).decide("consentry={\"x\":1}", false, &c);
    assert_eq!(d.state, ConsentState::Invalid);
    assert_eq!(d.source, None);
    assert_eq!(d.invalid, Some(SourceKind::Consentry));
    assert_eq!(d.source_name(), "consentry");
    // Treated as absent: the undecided policy applies.
    assert_eq!(d.allowed, set(&[0, 1, 2, 3]));
}

/// Names to category names, as the loader reads a `[consent.<cmp>]` table.
pub(super) fn names(entries: &[(&str, &str)]) -> SourceTable {
    SourceTable::Names(
        entries
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Every source enabled in the default order, with the defaults except a Klaro service map.
pub(super) fn all_sources(c: &Categories) -> ConsentPolicy {
    let klaro = names(&[
        ("necessary-cookies", "essential"),
        ("preferences", "functional"),
        ("google-analytics", "analytics"),
        ("google-ads", "advertising"),
    ]);
    let sources = SourceKind::ALL
        .iter()
        .map(|&k| {
            let t = (k == SourceKind::Klaro).then_some(&klaro);
            SourceSpec::build(k, t, "consentry", c).unwrap()
        })
        .collect();
    ConsentPolicy {
        sources,
        undecided: Undecided::Deny,
        gpc: set(&[3]),
    }
}

// Real values (see the per-format modules for their provenance).
pub(super) const OT_ACCEPT: &str = "OptanonConsent=isGpcEnabled=0&datestamp=Sat+Feb+07+2026+12%3A16%3A58+GMT%2B0800+(China+Standard+Time)&version=202502.1.0&browserGpcFlag=0&isIABGlobal=false&identifierType=Cookie+Unique+Id&hosts=&consentId=cacc8f29-8ccc-40d7-93e4-f44683563657&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1%2CC0002%3A1%2CV2STACK42%3A1&iType=1&intType=1&geolocation=JP%3B13&AwaitingReconsent=false; OptanonAlertBoxClosed=2026-02-07T04:16:58.102Z";
pub(super) const OT_REJECT: &str = "OptanonAlertBoxClosed=2026-02-13T21:25:29.861Z; OptanonConsent=isGpcEnabled=1&datestamp=Fri+Feb+13+2026+22%3A25%3A29+GMT%2B0100+(hora+est%C3%A1ndar+de+Europa+central)&version=202512.1.0&browserGpcFlag=1&isIABGlobal=false&consentId=3134823156&isAnonUser=0&interactionCount=2&intType=2&hosts=&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0%2CC0005%3A0%2CV2STACK42%3A0%2CC0035%3A0%2CC0038%3A0&genVendors=V2%3A0%2CV1%3A0%2C&crTime=1770283241677&geolocation=IT%3B25&AwaitingReconsent=false";
pub(super) const OT_PARTIAL: &str = "OptanonConsent=isGpcEnabled=0&version=202512.1.0&interactionCount=1&intType=6&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A1%2CC0003%3A0%2CC0004%3A0%2CC0005%3A0&AwaitingReconsent=false; OptanonAlertBoxClosed=2026-02-13T21:25:29.861Z";
pub(super) const OT_UNDECIDED: &str = "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Jun+16+2025+17%3A48%3A11+GMT%2B0530+(India+Standard+Time)&version=202501.2.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=9f5da6c6-8680-4a0a-8100-807611edb626&interactionCount=0&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0005%3A0%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0&AwaitingReconsent=false";
pub(super) const OT_RECONSENT: &str = "OptanonConsent=interactionCount=3&groups=C0002%3A1%2CC0003%3A1&AwaitingReconsent=true; OptanonAlertBoxClosed=2025-01-01T00:00:00.000Z";
pub(super) const CB_REJECT: &str = "CookieConsent={stamp:%27PuSKzMgziAFdTLa5FzFSr4vbvlQnA4IdhLZfeZ+9fBM/j32CWy3XGA==%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:false%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1738313789122%2Cregion:%27ee%27}";
pub(super) const CB_ACCEPT: &str = "CookieConsent={stamp:%27Rm4fk9DeBCocbMY0P1wAkhbWQwf/ZwpnE42dfSJEeEb1ig7OJsnysA==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:true%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1684336814039%2Cregion:%27ro%27}";
pub(super) const CB_PARTIAL: &str = "CookieConsent={stamp:%27JF1BlMmicaH7oY2UaAIErFsbGcumN9Nk3waAQxcgqrg4VhDrwOmjZg==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:2%2Cutc:1765222520311%2Cregion:%27fr%27}";
pub(super) const CY_ACCEPT: &str = "cookieyes-consent=consentid:d2JnOWNtWmgyM0pMdEU0ZkZXSGhzdE9BaTkxekF3WEk,consent:yes,action:yes,necessary:yes,functional:yes,analytics:yes,performance:yes,advertisement:yes,other:yes";
pub(super) const CY_REJECT: &str = "cookieyes-consent=consentid:WHRLbHhJZVJlTXR3b0F4MUpUQWNCZDRNbXRpTWNEcmE,consent:no,action:yes,necessary:yes,functional:no,analytics:no,performance:no,advertisement:no,other:no";
pub(super) const CY_PARTIAL: &str = "cookieyes-consent=consentid:x,consent:yes,action:yes,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:yes,other:no";
pub(super) const CY_UNDECIDED: &str = "cookieyes-consent=consentid:a0luUlByM3NGTFp2dkMyQkJXdHoxdHFVeHI2TEM5Yms,consent:no,action:,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:no";
pub(super) const CC_REJECT: &str = "cc_cookie=%7B%22categories%22%3A%5B%22necessary%22%5D%2C%22revision%22%3A1%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22consentId%22%3A%2212fd04af-4af6-48a3-8531-b7cf317849d1%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22support%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22expirationTime%22%3A1747854156824%7D";
pub(super) const CC_ACCEPT: &str = "cc_cookie=%7B%22categories%22%3A%5B%22necessary%22%2C%22functional%22%2C%22analytics%22%2C%22advertisement%22%5D%2C%22revision%22%3A0%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22consentId%22%3A%22b5b97425-c91e-41a6-828e-a0504f76c1b7%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22functional%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22advertisement%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22expirationTime%22%3A1751441698964%7D";
pub(super) const CC_V2_PARTIAL: &str = r#"cc_cookie={"categories":["necessary","analytics"],"level":["necessary","analytics"],"revision":0,"data":null,"rfc_cookie":false,"consent_date":"2023-05-02T10:00:00.000Z","consent_uuid":"0f8d8a3e-1b1e-4c57-9a76-3c4c0f0a8a11"}"#;
pub(super) const KLARO_MRW: &str = "klaro=%7B%22necessary-cookies%22%3Atrue%2C%22preferences%22%3Afalse%2C%22google-analytics%22%3Atrue%2C%22google-ads%22%3Afalse%7D";
pub(super) const KLARO_PARTLY_MISSING: &str = "klaro=%7B%22preferences%22%3Atrue%7D";
pub(super) const TCF_ACCEPT: &str = "euconsent-v2=CQTQT4AQTQT4AAGABCENBvFsAP_gAELAABp4IzQHwAFAANAAqABwAEAALQAZAA0ACKAEwAKQAYgA3gBzAEIAI4ATQApACEAFDAPaAhsBGoC2gF5gMZAZIA0IBqIELgIzAIRADAAUAI4AhAA4SAYABUADgAIIAZABoAEwAN4AhABNAHtAXmAyQCFw6AWABUADgAIIAZABoAEwAMQAbwBNAHtAXmAyQhACADEAG8lAGAA4AEwAMQB7QF5gMkKQCQAKgAcABAADQAJgAYgD2gLzAZIVAAgAKKAAQAZA.YAAAAAAAAAAA";
pub(super) const TCF_REJECT_LI: &str = "euconsent-v2=CQEyKcAQEyKcAAGABBENBGFgAAAAAEPgABBoAAAOWgJAAkABkAEcARwAnAByADnAIAAQcAjgBdQFSgLUAXQAvMBggDFgHLABBQAIC6CgAEAjgAAA.YAAAAAAAAAAA";
pub(super) const TCF_PURPOSES_1_3: &str =
    "euconsent-v2=COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";

/// Unrelated cookies a real request carries around the consent cookie.
fn header(consent: &[&str]) -> String {
    let mut parts = vec![
        "_ga=GA1.2.1402942530.1700000000",
        "_gid=GA1.2.987654321.1700000000",
        "session=abc",
    ];
    parts.extend_from_slice(consent);
    parts.extend_from_slice(&[
        "_fbp=fb.1.1700000000000.123456789",
        "theme=dark",
        "__cf_bm=Zm9v.YmFy-1700000000-0-AQ==",
        "_gcl_au=1.1.1234.1700000000",
    ]);
    parts.join("; ")
}

#[test]
fn every_format_through_decide() {
    use ConsentState as S;
    use SourceKind as K;
    let c = cats();
    let p = all_sources(&c);
    type Case<'a> = (&'a str, &'a [&'a str], Option<K>, S, &'a [u8], Option<K>);
    // (case, consent cookies, deciding source, state, allowed, malformed source passed over)
    #[rustfmt::skip]
    let cases: &[Case] = &[
        ("nothing", &[], None, S::Undecided, &[0], None),
        ("native", &["consentry=analytics"], Some(K::Consentry), S::Partial, &[0, 2], None),
        ("onetrust accept", &[OT_ACCEPT], Some(K::OneTrust), S::All, &[0, 1, 2, 3], None),
        ("onetrust reject", &[OT_REJECT], Some(K::OneTrust), S::None, &[0], None),
        ("onetrust partial", &[OT_PARTIAL], Some(K::OneTrust), S::Partial, &[0, 2], None),
        ("onetrust undecided", &[OT_UNDECIDED], None, S::Undecided, &[0], None),
        ("onetrust reconsent", &[OT_RECONSENT], None, S::Undecided, &[0], None),
        ("onetrust garbage", &["OptanonConsent=hello"], None, S::Invalid, &[0], Some(K::OneTrust)),
        ("cookiebot reject", &[CB_REJECT], Some(K::Cookiebot), S::None, &[0], None),
        ("cookiebot accept", &[CB_ACCEPT], Some(K::Cookiebot), S::All, &[0, 1, 2, 3], None),
        ("cookiebot partial", &[CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
        ("cookiebot 0", &["CookieConsent=0"], Some(K::Cookiebot), S::None, &[0], None),
        ("cookiebot -1", &["CookieConsent=-1"], Some(K::Cookiebot), S::All, &[0, 1, 2, 3], None),
        ("cookiebot -2", &["CookieConsent=-2"], None, S::Invalid, &[0], Some(K::Cookiebot)),
        ("cookiebot other tool", &["CookieConsent=true"], None, S::Invalid, &[0], Some(K::Cookiebot)),
        ("cookieyes accept", &[CY_ACCEPT], Some(K::CookieYes), S::All, &[0, 1, 2, 3], None),
        ("cookieyes reject", &[CY_REJECT], Some(K::CookieYes), S::None, &[0], None),
        ("cookieyes partial", &[CY_PARTIAL], Some(K::CookieYes), S::Partial, &[0, 1, 3], None),
        ("cookieyes undecided", &[CY_UNDECIDED], None, S::Undecided, &[0], None),
        ("cc_cookie reject", &[CC_REJECT], Some(K::CcCookie), S::None, &[0], None),
        ("cc_cookie accept", &[CC_ACCEPT], Some(K::CcCookie), S::All, &[0, 1, 2, 3], None),
        ("cc_cookie v2 partial", &[CC_V2_PARTIAL], Some(K::CcCookie), S::Partial, &[0, 2], None),
        ("cc_cookie no list", &["cc_cookie=%7B%22revision%22%3A0%7D"], None, S::Undecided, &[0], None),
        ("klaro partial", &[KLARO_MRW], Some(K::Klaro), S::Partial, &[0, 2], None),
        ("klaro partly missing", &[KLARO_PARTLY_MISSING], Some(K::Klaro), S::Partial, &[0, 1], None),
        ("klaro garbage", &["klaro=%7B%22preferences%22%3A1%7D"], None, S::Invalid, &[0], Some(K::Klaro)),
        ("klaro without configured services", &["klaro=%7B%22youtube%22%3Atrue%7D", TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
        ("tcf accept", &[TCF_ACCEPT], Some(K::Tcf), S::All, &[0, 1, 2, 3], None),
        ("tcf reject with LI", &[TCF_REJECT_LI], Some(K::Tcf), S::None, &[0], None),
        ("tcf purposes 1-3", &[TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
        ("tcf v1", &["euconsent-v2=BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"], None, S::Invalid, &[0], Some(K::Tcf)),
        // Precedence: the first source in `sources` order that decides wins.
        ("native before onetrust", &[OT_ACCEPT, "consentry=none"], Some(K::Consentry), S::None, &[0], None),
        ("onetrust before tcf", &[TCF_ACCEPT, OT_REJECT], Some(K::OneTrust), S::None, &[0], None),
        ("cookiebot before cookieyes", &[CY_ACCEPT, CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
        // No decision falls through to the next source.
        ("undecided onetrust falls through", &[OT_UNDECIDED, CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
        ("undecided cookieyes falls through", &[CY_UNDECIDED, TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
        // Malformed is skipped (and recorded), the next source decides.
        ("malformed cookiebot skipped", &["CookieConsent=-2", CY_PARTIAL], Some(K::CookieYes), S::Partial, &[0, 1, 3], Some(K::Cookiebot)),
        ("malformed native skipped", &["consentry={x}", TCF_ACCEPT], Some(K::Tcf), S::All, &[0, 1, 2, 3], Some(K::Consentry)),
        ("first malformed recorded", &["klaro=[]", "CookieConsent=-2"], None, S::Invalid, &[0], Some(K::Cookiebot)),
    ];
    for (name, consent, source, state, allowed, invalid) in cases {
        let h = header(consent);
        let d = p.decide(&h, false, &c);
        assert_eq!(d.source, *source, "{name}: source");
        assert_eq!(d.state, *state, "{name}: state");
        assert_eq!(d.allowed, set(allowed), "{name}: allowed");
        assert_eq!(d.invalid, *invalid, "{name}: invalid");
    }
}

#[test]
fn klaro_missing_services_stay_undecided_and_follow_the_policy() {
    let c = cats();
    let mut p = all_sources(&c);
    let h = header(&[KLARO_PARTLY_MISSING]);
    let d = p.decide(&h, false, &c);
    assert_eq!(d.category_state(CategoryId(1)), CategoryState::Granted);
    assert_eq!(d.category_state(CategoryId(2)), CategoryState::Undecided);
    assert_eq!(d.category_state(CategoryId(3)), CategoryState::Undecided);
    p.undecided = Undecided::Grant;
    let d = p.decide(&h, false, &c);
    assert_eq!(d.allowed, set(&[0, 1, 2, 3]));
    // GPC still denies advertising.
    let d = p.decide(&h, true, &c);
    assert_eq!(d.allowed, set(&[0, 1, 2]));
}

#[test]
fn onetrust_alert_box_cookie_decides() {
    let c = cats();
    let p = all_sources(&c);
    let with_box = format!("{OT_UNDECIDED}; OptanonAlertBoxClosed=2025-06-16T12:18:11.000Z");
    let d = p.decide(&header(&[&with_box]), false, &c);
    assert_eq!(d.source, Some(SourceKind::OneTrust));
    assert_eq!(d.state, ConsentState::None);
    // An empty alert-box cookie does not count.
    let empty_box = format!("{OT_UNDECIDED}; OptanonAlertBoxClosed=");
    let d = p.decide(&header(&[&empty_box]), false, &c);
    assert_eq!(d.source, None);
    assert_eq!(d.state, ConsentState::Undecided);
}

#[test]
fn source_names_and_order() {
    let names: Vec<_> = SourceKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "consentry",
            "onetrust",
            "cookiebot",
            "cookieyes",
            "cc_cookie",
            "klaro",
            "tcf"
        ]
    );
    for &k in SourceKind::ALL {
        assert_eq!(SourceKind::from_name(k.name()), Some(k));
    }
    assert_eq!(SourceKind::from_name("OneTrust"), None);
}

#[test]
fn consent_cookie_names() {
    let c = cats();
    let p = all_sources(&c);
    assert_eq!(
        p.consent_cookie_names(),
        [
            "consentry",
            "OptanonConsent",
            "OptanonAlertBoxClosed",
            "CookieConsent",
            "cookieyes-consent",
            "cc_cookie",
            "klaro",
            "euconsent-v2"
        ]
    );
    for s in &p.sources {
        assert_eq!(
            SourceKind::from_name(s.kind().name()),
            Some(s.kind()),
            "{s:?}"
        );
    }
}
