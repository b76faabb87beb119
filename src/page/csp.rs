//! How the page guard gets past the page's Content-Security-Policy without weakening it.
//!
//! [`plan`] is a pure function from the response's `Content-Security-Policy` header values (and
//! its `-Report-Only` ones) to the form of the guard's `<script>` and the header edits, if any:
//! - no policy restricts scripts, or every one allows inline scripts: an inline script, headers
//!   untouched;
//! - every restricting policy carries one same nonce: an inline script with that nonce (with
//!   `'strict-dynamic'` the scripts the guard re-creates are trusted through it);
//! - every restricting policy allows inline scripts only by hash (or nonce): an inline script,
//!   and the hash of the guard's own script added to the policies that need it, nothing else;
//! - inline scripts are not allowed but same-origin ones are (`'self'`): the guard served from
//!   [`guard_path`](super::guard::guard_path);
//! - otherwise no form: the guard is left out and the server-side rewrite alone holds.
//!
//! Several policies (several header lines, or one line with comma-separated policies) must all
//! allow the script. Report-only policies never decide the form, but when one of them would
//! report the inline guard, the guard's hash is added to it too, so its reports stay about the
//! page's own scripts. The guard asks the proxy for new decisions with a same-origin `fetch`;
//! where `connect-src` forbids that, it is told not to ask (the page then needs a reload).

use super::guard;

/// Where and how the guard's script goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// `<script>…</script>`.
    Inline,
    /// `<script nonce="…">…</script>`, with the page's nonce.
    Nonce(String),
    /// `<script>…</script>`, with the guard's hash added to the policies (see [`CspPlan`]).
    Hash,
    /// `<script src="/.consentry/guard.<hash>.js"></script>`.
    External,
}

/// The form of the guard on one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardForm {
    pub placement: Placement,
    /// Whether the page's policy lets the guard fetch the consent endpoint (same-origin).
    pub live: bool,
}

impl GuardForm {
    /// The form for a page without any Content-Security-Policy: inline, live.
    pub fn inline() -> GuardForm {
        GuardForm {
            placement: Placement::Inline,
            live: true,
        }
    }
}

/// What [`plan`] decided for one response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspPlan {
    /// `None`: no form of the guard is allowed without weakening the policy; leave it out.
    pub form: Option<GuardForm>,
    /// New values for the `Content-Security-Policy` field lines, one per line given, in order;
    /// `None` when they stay as they are.
    pub enforce: Option<Vec<String>>,
    /// The same for `Content-Security-Policy-Report-Only`.
    pub report_only: Option<Vec<String>>,
}

/// Decides the guard's form and the header edits from the response's policies.
pub fn plan(enforce: &[&str], report_only: &[&str]) -> CspPlan {
    let hash = guard::guard_hash();
    let enforced = parse(enforce);
    let reported = parse(report_only);
    // Policies that restrict script elements, with the directive that does.
    let restricting: Vec<(&Policy, &Directive)> = enforced
        .iter()
        .filter_map(|p| p.script_directive().map(|d| (p, d)))
        .collect();
    let live = enforced.iter().all(|p| {
        p.directive(&["connect-src", "default-src"])
            .is_none_or(|d| d.sources.self_ || d.sources.star)
    });

    let choice = choose(&restricting, hash);
    let Some((placement, hashed)) = choice else {
        return CspPlan {
            form: None,
            enforce: None,
            report_only: None,
        };
    };
    let enforce_edits = edits(enforce, &hashed, hash);
    // Report-only policies that would report the inline guard get its hash too.
    let report_edits = match &placement {
        Placement::External => None,
        p => {
            let nonce = match p {
                Placement::Nonce(n) => Some(n.as_str()),
                _ => None,
            };
            let targets: Vec<Target> = reported
                .iter()
                .filter_map(|p| p.script_directive().map(|d| (p, d)))
                .filter(|(_, d)| !d.sources.allows_inline(nonce, hash))
                .map(|(p, d)| Target {
                    header: p.header,
                    end: d.end,
                })
                .collect();
            edits(report_only, &targets, hash)
        }
    };
    CspPlan {
        form: Some(GuardForm { placement, live }),
        enforce: enforce_edits,
        report_only: report_edits,
    }
}

