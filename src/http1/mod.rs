//! The proxy's own HTTP/1.1 path (`server.http1 = "fast"`): request and response heads parsed
//! with `httparse` and written again from their pieces, bodies relayed with a counted copy or a
//! strict chunked decoder, the upstream exchange run inside the client connection's task with
//! per-thread idle upstream connections, and coarse per-connection timeouts.
//!
//! It applies the policy of the hyper path ([`crate::proxy`]) through the same functions, and
//! hands a connection over to hyper at a request boundary (with the bytes already read) for
//! what it does not serve itself: HTTP/1.0, `Expect`, absolute-form, `*` and `CONNECT` targets,
//! upgrades and `TE: trailers`. `https://` upstreams (which may speak h2) stay on hyper.
//!
//! - [`request`]: request heads: parse, check, write for the upstream;
//! - [`response`]: response heads: parse, check the framing, write for the client;
//! - [`chunked`]: the chunked decoder and framing;
//! - [`exchange`]: one request's exchange with the upstream and the body relay;
//! - [`upstream`]: upstream connections and the per-thread idle stack;
//! - [`conn`]: the client connection loop;
//! - [`deadlines`], [`io`]: coarse deadlines, and the reads and writes they bound.

pub mod chunked;
pub mod conn;
pub mod deadlines;
pub mod exchange;
pub mod io;
pub mod request;
pub mod response;
pub mod upstream;

pub use conn::serve;
