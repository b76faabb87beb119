//! The Klaro consent cookie: `klaro::read` with the default map.
#![no_main]

use consentry::policy::consent::{klaro, SourceKind};
use consentry_fuzz::{check_reading, check_via_header, name_map};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let map = name_map(SourceKind::Klaro);
    let r = klaro::read(&value, map);
    check_reading(r, map.categories());
    // Reading it through a `Cookie` header gives the same answer.
    check_via_header(SourceKind::Klaro, klaro::COOKIE, &value, r);
});