/// Where a hash source is inserted: the end of one directive in one header line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    header: usize,
    end: usize,
}

/// The cheapest placement every restricting policy allows, with the directives that need the
/// guard's hash added. `None` when there is none.
fn choose(restricting: &[(&Policy, &Directive)], hash: &str) -> Option<(Placement, Vec<Target>)> {
    if restricting
        .iter()
        .all(|(_, d)| d.sources.allows_inline(None, hash))
    {
        return Some((Placement::Inline, Vec::new()));
    }
    // A nonce every restricting policy accepts (one that allows any inline script accepts any).
    let mut candidates: Vec<&str> = Vec::new();
    for (_, d) in restricting {
        for n in &d.sources.nonces {
            if !candidates.contains(n) {
                candidates.push(n);
            }
        }
    }
    if let Some(n) = candidates.iter().find(|n| {
        restricting
            .iter()
            .all(|(_, d)| d.sources.allows_inline(Some(n), hash))
    }) {
        return Some((Placement::Nonce(n.to_string()), Vec::new()));
    }
    // The guard's hash, added where a policy already allows inline scripts by hash or nonce.
    let need: Vec<&(&Policy, &Directive)> = restricting
        .iter()
        .filter(|(_, d)| !d.sources.allows_inline(None, hash))
        .collect();
    if need.iter().all(|(_, d)| d.sources.allows_by_hash()) {
        let targets = need
            .iter()
            .map(|(p, d)| Target {
                header: p.header,
                end: d.end,
            })
            .collect();
        return Some((Placement::Hash, targets));
    }
    if restricting
        .iter()
        .all(|(_, d)| d.sources.allows_same_origin())
    {
        return Some((Placement::External, Vec::new()));
    }
    None
}

/// The header lines with ` 'sha256-…'` appended to each target directive; `None` if no target.
fn edits(values: &[&str], targets: &[Target], hash: &str) -> Option<Vec<String>> {
    if targets.is_empty() {
        return None;
    }
    let source = format!(" '{hash}'");
    let out = values
        .iter()
        .enumerate()
        .map(|(h, value)| {
            let mut ends: Vec<usize> = targets
                .iter()
                .filter(|t| t.header == h)
                .map(|t| t.end)
                .collect();
            ends.sort_unstable();
            ends.dedup();
            let mut s = String::with_capacity(value.len() + ends.len() * source.len());
            let mut at = 0;
            for end in ends {
                s.push_str(&value[at..end]);
                s.push_str(&source);
                at = end;
            }
            s.push_str(&value[at..]);
            s
        })
        .collect();
    Some(out)
}

/// One parsed policy.
#[derive(Debug)]
struct Policy<'a> {
    /// Index of the header line it came from.
    header: usize,
    directives: Vec<Directive<'a>>,
}

#[derive(Debug)]
struct Directive<'a> {
    /// Lowercased.
    name: String,
    sources: Sources<'a>,
    /// Byte offset in the header line just after the directive's last character.
    end: usize,
}

impl<'a> Policy<'a> {
    /// The first of `names` the policy has (CSP's fallback order).
    fn directive(&self, names: &[&str]) -> Option<&Directive<'a>> {
        names
            .iter()
            .find_map(|n| self.directives.iter().find(|d| d.name == *n))
    }

    /// The directive that governs `<script>` elements, if any.
    fn script_directive(&self) -> Option<&Directive<'a>> {
        self.directive(&["script-src-elem", "script-src", "default-src"])
    }
}

