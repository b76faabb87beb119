//! The OneTrust consent cookie: `onetrust::read` with the default map. The first byte tells
//! whether `OptanonAlertBoxClosed` is present; the rest is the `OptanonConsent` value.
#![no_main]

use consentry::policy::consent::{onetrust, Reading, SourceKind};
use consentry_fuzz::{categories, check_reading, name_map, spec, survives_cookie_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let closed = flags & 1 != 0;
    let value = String::from_utf8_lossy(rest);
    let map = name_map(SourceKind::OneTrust);
    let r = onetrust::read(&value, closed, map);
    check_reading(r, map.categories());

    // Closing the banner only ever turns "no decision" into a decision.
    let (open, shut) = if closed {
        (onetrust::read(&value, false, map), r)
    } else {
        (r, onetrust::read(&value, true, map))
    };
    assert_eq!(
        open == Reading::Malformed,
        shut == Reading::Malformed,
        "{open:?} / {shut:?}"
    );
    if matches!(open, Reading::Decided { .. }) {
        assert_eq!(open, shut, "closing the banner changed a decision");
    }
    if shut == Reading::NoDecision {
        assert_eq!(open, Reading::NoDecision);
    }

    // Through a `Cookie` header, with the marker cookie present or not.
    if survives_cookie_header(&value) {
        let header = if closed {
            format!(
                "{}={value}; {}=2023-06-30T08:53:38.825Z",
                onetrust::CONSENT_COOKIE,
                onetrust::ALERT_BOX_CLOSED_COOKIE
            )
        } else {
            format!("{}={value}", onetrust::CONSENT_COOKIE)
        };
        let via = spec(SourceKind::OneTrust).read(&header, categories());
        assert_eq!(via, Some(r), "header {header:?}");
    }
});
