//! The compiled cookie-name matcher.
//!
//! Exact names live in a hash map. Globs are indexed by their literal prefix in a byte trie (and,
//! for globs that start with `*`, by their reversed literal suffix in a second trie), so
//! classifying a name walks the name once and only tests the globs whose prefix or suffix it
//! carries: the cost per name does not grow with the number of rules.
//!
//! Precedence: an exact name beats any glob; between globs the one with more literal characters
//! wins; between equal globs of one category, the first declared. A tie between globs of two
//! categories that can match the same name is rejected when the matcher is built.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::categories::CategoryId;
use super::glob;
use super::trie::Trie;

/// Index of a rule in [`Matcher::rules`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// One configured pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub pattern: Box<str>,
    pub category: CategoryId,
    /// Whether the pattern contains `*`.
    pub is_glob: bool,
    /// Literal bytes in the pattern: the precedence weight of a glob.
    pub literal_len: usize,
}

/// Why a set of patterns cannot be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// An exact name listed in two categories.
    DuplicateExact {
        pattern: String,
        first: CategoryId,
        second: CategoryId,
    },
    /// Two globs of different categories with equal weight that can match the same name.
    GlobTie {
        first: String,
        first_category: CategoryId,
        second: String,
        second_category: CategoryId,
    },
    /// A pattern the matcher cannot use (empty).
    Invalid {
        pattern: String,
        reason: &'static str,
    },
}

/// All configured patterns, compiled.
#[derive(Clone, Debug)]
pub struct Matcher {
    rules: Vec<Rule>,
    /// Exact names; Fx hashing (names are short and the map is built from configuration, not
    /// from requests, so flooding is not a concern).
    exact: FxHashMap<Box<[u8]>, RuleId>,
    /// Globs with a non-empty literal prefix, keyed by that prefix.
    prefixed: Trie<RuleId>,
    /// Globs starting with `*`, keyed by their reversed literal suffix.
    suffixed: Trie<RuleId>,
}

impl Matcher {
    /// Compiles `(pattern, category)` pairs in declaration order. The same pattern listed twice
    /// in one category is accepted once.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = (&'a str, CategoryId)>,
    ) -> Result<Matcher, RuleError> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut exact: FxHashMap<Box<[u8]>, RuleId> = FxHashMap::default();
        let mut globs: Vec<RuleId> = Vec::new();
        let mut seen_globs: HashMap<&'a str, CategoryId> = HashMap::new();

        for (pattern, category) in patterns {
            if pattern.is_empty() {
                return Err(RuleError::Invalid {
                    pattern: String::new(),
                    reason: "a cookie pattern cannot be empty",
                });
            }
            let is_glob = pattern.contains('*');
            let id = RuleId(rules.len() as u32);
            if is_glob {
                match seen_globs.get(pattern) {
                    Some(&c) if c == category => continue,
                    Some(&c) => {
                        return Err(RuleError::GlobTie {
                            first: pattern.to_string(),
                            first_category: c,
                            second: pattern.to_string(),
                            second_category: category,
                        })
                    }
                    None => {
                        seen_globs.insert(pattern, category);
                    }
                }
                globs.push(id);
            } else {
                match exact.get(pattern.as_bytes()) {
                    Some(&prev) if rules[prev.0 as usize].category == category => continue,
                    Some(&prev) => {
                        return Err(RuleError::DuplicateExact {
                            pattern: pattern.to_string(),
                            first: rules[prev.0 as usize].category,
                            second: category,
                        })
                    }
                    None => {
                        exact.insert(pattern.as_bytes().into(), id);
                    }
                }
            }
            rules.push(Rule {
                pattern: pattern.into(),
                category,
                is_glob,
                literal_len: glob::literal_len(pattern),
            });
        }

        check_glob_ties(&rules, &globs)?;

        // Best glob first within each trie node, so the first full match at a node is its best.
        globs.sort_by(|a, b| {
            let (ra, rb) = (&rules[a.0 as usize], &rules[b.0 as usize]);
            rb.literal_len.cmp(&ra.literal_len).then(a.cmp(b))
        });
        let mut prefixed = Trie::new();
        let mut suffixed = Trie::new();
        for id in globs {
            let (prefix, suffix, _) = glob::parts(&rules[id.0 as usize].pattern);
            if !prefix.is_empty() {
                prefixed.insert(prefix.bytes(), id);
            } else {
                suffixed.insert(suffix.bytes().rev(), id);
            }
        }
        Ok(Matcher {
            rules,
            exact,
            prefixed,
            suffixed,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.0 as usize]
    }

    /// The rule that classifies `name`, by the precedence above.
    pub fn classify(&self, name: &[u8]) -> Option<RuleId> {
        if let Some(&id) = self.exact.get(name) {
            return Some(id);
        }
        let mut best: Option<RuleId> = None;
        let mut consider = |ids: &[RuleId]| {
            for &id in ids {
                let rule = &self.rules[id.0 as usize];
                if let Some(b) = best {
                    let br = &self.rules[b.0 as usize];
                    if br.literal_len > rule.literal_len
                        || (br.literal_len == rule.literal_len && b < id)
                    {
                        // Lists are sorted best first: nothing further here can win.
                        return;
                    }
                }
                if glob::matches(rule.pattern.as_bytes(), name) {
                    best = Some(id);
                    return;
                }
            }
        };
        self.prefixed.walk(name.iter().copied(), &mut consider);
        self.suffixed
            .walk(name.iter().rev().copied(), &mut consider);
        best
    }

    /// Rules that can never match because a rule that wins over them matches every name they
    /// match. Returns `(shadowed, by)` pairs.
    pub fn shadowed(&self) -> Vec<(RuleId, RuleId)> {
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let id = RuleId(i as u32);
            if !rule.is_glob {
                continue;
            }
            // A glob with no `*` in a position that can vary is only shadowed by an exact name if
            // it can match a single name; otherwise by a heavier glob that covers it.
            for (j, other) in self.rules.iter().enumerate() {
                if i == j || !other.is_glob {
                    continue;
                }
                let wins = other.literal_len > rule.literal_len
                    || (other.literal_len == rule.literal_len && j < i);
                if wins && covers(&other.pattern, &rule.pattern) {
                    out.push((id, RuleId(j as u32)));
                    break;
                }
            }
        }
        out
    }
}

