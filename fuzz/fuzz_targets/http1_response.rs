//! Upstream response bytes through the own HTTP/1.1 path's response-head parser, framing check
//! and body relay (counted copy, chunked decoder, read to the close), against hyper's HTTP/1.1
//! client on an in-memory stream. The first byte's low bit makes the request a `HEAD`; the next
//! two give the offset at which the response arrives in two reads; the stream closes after it.
//!
//! Compared: the status, the fields (values in order per name, so `Set-Cookie` lines keep their
//! order), the body bytes and whether the response arrived complete. The own path may refuse
//! only what it documents as hostile framing (`Content-Length` with `Transfer-Encoding`, an
//! unasked protocol switch). A connection it keeps for reuse ended exactly at the framing end.
#![no_main]

use consentry::http1::response::Body;
use consentry_fuzz::http1::{
    decode_chunked, hyper_response, own_response, split, strict_chunked_ok, FastResponse,
    HyperResponse,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let head_request = flags & 1 == 1;
    let (first, second) = split(data);
    let own = own_response(first, second, head_request);
    let hyper = hyper_response(first, second, head_request);
    match (&own, &hyper) {
        (FastResponse::RefusedStricter(_), _) => {}
        (FastResponse::Broken(_), HyperResponse::Failed(_)) => {}
        (FastResponse::Broken(why), HyperResponse::Response { code, body, .. }) => {
            panic!("own path: {why}; hyper got {code} with body {body:?}")
        }
        (FastResponse::Response(o), HyperResponse::Failed(e)) => {
            panic!("own path got {} ({:?}), hyper failed: {e}", o.code, o.body)
        }
        (FastResponse::Response(o), HyperResponse::Response { code, fields, body }) => {
            let whole = [first, second].concat();
            assert_eq!(o.code, *code, "status");
            assert_eq!(&o.fields, fields, "fields");
            match (&o.body, body) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "body bytes"),
                (Err(_), Err(_)) => {}
                // The decoder's documented refusals, where hyper's is more lenient.
                (Err(_), Ok(_))
                    if o.framing == Body::Chunked && !strict_chunked_ok(&whole[o.head_end..]) => {}
                (a, b) => panic!("body: own path {a:?}, hyper {b:?}"),
            }
            if o.reusable {
                match o.framing {
                    Body::None => assert_eq!(o.consumed, o.head_end),
                    Body::Length(n) => assert_eq!(o.consumed, o.head_end + n as usize),
                    Body::Chunked => {
                        // The body decoded in one piece ends exactly where the relay stopped.
                        let (_, end) = decode_chunked(&[&whole[o.head_end..o.consumed]])
                            .expect("the relayed body decodes");
                        assert_eq!(end, Some(o.consumed - o.head_end));
                    }
                    Body::UntilClose => panic!("a body read to the close is not reusable"),
                }
            }
        }
    }
});
