//! The orestbida/cookieconsent consent cookie: `cc_cookie::read` with the default map.
#![no_main]

use consentry::policy::consent::{cc_cookie, SourceKind};
use consentry_fuzz::{check_reading, check_via_header, name_map};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let map = name_map(SourceKind::CcCookie);
    let r = cc_cookie::read(&value, map);
    check_reading(r, map.categories());
    // Reading it through a `Cookie` header gives the same answer.
    check_via_header(SourceKind::CcCookie, cc_cookie::COOKIE, &value, r);
});
