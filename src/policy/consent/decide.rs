//! The decision: the first source whose cookie records one wins; then the undecided policy,
//! required categories and `Sec-GPC`.

use super::{Consent, ConsentPolicy, ConsentState, Reading, SourceSpec, Undecided};
use crate::policy::categories::{Categories, CategorySet};
use crate::policy::cookie_header;

/// Sources a single pass over the `Cookie` header can serve at once (more are read one by one).
const ONE_PASS_SOURCES: usize = 16;

impl ConsentPolicy {
    /// Decides one request's consent from its `Cookie` header (all `Cookie` fields joined with
    /// `; `, or empty) and whether it carried `Sec-GPC: 1`.
    pub fn decide(&self, cookies: &str, gpc: bool, categories: &Categories) -> Consent {
        let all = categories.all();
        let required = categories.required();
        let optional = all.difference(required);

        let mut invalid = None;
        let mut winner = None;
        if !cookies.is_empty() {
            // One pass over the header collects the first value of every consent cookie.
            let mut found: [[Option<&str>; 2]; ONE_PASS_SOURCES] = [[None; 2]; ONE_PASS_SOURCES];
            let names: [[Option<&str>; 2]; ONE_PASS_SOURCES] = std::array::from_fn(|i| {
                self.sources.get(i).map_or([None, None], SourceSpec::names)
            });
            // Lengths of the wanted names as a bit set: most cookies are skipped on length alone.
            let lengths: u64 = names.iter().flatten().flatten().fold(0, |m, n| {
                if n.len() < 64 {
                    m | 1 << n.len()
                } else {
                    m | 1 << 63
                }
            });
            for pair in cookie_header::pairs(cookies) {
                let len = pair.name.len().min(63);
                if lengths & (1 << len) == 0 {
                    continue;
                }
                for (i, pair_names) in names.iter().enumerate().take(self.sources.len()) {
                    for (slot, name) in pair_names.iter().enumerate() {
                        if *name == Some(pair.name) && found[i][slot].is_none() {
                            found[i][slot] = Some(pair.value);
                        }
                    }
                }
            }
            for (i, source) in self.sources.iter().enumerate() {
                let reading = if i < ONE_PASS_SOURCES {
                    source.read_values(found[i][0], found[i][1], categories)
                } else {
                    source.read(cookies, categories)
                };
                match reading {
                    None | Some(Reading::NoDecision) => {}
                    Some(Reading::Malformed) => {
                        invalid.get_or_insert(source.kind());
                    }
                    Some(Reading::Decided { granted, undecided }) => {
                        winner = Some((source.kind(), granted, undecided));
                        break;
                    }
                }
            }
        }

        let (source, mut granted, undecided, state) = match winner {
            Some((kind, granted, undecided)) => {
                let granted = granted.intersection(all);
                let undecided = undecided.intersection(all).difference(granted);
                let opt_granted = granted.intersection(optional);
                let state = if opt_granted == optional {
                    ConsentState::All
                } else if opt_granted.is_empty() {
                    ConsentState::None
                } else {
                    ConsentState::Partial
                };
                (Some(kind), granted, undecided, state)
            }
            None => {
                let state = if invalid.is_some() {
                    ConsentState::Invalid
                } else {
                    ConsentState::Undecided
                };
                (None, CategorySet::EMPTY, all, state)
            }
        };

        granted = granted.union(required);
        let mut undecided = undecided.difference(required);
        if gpc {
            granted = granted.difference(self.gpc.difference(required));
            undecided = undecided.difference(self.gpc.difference(required));
        }
        let mut allowed = granted;
        if self.undecided == Undecided::Grant {
            allowed = allowed.union(undecided);
        }
        Consent {
            source,
            state,
            invalid,
            gpc,
            granted,
            undecided,
            allowed,
        }
    }

    /// Names of every consent cookie of the enabled sources (always essential).
    pub(crate) fn consent_cookie_names(&self) -> Vec<&str> {
        self.sources.iter().flat_map(|s| s.cookie_names()).collect()
    }
}
