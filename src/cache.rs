//! Responses that depend on the visitor: kept out of shared caches.

use http::header::{HeaderMap, HeaderValue, CACHE_CONTROL};

/// Marks a response so shared caches do not store it: `private` replaces `public` and
/// `s-maxage`, unless the response is already `private` or `no-store`.
pub fn make_private(headers: &mut HeaderMap) {
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        return;
    }
    if let Some(v) = private_value(headers.get_all(CACHE_CONTROL).iter().map(|v| v.as_bytes())) {
        if let Ok(v) = HeaderValue::from_bytes(&v) {
            headers.insert(CACHE_CONTROL, v);
        }
    }
}

/// The one `Cache-Control` field that replaces `fields` (the response's, in order) to make the
/// response private; `None` when it already is `private` or `no-store` and stays as it is.
/// No fields at all give `private`.
pub fn private_value<'a>(fields: impl Iterator<Item = &'a [u8]>) -> Option<Vec<u8>> {
    let name = |d: &[u8]| {
        let n = d.split(|&b| b == b'=').next().unwrap_or(b"").trim_ascii();
        String::from_utf8_lossy(n).to_ascii_lowercase()
    };
    let directives: Vec<&[u8]> = fields
        .flat_map(|v| v.split(|&b| b == b',').map(<[u8]>::trim_ascii))
        .filter(|d| !d.is_empty())
        .collect();
    if directives
        .iter()
        .any(|d| matches!(name(d).as_str(), "private" | "no-store"))
    {
        return None;
    }
    let mut kept: Vec<u8> = Vec::new();
    for d in directives {
        if matches!(name(d).as_str(), "public" | "s-maxage") {
            continue;
        }
        kept.extend_from_slice(d);
        kept.extend_from_slice(b", ");
    }
    kept.extend_from_slice(b"private");
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn private_replaces_public_and_s_maxage() {
        let mut h = map("public, max-age=600, s-maxage=3600");
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "max-age=600, private");
        let mut h = HeaderMap::new();
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "private");
        let mut h = map("no-store");
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "no-store");
        let mut h = map("Private, max-age=0");
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "Private, max-age=0");
    }
}
