//! The request `Cookie` header as a browser sends it: `name=value` pairs separated by `;`.
//!
//! Parsing is lenient and allocation-free: consent cookies carry raw `,`, `'`, `{`, `:` and `=`,
//! so a pair is split on `;`, trimmed, and cut at its first `=`. A pair without `=` is a nameless
//! cookie: its name is empty and the whole text is the value.

/// One `name=value` pair of a `Cookie` header, borrowed from the header text.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Pair<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// The whole pair as it appeared (trimmed), for rebuilding a header without some pairs.
    pub raw: &'a str,
}

impl<'a> Pair<'a> {
    /// The name a cookie presents to the server: its name, or for a nameless cookie the text of
    /// its value before the first `=` (a browser sends a nameless cookie as its bare value).
    pub fn presented_name(&self) -> &'a str {
        if self.name.is_empty() {
            match self.value.find('=') {
                Some(i) => self.value[..i].trim_matches(is_ws),
                None => self.value,
            }
        } else {
            self.name
        }
    }
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Trims spaces and tabs; byte-wise, as both are ASCII (the result stays on char boundaries).
#[inline]
fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && matches!(b[start], b' ' | b'\t') {
        start += 1;
    }
    while end > start && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    &s[start..end]
}

/// Iterates the pairs of one `Cookie` header value, skipping empty ones.
pub fn pairs(header: &str) -> Pairs<'_> {
    Pairs { rest: header }
}

/// The iterator of [`pairs`]: each part ends at the next `;`, found with `memchr` (consent
/// cookies make some values long), and is cut at its first `=`. Both are ASCII, so every cut
/// lands on a char boundary.
#[derive(Clone, Debug)]
pub struct Pairs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        while !self.rest.is_empty() {
            let bytes = self.rest.as_bytes();
            let end = memchr::memchr(b';', bytes).unwrap_or(bytes.len());
            // Names are short: a plain scan finds the `=` before a vector search would pay off.
            let eq = bytes[..end].iter().position(|&b| b == b'=');
            let part = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or("");
            let raw = trim_ws(part);
            if raw.is_empty() {
                continue;
            }
            // `raw` starts after leading blanks, which are not `=`.
            let start = raw.as_ptr() as usize - part.as_ptr() as usize;
            return Some(match eq {
                Some(i) => {
                    let i = i - start;
                    Pair {
                        name: trim_ws(&raw[..i]),
                        value: trim_ws(&raw[i + 1..]),
                        raw,
                    }
                }
                None => Pair {
                    name: "",
                    value: raw,
                    raw,
                },
            });
        }
        None
    }
}

/// The value of the first cookie named `name` (browsers send the most specific one first).
pub fn get<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    pairs(header).find(|p| p.name == name).map(|p| p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_and_first_equals() {
        let h = "a=1; b = x=y ;c=; ;d";
        let v: Vec<_> = pairs(h).map(|p| (p.name, p.value)).collect();
        assert_eq!(v, vec![("a", "1"), ("b", "x=y"), ("c", ""), ("", "d")]);
    }

    #[test]
    fn keeps_raw_consent_values() {
        let h =
            "cookieyes-consent=consentid:abc,consent:yes,action:yes; CookieConsent={stamp:%27x%27}";
        assert_eq!(
            get(h, "cookieyes-consent"),
            Some("consentid:abc,consent:yes,action:yes")
        );
        assert_eq!(get(h, "CookieConsent"), Some("{stamp:%27x%27}"));
        assert_eq!(get(h, "cookieconsent"), None);
    }

    #[test]
    fn first_duplicate_wins() {
        assert_eq!(get("x=1; x=2", "x"), Some("1"));
    }

    #[test]
    fn presented_names() {
        let v: Vec<_> = pairs("=_ga=GA1.2; _gid; a=b")
            .map(|p| p.presented_name())
            .collect();
        assert_eq!(v, vec!["_ga", "_gid", "a"]);
    }

    #[test]
    fn tabs_are_trimmed() {
        let v: Vec<_> = pairs("\ta\t=\t1\t")
            .map(|p| (p.name, p.value, p.raw))
            .collect();
        assert_eq!(v, vec![("a", "1", "a\t=\t1")]);
    }
}
