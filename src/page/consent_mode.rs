//! Google Consent Mode v2 defaults, from the visitor's decision.
//!
//! gtag.js reads commands from `window.dataLayer` and only treats `arguments` objects as commands,
//! so the snippet pushes one exactly as the `gtag()` function of Google's tag does, without
//! defining a global of its own:
//!
//! ```js
//! (function(){var w=window;w.dataLayer=w.dataLayer||[];
//!  (function(){w.dataLayer.push(arguments)})('consent','default',{"ad_storage":"denied",...});})();
//! ```

use crate::policy::categories::{Categories, CategoryId, CategorySet};

/// The Consent Mode v2 signals, in the order they are written.
pub const SIGNALS: [&str; 7] = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
];

/// The default mapping: signal -> category name.
pub const DEFAULT_MAP: [(&str, &str); 6] = [
    ("ad_storage", "advertising"),
    ("ad_user_data", "advertising"),
    ("ad_personalization", "advertising"),
    ("analytics_storage", "analytics"),
    ("functionality_storage", "functional"),
    ("personalization_storage", "functional"),
];

/// Which category grants each signal. Signals whose category the site does not have are left out
/// (gtag keeps its own default for them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentModeMap {
    entries: Vec<(&'static str, CategoryId)>,
}

impl ConsentModeMap {
    /// The default mapping, for the categories this site has.
    pub fn defaults(categories: &Categories) -> ConsentModeMap {
        ConsentModeMap::with_overrides(categories, std::iter::empty::<(&str, &str)>())
            .expect("the defaults only name known signals")
    }

    /// The defaults with `[page.google_consent_mode]` entries (`signal = "category"`) over them.
    /// Errors are `(key, reason)`.
    pub fn with_overrides<'a>(
        categories: &Categories,
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ConsentModeMap, (String, String)> {
        let mut entries: Vec<(&'static str, CategoryId)> = DEFAULT_MAP
            .iter()
            .filter_map(|&(signal, cat)| categories.lookup(cat).map(|id| (signal, id)))
            .collect();
        for (key, category) in overrides {
            let Some(signal) = SIGNALS.iter().copied().find(|s| *s == key) else {
                return Err((
                    key.to_string(),
                    format!(
                        "unknown Consent Mode signal (known: {})",
                        SIGNALS.join(", ")
                    ),
                ));
            };
            let Some(id) = categories.lookup(category) else {
                let known: Vec<&str> = categories.ids().map(|i| categories.name(i)).collect();
                return Err((
                    key.to_string(),
                    format!(
                        "unknown category \"{category}\" (defined: {})",
                        known.join(", ")
                    ),
                ));
            };
            match entries.iter_mut().find(|(s, _)| *s == signal) {
                Some(e) => e.1 = id,
                None => entries.push((signal, id)),
            }
        }
        entries.sort_by_key(|(s, _)| SIGNALS.iter().position(|x| x == s));
        Ok(ConsentModeMap { entries })
    }

    pub fn entries(&self) -> &[(&'static str, CategoryId)] {
        &self.entries
    }

    /// The snippet's JavaScript for a visitor whose allowed categories are `allowed`; `None` when
    /// every signal is granted (nothing is injected then).
    pub fn default_script(&self, allowed: CategorySet) -> Option<String> {
        if self.entries.iter().all(|&(_, c)| allowed.contains(c)) {
            return None;
        }
        let mut js = String::from(
            "(function(){var w=window;w.dataLayer=w.dataLayer||[];(function(){w.dataLayer.push(arguments)})('consent','default',{",
        );
        for (i, &(signal, category)) in self.entries.iter().enumerate() {
            if i > 0 {
                js.push(',');
            }
            js.push('"');
            js.push_str(signal);
            js.push_str("\":\"");
            js.push_str(if allowed.contains(category) {
                "granted"
            } else {
                "denied"
            });
            js.push('"');
        }
        js.push_str("});})();");
        Some(js)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Categories {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = cats();
        let m = ConsentModeMap::defaults(&c);
        let allowed: CategorySet = [CategoryId(0), CategoryId(2)].into_iter().collect();
        let js = m.default_script(allowed).unwrap();
        assert_eq!(
            js,
            "(function(){var w=window;w.dataLayer=w.dataLayer||[];(function(){w.dataLayer.push(arguments)})('consent','default',{\"ad_storage\":\"denied\",\"ad_user_data\":\"denied\",\"ad_personalization\":\"denied\",\"analytics_storage\":\"granted\",\"functionality_storage\":\"denied\",\"personalization_storage\":\"denied\"});})();"
        );
        assert_eq!(m.default_script(c.all()), None, "all granted: nothing");
    }

    #[test]
    fn overrides_and_missing_categories() {
        let c = Categories::new([("essential", true), ("stats", false)]);
        let m = ConsentModeMap::defaults(&c);
        assert!(m.entries().is_empty());
        let m = ConsentModeMap::with_overrides(
            &c,
            [
                ("analytics_storage", "stats"),
                ("security_storage", "essential"),
            ],
        )
        .unwrap();
        assert_eq!(
            m.entries(),
            &[
                ("analytics_storage", CategoryId(1)),
                ("security_storage", CategoryId(0))
            ]
        );
        let js = m
            .default_script(CategorySet::single(CategoryId(0)))
            .unwrap();
        assert!(js.contains("\"analytics_storage\":\"denied\",\"security_storage\":\"granted\""));
        let e = ConsentModeMap::with_overrides(&c, [("ads_storage", "stats")]).unwrap_err();
        assert_eq!(e.0, "ads_storage");
        let e = ConsentModeMap::with_overrides(&c, [("ad_storage", "marketing")]).unwrap_err();
        assert!(e.1.contains("unknown category \"marketing\""), "{}", e.1);
    }
}
