//! The Cookiebot consent cookie: `cookiebot::read` with the default map.
#![no_main]

use consentry::policy::consent::{cookiebot, SourceKind};
use consentry_fuzz::{check_reading, check_via_header, name_map};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let map = name_map(SourceKind::Cookiebot);
    let r = cookiebot::read(&value, map);
    check_reading(r, map.categories());
    // Reading it through a `Cookie` header gives the same answer.
    check_via_header(SourceKind::Cookiebot, cookiebot::COOKIE, &value, r);
});
