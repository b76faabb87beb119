//! consentry: a reverse proxy that enforces cookie consent.

pub mod ocd;
pub mod policy;
