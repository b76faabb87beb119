//! consentry: a reverse proxy that enforces cookie consent.

pub mod demo;
pub mod policy;