/// What a source list says about scripts.
#[derive(Debug, Default)]
struct Sources<'a> {
    nonces: Vec<&'a str>,
    /// `'sha256-…'` and friends, without quotes.
    hashes: Vec<&'a str>,
    unsafe_inline: bool,
    strict_dynamic: bool,
    self_: bool,
    star: bool,
}

impl<'a> Sources<'a> {
    fn parse(tokens: &[&'a str]) -> Sources<'a> {
        let mut s = Sources::default();
        for &t in tokens {
            let lower = t.to_ascii_lowercase();
            match lower.as_str() {
                "'unsafe-inline'" => s.unsafe_inline = true,
                "'strict-dynamic'" => s.strict_dynamic = true,
                "'self'" => s.self_ = true,
                "*" => s.star = true,
                _ => {
                    let Some(inner) = t.strip_prefix('\'').and_then(|t| t.strip_suffix('\''))
                    else {
                        continue;
                    };
                    if let Some(n) = strip_prefix_ignore_case(inner, "nonce-") {
                        if is_base64_value(n) {
                            s.nonces.push(n);
                        }
                    } else if ["sha256-", "sha384-", "sha512-"]
                        .iter()
                        .any(|p| strip_prefix_ignore_case(inner, p).is_some_and(is_base64_value))
                    {
                        s.hashes.push(inner);
                    }
                }
            }
        }
        s
    }

    /// Whether an inline script with this nonce (if any) and this hash runs (CSP3: a nonce or a
    /// hash source disables `'unsafe-inline'`, and so does `'strict-dynamic'`).
    fn allows_inline(&self, nonce: Option<&str>, hash: &str) -> bool {
        if nonce.is_some_and(|n| self.nonces.contains(&n)) {
            return true;
        }
        if self.hashes.iter().any(|h| same_hash(h, hash)) {
            return true;
        }
        self.unsafe_inline
            && self.nonces.is_empty()
            && self.hashes.is_empty()
            && !self.strict_dynamic
    }

    /// Whether the policy already lets inline scripts in by hash or nonce, so one more hash
    /// source lets in only the guard and nothing else.
    fn allows_by_hash(&self) -> bool {
        !self.hashes.is_empty() || !self.nonces.is_empty()
    }

    /// Whether a same-origin `<script src>` loads (`'strict-dynamic'` ignores `'self'` and `*`).
    fn allows_same_origin(&self) -> bool {
        !self.strict_dynamic && (self.self_ || self.star)
    }
}

/// Hash sources compare with the algorithm case-insensitively and the value exactly.
fn same_hash(source: &str, ours: &str) -> bool {
    match (source.split_once('-'), ours.split_once('-')) {
        (Some((a, x)), Some((b, y))) => a.eq_ignore_ascii_case(b) && x == y,
        _ => false,
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// CSP's base64-value: `1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" ) *2"="`. Only such nonces are
/// ever copied into markup.
fn is_base64_value(v: &str) -> bool {
    let body = v.trim_end_matches('=');
    v.len() - body.len() <= 2
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// Parses header lines into policies (CSP3 "parse a serialized CSP list"): each line holds
/// comma-separated policies, each policy semicolon-separated directives; a directive repeated
/// within a policy is ignored after its first occurrence.
fn parse<'a>(values: &[&'a str]) -> Vec<Policy<'a>> {
    let mut out = Vec::new();
    for (header, value) in values.iter().enumerate() {
        let mut policy_start = 0;
        for policy_text in value.split(',') {
            let mut directives: Vec<Directive<'a>> = Vec::new();
            let mut at = policy_start;
            for text in policy_text.split(';') {
                let start = at;
                at += text.len() + 1;
                let lead = text.len() - text.trim_start_matches(is_csp_space).len();
                let trimmed = text.trim_matches(is_csp_space);
                if trimmed.is_empty() {
                    continue;
                }
                let end = start + lead + trimmed.len();
                let mut parts = trimmed.split(is_csp_space).filter(|t| !t.is_empty());
                let name = parts.next().unwrap_or_default().to_ascii_lowercase();
                if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    || directives.iter().any(|d| d.name == name)
                {
                    continue;
                }
                let tokens: Vec<&'a str> = parts.collect();
                directives.push(Directive {
                    name,
                    sources: Sources::parse(&tokens),
                    end,
                });
            }
            policy_start += policy_text.len() + 1;
            if !directives.is_empty() {
                out.push(Policy { header, directives });
            }
        }
    }
    out
}

fn is_csp_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash() -> String {
        format!("'{}'", guard::guard_hash())
    }

    fn form(p: &CspPlan) -> Option<Placement> {
        p.form.as_ref().map(|f| f.placement.clone())
    }

    #[test]
    fn no_policy_is_inline_and_untouched() {
        let p = plan(&[], &[]);
        assert_eq!(p.form, Some(GuardForm::inline()));
        assert_eq!((p.enforce, p.report_only), (None, None));
    }

    #[test]
    fn policies_that_do_not_restrict_scripts_are_inline() {
        let p = plan(&["frame-ancestors 'none'; img-src https:"], &[]);
        assert_eq!(form(&p), Some(Placement::Inline));
        assert_eq!(p.enforce, None);
    }

    #[test]
    fn unsafe_inline_is_left_as_it_is() {
        for csp in [
            "script-src 'self' 'unsafe-inline'",
            "default-src 'self' 'unsafe-inline'",
            "script-src 'UNSAFE-INLINE' https:",
        ] {
            let p = plan(&[csp], &[]);
            assert_eq!(form(&p), Some(Placement::Inline), "{csp}");
            assert_eq!(p.enforce, None, "{csp}");
        }
    }

    #[test]
    fn a_nonce_is_reused() {
        let p = plan(&["script-src 'nonce-r4nd0m+/=' 'strict-dynamic'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("r4nd0m+/=".into())));
        assert_eq!(p.enforce, None);
        // The keyword is case-insensitive, the value is not.
        let p = plan(&["script-src 'NONCE-AbC'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("AbC".into())));
    }

    #[test]
    fn unsafe_inline_is_ignored_when_a_nonce_or_hash_is_present() {
        // Google's recommended strict policy: 'unsafe-inline' and https: are fallbacks for old
        // browsers only.
        let p = plan(
            &["script-src 'nonce-abc' 'unsafe-inline' 'strict-dynamic' https:; object-src 'none'; base-uri 'none'"],
            &[],
        );
        assert_eq!(form(&p), Some(Placement::Nonce("abc".into())));
        let csp = "script-src 'sha256-AAAA' 'unsafe-inline'";
        let p = plan(&[csp], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(p.enforce, Some(vec![format!("{csp} {}", hash())]));
    }

    #[test]
    fn strict_dynamic_disables_unsafe_inline_self_and_hosts() {
        // Without a nonce or hash, nothing inline or same-origin runs: no form.
        let p = plan(&["script-src 'strict-dynamic' 'unsafe-inline' 'self'"], &[]);
        assert_eq!(p.form, None);
        assert_eq!(p.enforce, None);
        // With a hash: the guard's hash joins it.
        let p = plan(&["script-src 'strict-dynamic' 'sha384-AAAA' 'self'"], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
    }

    #[test]
    fn hash_only_policies_get_the_guard_hash_and_nothing_else() {
        let csp = "default-src 'self'; script-src 'self' 'sha256-pageScript='; style-src 'self'";
        let p = plan(&[csp], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(
            p.enforce,
            Some(vec![format!(
                "default-src 'self'; script-src 'self' 'sha256-pageScript=' {}; style-src 'self'",
                hash()
            )])
        );
    }

    #[test]
    fn script_src_falls_back_to_default_src() {
        let p = plan(&["default-src 'sha256-x1'; img-src *"], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(
            p.enforce,
            Some(vec![format!(
                "default-src 'sha256-x1' {}; img-src *",
                hash()
            )])
        );
        let p = plan(&["default-src 'nonce-n1'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("n1".into())));
        let p = plan(&["default-src 'self'"], &[]);
        assert_eq!(form(&p), Some(Placement::External));
        // script-src wins over default-src.
        let p = plan(&["default-src 'none'; script-src 'unsafe-inline'"], &[]);
        assert_eq!(form(&p), Some(Placement::Inline));
    }

    #[test]
    fn script_src_elem_governs_elements() {
        // script-src-elem wins over script-src for <script> elements.
        let p = plan(
            &["script-src 'unsafe-inline'; script-src-elem 'nonce-e1'"],
            &[],
        );
        assert_eq!(form(&p), Some(Placement::Nonce("e1".into())));
        let csp = "script-src 'nonce-x'; script-src-elem 'sha256-y'";
        let p = plan(&[csp], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(
            p.enforce,
            Some(vec![format!(
                "script-src 'nonce-x'; script-src-elem 'sha256-y' {}",
                hash()
            )])
        );
    }

    #[test]
    fn no_inline_but_self_serves_the_guard_file() {
        for csp in [
            "script-src 'self' https://cdn.example.com",
            "script-src *",
            "default-src 'self'; connect-src 'self'",
        ] {
            let p = plan(&[csp], &[]);
            assert_eq!(form(&p), Some(Placement::External), "{csp}");
            assert_eq!(p.enforce, None, "{csp}");
        }
    }

    #[test]
    fn nothing_fits_leaves_the_guard_out() {
        for csp in [
            "script-src 'none'",
            "script-src https://cdn.example.com",
            "script-src 'strict-dynamic'",
        ] {
            let p = plan(&[csp], &[]);
            assert_eq!(p.form, None, "{csp}");
            assert_eq!(p.enforce, None, "{csp}");
        }
    }

    #[test]
    fn every_policy_must_allow() {
        // Two lines: one allows inline, the other needs the nonce.
        let p = plan(&["script-src 'unsafe-inline'", "script-src 'nonce-q'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("q".into())));
        // One line with two policies, the same nonce in both.
        let p = plan(&["script-src 'nonce-q', default-src 'nonce-q' 'self'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("q".into())));
        // Different nonces: no single nonce fits both; the hash goes into both.
        let p = plan(&["script-src 'nonce-a'", "script-src 'nonce-b'"], &[]);
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(
            p.enforce,
            Some(vec![
                format!("script-src 'nonce-a' {}", hash()),
                format!("script-src 'nonce-b' {}", hash())
            ])
        );
        // Hash needed by one policy only: the other line is unchanged.
        let p = plan(
            &["script-src 'unsafe-inline'", "script-src 'sha256-z'"],
            &[],
        );
        assert_eq!(form(&p), Some(Placement::Hash));
        assert_eq!(
            p.enforce,
            Some(vec![
                "script-src 'unsafe-inline'".to_string(),
                format!("script-src 'sha256-z' {}", hash())
            ])
        );
        // Comma-separated policies in one line: the edit lands in the right one.
        let p = plan(&["img-src *, script-src 'sha256-z';style-src 'self'"], &[]);
        assert_eq!(
            p.enforce,
            Some(vec![format!(
                "img-src *, script-src 'sha256-z' {};style-src 'self'",
                hash()
            )])
        );
        // One policy needs a hash, another allows no inline at all: nothing fits both
        // (adding the hash to the second would weaken it, and the file is not hash-allowed).
        let p = plan(&["script-src 'sha256-z'", "script-src 'self'"], &[]);
        assert_eq!(p.form, None);
        // Both allow 'self': the file.
        let p = plan(&["script-src 'self'", "default-src 'self' https:"], &[]);
        assert_eq!(form(&p), Some(Placement::External));
    }

    #[test]
    fn the_guard_hash_already_present_is_enough() {
        let csp = format!("script-src {}", hash());
        let p = plan(&[&csp], &[]);
        assert_eq!(form(&p), Some(Placement::Inline));
        assert_eq!(p.enforce, None);
        // The algorithm name is case-insensitive.
        let csp = format!("script-src {}", hash().replace("sha256", "SHA256"));
        assert_eq!(form(&plan(&[&csp], &[])), Some(Placement::Inline));
    }

    #[test]
    fn report_only_never_decides_but_gets_the_hash() {
        // Enforced: none. Report-only would report an inline script: it gets the hash, and the
        // form stays the cheapest.
        let ro = "script-src 'self'; report-uri /csp";
        let p = plan(&[], &[ro]);
        assert_eq!(form(&p), Some(Placement::Inline));
        assert_eq!(p.enforce, None);
        assert_eq!(
            p.report_only,
            Some(vec![format!(
                "script-src 'self' {}; report-uri /csp",
                hash()
            )])
        );
        // A report-only policy that already allows the nonce in use is left alone.
        let p = plan(&["script-src 'nonce-k'"], &["script-src 'nonce-k'"]);
        assert_eq!(form(&p), Some(Placement::Nonce("k".into())));
        assert_eq!(p.report_only, None);
        // With the file, report-only is left alone (a hash does not cover a src script).
        let p = plan(&["script-src 'self'"], &["script-src 'none'"]);
        assert_eq!(form(&p), Some(Placement::External));
        assert_eq!(p.report_only, None);
    }

    #[test]
    fn live_needs_same_origin_connect() {
        assert!(plan(&[], &[]).form.unwrap().live);
        assert!(
            plan(&["script-src 'unsafe-inline'"], &[])
                .form
                .unwrap()
                .live
        );
        assert!(plan(&["default-src 'self'"], &[]).form.unwrap().live);
        assert!(
            plan(
                &["script-src 'nonce-a'; connect-src 'self' https://api.example.com"],
                &[]
            )
            .form
            .unwrap()
            .live
        );
        assert!(
            !plan(&["default-src 'none'; script-src 'nonce-a'"], &[])
                .form
                .unwrap()
                .live
        );
        assert!(
            !plan(
                &["script-src 'nonce-a'; connect-src https://api.example.com"],
                &[]
            )
            .form
            .unwrap()
            .live
        );
        // connect-src wins over default-src.
        assert!(
            plan(
                &["default-src 'none'; script-src 'nonce-a'; connect-src 'self'"],
                &[]
            )
            .form
            .unwrap()
            .live
        );
    }

    #[test]
    fn parsing_follows_csp3() {
        // Repeated directives: the first counts. Names are case-insensitive.
        let p = plan(&["SCRIPT-SRC 'nonce-one'; script-src 'unsafe-inline'"], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("one".into())));
        // Empty directives and odd whitespace are fine.
        let p = plan(&[" ;; script-src\t'nonce-t'  ; "], &[]);
        assert_eq!(form(&p), Some(Placement::Nonce("t".into())));
        // Invalid nonces (not base64) are never copied into markup.
        let p = plan(&["script-src 'nonce-\"><script>' 'self'"], &[]);
        assert_eq!(form(&p), Some(Placement::External));
        let p = plan(&["script-src 'nonce-' 'nonce-a===' 'self'"], &[]);
        assert_eq!(form(&p), Some(Placement::External));
        // An edit lands after the directive's last character, before trailing spaces.
        let p = plan(&["script-src 'sha256-z'   ;img-src *"], &[]);
        assert_eq!(
            p.enforce,
            Some(vec![format!(
                "script-src 'sha256-z' {}   ;img-src *",
                hash()
            )])
        );
    }

    #[test]
    fn hostile_values_do_not_panic() {
        for v in [
            "",
            ",",
            ";",
            "'",
            "script-src '",
            "script-src 'nonce-",
            "\u{0}é;,ü",
            "script-src 'sha256-é'",
        ] {
            let _ = plan(&[v], &[v]);
        }
    }
}
