//! The consent and cookie policy: a pure core with no I/O.
//!
//! Everything here works on strings and header values already in memory, so it can be unit
//! tested, fuzzed and benchmarked without a network, and `consentry explain` runs exactly the code
//! the proxy runs.

pub mod categories;
pub mod consent;
pub mod cookie_date;
pub mod cookie_header;
