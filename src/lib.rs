//! consentry: a reverse proxy that enforces cookie consent.

pub mod admin;
pub mod cache;
pub mod cli;
pub mod config;
pub mod demo;
pub mod explain;
pub mod html;
pub mod http1;
pub mod logging;
pub mod metrics;
pub mod ocd;
pub mod page;
pub mod policy;
pub mod proxy;
pub mod server;
pub mod signals;
pub mod unclassified;
pub mod watch;
