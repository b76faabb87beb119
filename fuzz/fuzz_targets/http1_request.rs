//! Request bytes through the own HTTP/1.1 path's head parser, judge and body framing, against
//! hyper's HTTP/1.1 server on an in-memory stream. The input arrives in two reads, split at an
//! offset taken from the first two bytes.
//!
//! Compared: accept or reject (the own path may refuse what hyper accepts only for the ambiguous
//! framing and Host checks it documents), and for an accepted request the method, the target,
//! the fields as the client sent them (before the proxy's edits: names in lower case, values
//! byte for byte, in order per name) and the body bytes. The head written for the upstream must
//! parse again with `httparse` to the same method and target and the same body framing, with
//! CRLF line ends only and no NUL.
#![no_main]

use consentry::http1::request::Framing;
use consentry_fuzz::http1::{
    hyper_request, own_request, split, strict_chunked_ok, upstream_framing, FastRequest,
    HyperRequest,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, second) = split(data);
    let own = own_request(first, second);
    let hyper = hyper_request(first, second);
    match (&own, &hyper) {
        // Left to hyper by the own path: nothing to compare.
        (FastRequest::HandOver, _) => {}
        (FastRequest::Refused(why), HyperRequest::Head { .. }) => assert!(
            consentry_fuzz::http1::STRICTER.contains(why),
            "own path refused ({why}) what hyper accepted: {hyper:?}"
        ),
        (FastRequest::Refused(_), _) => {}
        (FastRequest::Partial, HyperRequest::Partial) => {}
        (FastRequest::Partial, _) => {
            panic!("own path waits for more of the head, hyper: {hyper:?}")
        }
        (FastRequest::Own(o), HyperRequest::Head(h)) => {
            assert_eq!(o.method, h.method, "method");
            assert_eq!(o.target, h.target, "target");
            assert_eq!(o.fields_by_name(), h.fields, "fields");
            match (&o.body, &h.body) {
                (Ok(Some(a)), Ok(Some(b))) => assert_eq!(a, b, "body bytes"),
                (Ok(None), Ok(None)) => {}
                (Err(_), Err(_)) => {}
                // The decoder's documented refusals, where hyper's is more lenient.
                (Err(_), Ok(_)) if o.framing == Framing::Chunked && !strict_chunked_ok(&o.rest) => {
                }
                (a, b) => panic!("body: own path {a:?}, hyper {b:?}"),
            }
            upstream_framing(o);
        }
        (FastRequest::Own(o), _) => panic!(
            "own path accepted {} {} ({:?}), hyper: {hyper:?}",
            o.method, o.target, o.body
        ),
    }
});
