pub mod csp;
pub mod guard;
