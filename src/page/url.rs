//! URLs as a page carries them: in attribute values (with character references, stray whitespace
//! and backslashes, which browsers tolerate) and inside inline scripts' text.

use std::borrow::Cow;

/// An attribute value as the browser's URL parser sees it: character references decoded,
/// leading and trailing ASCII whitespace trimmed, tabs and newlines removed, `\` read as `/`
/// (as browsers do for http and https URLs).
pub fn clean_attr_url(raw: &str) -> Cow<'_, str> {
    let decoded = decode_refs(raw);
    let trimmed = decoded.trim_matches(|c: char| c.is_ascii_whitespace());
    if !trimmed.contains(['\t', '\n', '\r', '\\']) {
        return match decoded {
            Cow::Borrowed(b) => Cow::Borrowed(b.trim_matches(|c: char| c.is_ascii_whitespace())),
            Cow::Owned(_) => Cow::Owned(trimmed.to_string()),
        };
    }
    Cow::Owned(
        trimmed
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .map(|c| if c == '\\' { '/' } else { c })
            .collect(),
    )
}

/// Whether a cleaned URL leaves the page's own origin for sure: an `http:` or `https:` URL with a
/// host, or a protocol-relative `//host` one. Relative URLs stay on the page's own site.
pub fn is_network_url(url: &str) -> bool {
    if url.starts_with("//") {
        return url.len() > 2;
    }
    let Some(colon) = url.find(':') else {
        return false;
    };
    let scheme = &url[..colon];
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
        && url[colon + 1..].starts_with("//")
}

/// The URLs of a `srcset` value (each candidate's URL, without its descriptor).
pub fn srcset_urls(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|c| {
            c.trim_matches(|ch: char| ch.is_ascii_whitespace())
                .split(|ch: char| ch.is_ascii_whitespace())
                .next()
                .unwrap_or("")
        })
        .filter(|u| !u.is_empty())
}