/// Whether glob `a` matches every name glob `b` matches. Checked conservatively: `a` must match
/// `b` read as a literal string with its `*` as ordinary bytes, and `a`'s `*` runs must be able to
/// absorb `b`'s (a sufficient condition, good enough for warnings).
fn covers(a: &str, b: &str) -> bool {
    // Replace each `*` of b with a byte that no literal of a contains, then a must still match.
    let filler = (1u8..=31)
        .find(|c| !a.as_bytes().contains(c))
        .unwrap_or(0x1f);
    let probe: Vec<u8> = b
        .bytes()
        .map(|c| if c == b'*' { filler } else { c })
        .collect();
    glob::matches(a.as_bytes(), &probe)
}

/// Rejects two globs of different categories with equal weight that can match one name.
fn check_glob_ties(rules: &[Rule], globs: &[RuleId]) -> Result<(), RuleError> {
    // Group by weight: only equal weights can tie.
    let mut by_weight: HashMap<usize, Vec<RuleId>> = HashMap::new();
    for &id in globs {
        by_weight
            .entry(rules[id.0 as usize].literal_len)
            .or_default()
            .push(id);
    }
    for ids in by_weight.values() {
        for (k, &a) in ids.iter().enumerate() {
            for &b in &ids[k + 1..] {
                let (ra, rb) = (&rules[a.0 as usize], &rules[b.0 as usize]);
                if ra.category != rb.category && glob::overlap(&ra.pattern, &rb.pattern) {
                    return Err(RuleError::GlobTie {
                        first: ra.pattern.to_string(),
                        first_category: ra.category,
                        second: rb.pattern.to_string(),
                        second_category: rb.category,
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESS: CategoryId = CategoryId(0);
    const FUN: CategoryId = CategoryId(1);
    const ANA: CategoryId = CategoryId(2);
    const ADV: CategoryId = CategoryId(3);

    fn matcher(p: &[(&str, CategoryId)]) -> Matcher {
        Matcher::new(p.iter().copied()).unwrap()
    }

    fn class(m: &Matcher, name: &str) -> Option<(String, CategoryId)> {
        m.classify(name.as_bytes()).map(|id| {
            let r = m.rule(id);
            (r.pattern.to_string(), r.category)
        })
    }

    #[test]
    fn exact_beats_glob() {
        let m = matcher(&[("_ga*", ANA), ("_gat", FUN)]);
        assert_eq!(class(&m, "_gat"), Some(("_gat".into(), FUN)));
        assert_eq!(class(&m, "_gax"), Some(("_ga*".into(), ANA)));
        assert_eq!(class(&m, "_g"), None);
    }

    #[test]
    fn more_literal_characters_win() {
        let m = matcher(&[("_g*", ANA), ("_gcl_*", ADV), ("*_au", FUN)]);
        assert_eq!(class(&m, "_gcl_au"), Some(("_gcl_*".into(), ADV)));
        assert_eq!(class(&m, "_gx"), Some(("_g*".into(), ANA)));
        assert_eq!(class(&m, "x_au"), Some(("*_au".into(), FUN)));
        // `*_au` (3 literals) beats `_g*` (2 literals).
        assert_eq!(class(&m, "_g_au"), Some(("*_au".into(), FUN)));
    }

    #[test]
    fn prefix_suffix_and_inner_globs() {
        let m = matcher(&[
            ("*.appUserId", FUN),
            ("*.conversationStartedAt", FUN),
            ("_hjSession_*", ANA),
            ("*optimizelyEnd*", ANA),
            ("pre*mid*suf", ADV),
        ]);
        assert_eq!(class(&m, "abc.appUserId").unwrap().0, "*.appUserId");
        assert_eq!(class(&m, "_hjSession_77").unwrap().0, "_hjSession_*");
        assert_eq!(
            class(&m, "xoptimizelyEndUserId").unwrap().0,
            "*optimizelyEnd*"
        );
        assert_eq!(class(&m, "pre-mid-suf").unwrap().0, "pre*mid*suf");
        assert_eq!(class(&m, "pre-suf"), None);
        assert_eq!(class(&m, "appUserId"), None);
    }

    #[test]
    fn first_declared_wins_between_equal_globs_of_one_category() {
        let m = matcher(&[("ab*", ANA), ("*yz", ANA)]);
        assert_eq!(class(&m, "abyz").unwrap().0, "ab*");
    }

    #[test]
    fn duplicate_exact_in_two_categories_is_an_error() {
        let e = Matcher::new([("_ga", ANA), ("_ga", ADV)]).unwrap_err();
        assert_eq!(
            e,
            RuleError::DuplicateExact {
                pattern: "_ga".into(),
                first: ANA,
                second: ADV
            }
        );
        // The same name twice in one category is fine.
        assert!(Matcher::new([("_ga", ANA), ("_ga", ANA)]).is_ok());
    }

    #[test]
    fn tied_globs_of_two_categories_are_an_error() {
        assert!(matches!(
            Matcher::new([("ab*", ANA), ("*yz", ADV)]),
            Err(RuleError::GlobTie { .. })
        ));
        assert!(matches!(
            Matcher::new([("_ga_*", ANA), ("_ga_*", ADV)]),
            Err(RuleError::GlobTie { .. })
        ));
        // Equal weight but disjoint: fine.
        assert!(Matcher::new([("ab*", ANA), ("ac*", ADV)]).is_ok());
        // Different weights: the heavier wins, no tie.
        assert!(Matcher::new([("ab*", ANA), ("abc*", ADV)]).is_ok());
    }

    #[test]
    fn empty_pattern_is_invalid() {
        assert!(matches!(
            Matcher::new([("", ESS)]),
            Err(RuleError::Invalid { .. })
        ));
    }

    #[test]
    fn shadowed_globs_are_reported() {
        // `a**` is `a*` again, declared later: it never wins.
        let m = matcher(&[("a*", ANA), ("a**", ANA)]);
        assert_eq!(m.shadowed(), vec![(RuleId(1), RuleId(0))]);
        // A heavier glob wins only where it matches; the lighter one still matches other names.
        let m = matcher(&[("ab*", ANA), ("abc*", ADV), ("a*b", ANA)]);
        assert!(m.shadowed().is_empty());
    }

    #[test]
    fn classification_agrees_with_brute_force() {
        let patterns = [
            ("_ga", ANA),
            ("_ga_*", ANA),
            ("_g*", FUN),
            ("*_id", ADV),
            ("_gcl_*", ADV),
            ("*session*", ESS),
            ("x*y*z", FUN),
        ];
        let m = matcher(&patterns);
        let names = [
            "_ga",
            "_ga_X",
            "_gid",
            "_gcl_aw",
            "user_id",
            "_g_id",
            "mysessionid",
            "xayz",
            "xyz",
            "xz",
            "",
            "_",
            "session",
            "_ga_session",
        ];
        for name in names {
            // Brute force: exact first, then the heaviest glob, first declared on ties.
            let expected = patterns
                .iter()
                .enumerate()
                .filter(|(_, (p, _))| !p.contains('*') && *p == name)
                .map(|(i, _)| i)
                .next()
                .or_else(|| {
                    patterns
                        .iter()
                        .enumerate()
                        .filter(|(_, (p, _))| {
                            p.contains('*') && glob::matches(p.as_bytes(), name.as_bytes())
                        })
                        .max_by(|(i, (a, _)), (j, (b, _))| {
                            glob::literal_len(a)
                                .cmp(&glob::literal_len(b))
                                .then(j.cmp(i))
                        })
                        .map(|(i, _)| i)
                });
            let got = m.classify(name.as_bytes()).map(|id| id.0 as usize);
            assert_eq!(got, expected, "{name}");
        }
    }
}
