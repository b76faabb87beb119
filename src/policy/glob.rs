//! Cookie-name globs: `*` matches any run of bytes (including none); every other byte is literal.
//! Names are compared case-sensitively, as browsers compare cookie names.

/// Splits a pattern into its literal prefix (before the first `*`), literal suffix (after the
/// last `*`) and whether it has any `*` at all.
pub fn parts(pattern: &str) -> (&str, &str, bool) {
    match (pattern.find('*'), pattern.rfind('*')) {
        (Some(first), Some(last)) => (&pattern[..first], &pattern[last + 1..], true),
        _ => (pattern, "", false),
    }
}

/// The number of literal (non-`*`) bytes: the precedence weight of a glob.
pub fn literal_len(pattern: &str) -> usize {
    pattern.bytes().filter(|&b| b != b'*').count()
}

/// Whether `name` matches `pattern`. Linear in practice: the classic two-pointer algorithm
/// backtracks only to the most recent `*`, so the worst case is O(name × pattern).
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether some name matches both globs. Used at load time to find conflicting rules.
///
/// Two globs can share a name exactly when their literal prefixes are compatible (one is a
/// prefix of the other) and so are their literal suffixes, unless one of them has no `*` in the
/// middle and is too short to hold the other's prefix and suffix. Middle literals of patterns with
/// several `*` can always be placed, because the other pattern's `*` absorbs them.
pub fn overlap(a: &str, b: &str) -> bool {
    let (ap, asuf, astar) = parts(a);
    let (bp, bsuf, bstar) = parts(b);
    match (astar, bstar) {
        (false, false) => a == b,
        (false, true) => matches(b.as_bytes(), a.as_bytes()),
        (true, false) => matches(a.as_bytes(), b.as_bytes()),
        (true, true) => {
            let prefix_ok = ap.starts_with(bp) || bp.starts_with(ap);
            let suffix_ok = asuf.ends_with(bsuf) || bsuf.ends_with(asuf);
            if !(prefix_ok && suffix_ok) {
                return false;
            }
            // Build a witness: the longer prefix, every middle literal of both, the longer suffix.
            let prefix = if ap.len() >= bp.len() { ap } else { bp };
            let suffix = if asuf.len() >= bsuf.len() { asuf } else { bsuf };
            let mut witness = String::from(prefix);
            for mid in middles(a).chain(middles(b)) {
                witness.push_str(mid);
            }
            witness.push_str(suffix);
            matches(a.as_bytes(), witness.as_bytes()) && matches(b.as_bytes(), witness.as_bytes())
        }
    }
}

/// The literal runs strictly between the first and last `*`.
fn middles(pattern: &str) -> impl Iterator<Item = &str> {
    let (first, last) = match (pattern.find('*'), pattern.rfind('*')) {
        (Some(f), Some(l)) if l > f => (f, l),
        _ => (0, 0),
    };
    let inner = if last > first {
        &pattern[first + 1..last]
    } else {
        ""
    };
    inner.split('*').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        matches(p.as_bytes(), n.as_bytes())
    }

    #[test]
    fn literal_and_star_matching() {
        assert!(m("_ga", "_ga"));
        assert!(!m("_ga", "_gat"));
        assert!(m("_ga_*", "_ga_ABC123"));
        assert!(m("_ga_*", "_ga_"));
        assert!(!m("_ga_*", "_ga"));
        assert!(m("*.appUserId", "5f2a.appUserId"));
        assert!(!m("*.appUserId", "5f2a.appUserIdX"));
        assert!(m("_hj*Session*", "_hjSession_123"));
        assert!(m("_hj*Session*", "_hjAbsoluteSessionInProgress"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "aXbYbZc"));
        assert!(!m("a*b*c", "aXbYcZ"));
        assert!(m("*", ""));
        assert!(m("**", "x"));
        assert!(!m("_GA", "_ga"), "names are case-sensitive");
    }

    #[test]
    fn parts_and_weights() {
        assert_eq!(parts("_ga_*"), ("_ga_", "", true));
        assert_eq!(parts("*.appUserId"), ("", ".appUserId", true));
        assert_eq!(parts("a*b*c"), ("a", "c", true));
        assert_eq!(parts("exact"), ("exact", "", false));
        assert_eq!(literal_len("_ga_*"), 4);
        assert_eq!(literal_len("a*b*c"), 3);
    }

    #[test]
    fn overlap_detection() {
        assert!(overlap("_ga_*", "_ga*"));
        assert!(overlap("_ga_*", "*_x"));
        assert!(overlap("ab*", "*cd"));
        assert!(!overlap("ab*", "ac*"));
        assert!(!overlap("*ab", "*cb"));
        assert!(overlap("a*b*c", "a*c"));
        assert!(overlap("x*y", "*"));
        assert!(overlap("_ga", "_g*"));
        assert!(!overlap("_ga", "_x*"));
        assert!(overlap("a*", "a*"));
    }

    #[test]
    fn overlap_witness_is_sound() {
        // When overlap says yes for two globs, the witness really matches both.
        let pats = [
            "a*", "*a", "a*b", "ab*", "*ab", "a*b*", "*a*b", "b*a", "*", "ab*ba",
        ];
        for a in pats {
            for b in pats {
                let claimed = overlap(a, b);
                // Brute force over short names of a, b, x.
                let mut found = false;
                let alphabet = [b'a', b'b', b'x'];
                let mut stack: Vec<Vec<u8>> = vec![vec![]];
                while let Some(name) = stack.pop() {
                    if matches(a.as_bytes(), &name) && matches(b.as_bytes(), &name) {
                        found = true;
                        break;
                    }
                    if name.len() < 6 {
                        for c in alphabet {
                            let mut n = name.clone();
                            n.push(c);
                            stack.push(n);
                        }
                    }
                }
                assert_eq!(claimed, found, "{a} vs {b}");
            }
        }
    }
}