/// Decodes the character references that can hide a URL's characters: numeric ones and the
/// named ones for ASCII punctuation. Anything else is left as written.
pub fn decode_refs(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    const NAMED: &[(&str, char)] = &[
        ("amp", '&'),
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("apos", '\''),
        ("sol", '/'),
        ("colon", ':'),
        ("period", '.'),
        ("quest", '?'),
        ("equals", '='),
        ("num", '#'),
        ("bsol", '\\'),
        ("Tab", '\t'),
        ("NewLine", '\n'),
        ("nbsp", '\u{a0}'),
        ("percnt", '%'),
        ("commat", '@'),
        ("lowbar", '_'),
        ("hyphen", '-'),
        ("dash", '-'),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let body = &rest[1..];
        let end = body
            .char_indices()
            .take(12)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(body.len().min(12), |(j, _)| j);
        let name = &body[..end];
        let semi = body[end..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let value = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            value.map(|v| {
                char::from_u32(v)
                    .filter(|&c| c != '\0')
                    .unwrap_or('\u{fffd}')
            })
        } else if semi {
            NAMED.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
        } else {
            None
        };
        match decoded {
            Some(c) if !name.is_empty() => {
                out.push(c);
                rest = &body[end + usize::from(semi)..];
            }
            _ => {
                out.push('&');
                rest = body;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// Bytes that end a URL written in JavaScript text.
fn url_end(b: u8) -> bool {
    b.is_ascii_whitespace()
        || b.is_ascii_control()
        || matches!(
            b,
            b'"' | b'\''
                | b'`'
                | b'<'
                | b'>'
                | b'('
                | b')'
                | b'{'
                | b'}'
                | b'|'
                | b'^'
                | b'+'
                | b';'
                | b','
        )
}

/// URLs written in a script's text, as `host/path` without scheme, in order of appearance.
///
/// Tag loaders build their URL in code (`'https://www.googletagmanager.com/gtm.js?id='+i`,
/// `t.src="https://www.clarity.ms/tag/"+i`, `'//static.hotjar.com/c/hotjar-'`), so a candidate is
/// any host after `//` (also JSON-escaped, `\/\/`), or a host with a dot right after a quote and
/// followed by a path (`'connect.facebook.net/en_US/fbevents.js'`, and the old
/// `'.google-analytics.com/ga.js'`). The path runs to the end of the string literal; `\/` is read
/// as `/`.
pub fn script_urls(text: &str) -> ScriptUrls<'_> {
    ScriptUrls { text, at: 0 }
}

/// The iterator of [`script_urls`].
pub struct ScriptUrls<'t> {
    text: &'t str,
    at: usize,
}

impl Iterator for ScriptUrls<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let b = self.text.as_bytes();
        while self.at < b.len() {
            let i = self.at;
            self.at += 1;
            let start = match b[i] {
                // `//host` or `\/\/host`.
                b'/' if b.get(i + 1) == Some(&b'/') => {
                    self.at = i + 2;
                    i + 2
                }
                b'\\' if b[i..].starts_with(b"\\/\\/") => {
                    self.at = i + 4;
                    i + 4
                }
                b'"' | b'\'' | b'`' => i + 1,
                _ => continue,
            };
            let after_slashes = start != i + 1;
            let mut end = start;
            while end < b.len() && host_byte(b[end]) {
                end += 1;
            }
            let host = self.text[start..end].trim_start_matches('.');
            if host.is_empty() || !host.contains('.') || host.ends_with('.') {
                continue;
            }
            // A port.
            let mut p = end;
            if b.get(p) == Some(&b':') {
                let digits = b[p + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    p += 1 + digits;
                }
            }
            let has_path = b.get(p) == Some(&b'/') || b[p..].starts_with(b"\\/");
            if !after_slashes && !has_path && !self.text[start..end].starts_with('.') {
                // A quoted word with a dot (`'a.b'`) is not a URL unless a path follows.
                continue;
            }
            let mut url = host.to_string();
            let mut q = p;
            if has_path || b.get(p) == Some(&b'?') {
                while q < b.len() && !url_end(b[q]) {
                    if b[q] == b'\\' {
                        if b.get(q + 1) == Some(&b'/') {
                            url.push('/');
                            q += 2;
                            continue;
                        }
                        break;
                    }
                    q += 1;
                    let ch_start = q - 1;
                    // Keep multi-byte characters whole.
                    let mut ch_end = q;
                    while ch_end < b.len() && !self.text.is_char_boundary(ch_end) {
                        ch_end += 1;
                    }
                    url.push_str(&self.text[ch_start..ch_end]);
                    q = ch_end;
                }
            }
            self.at = self.at.max(q);
            return Some(url);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_are_cleaned_like_browsers_do() {
        assert_eq!(clean_attr_url(" https://a.com/x "), "https://a.com/x");
        assert_eq!(
            clean_attr_url("https://a.com/x?a=1&amp;b=2"),
            "https://a.com/x?a=1&b=2"
        );
        assert_eq!(
            clean_attr_url("https&colon;//connect&period;facebook&#46;net/x"),
            "https://connect.facebook.net/x"
        );
        assert_eq!(clean_attr_url("&#x68;ttps://a.com"), "https://a.com");
        assert_eq!(clean_attr_url("https:\\\\a.com\\x"), "https://a.com/x");
        assert_eq!(clean_attr_url("ht\ntps://a.\tcom"), "https://a.com");
        assert_eq!(clean_attr_url("a&b&unknown;&#;"), "a&b&unknown;&#;");
        assert_eq!(clean_attr_url("&#0;"), "\u{fffd}");
    }

    #[test]
    fn network_urls() {
        assert!(is_network_url("https://a.com/x"));
        assert!(is_network_url("HTTP://a.com"));
        assert!(is_network_url("//a.com/x"));
        assert!(!is_network_url("/a.com/x"));
        assert!(!is_network_url("a.com/x.js"));
        assert!(!is_network_url("js/app.js"));
        assert!(!is_network_url("data:text/javascript,1"));
        assert!(!is_network_url("//"));
    }

    #[test]
    fn srcset_candidates() {
        let v: Vec<_> = srcset_urls("a.png 1x, https://t.com/p.gif 2x,  c.png").collect();
        assert_eq!(v, ["a.png", "https://t.com/p.gif", "c.png"]);
    }

    fn urls(text: &str) -> Vec<String> {
        script_urls(text).collect()
    }

    #[test]
    fn urls_in_tag_loader_snippets() {
        assert_eq!(
            urls("j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode"),
            ["www.googletagmanager.com/gtm.js?id="]
        );
        assert_eq!(
            urls("t.src=v;s=b.getElementsByTagName(e)[0];}(window, document,'script','https://connect.facebook.net/en_US/fbevents.js');"),
            ["connect.facebook.net/en_US/fbevents.js"]
        );
        assert_eq!(
            urls("r.async=1;r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');"),
            ["static.hotjar.com/c/hotjar-"]
        );
        assert_eq!(
            urls(r#"t.src="https://www.clarity.ms/tag/"+i;"#),
            ["www.clarity.ms/tag/"]
        );
        assert_eq!(
            urls(r#"{"src":"https:\/\/snap.licdn.com\/li.lms-analytics\/insight.min.js"}"#),
            ["snap.licdn.com/li.lms-analytics/insight.min.js"]
        );
        assert_eq!(
            urls("ga.src = ('https:' == document.location.protocol ? 'https://ssl' : 'http://www') + '.google-analytics.com/ga.js';"),
            ["ssl", "www", "google-analytics.com/ga.js"]
                .iter()
                .filter(|u| u.contains('.'))
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            urls("// a comment\nvar x = 'a.b'; var y = \"a.b/c\";"),
            ["a.b/c"]
        );
        assert_eq!(
            urls("x = `//cdn.example.com:8443/a.js`"),
            ["cdn.example.com/a.js"]
        );
        assert_eq!(urls("'//ünï.com/é'"), Vec::<String>::new());
        assert_eq!(urls("'//a.com/é?x'"), ["a.com/é?x"]);
        assert!(urls("\\/\\/").is_empty());
        assert!(urls("'").is_empty());
    }
}
