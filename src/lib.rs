//! consentry: a reverse proxy that enforces cookie consent.

pub mod config;
pub mod policy;
