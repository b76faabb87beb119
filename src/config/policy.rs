//! The `[categories.*]` and `[consent]` tables (with the includes' categories and script
//! patterns) turned into the validated policy core.

use super::*;

pub(super) fn build_policy(
    path: &Path,
    text: &str,
    file: &FileConfig,
    warnings: &mut Vec<String>,
) -> Result<Policy, ConfigError> {
    let err = |key: &str, reason: String| ConfigError::new(path, key, reason);

    // [categories.*]
    if file.categories.is_empty() {
        return Err(err(
            "categories",
            "no categories: define at least one [categories.<name>] table".into(),
        ));
    }
    if file.categories.len() > MAX_CATEGORIES {
        return Err(err(
            "categories",
            format!(
                "{} categories; at most {MAX_CATEGORIES} are supported",
                file.categories.len()
            ),
        ));
    }
    // Declaration order = order in the file (BTreeMap sorts by name, spans keep the file order).
    let mut decl: Vec<(&String, &toml::Spanned<file::CategoryFile>)> =
        file.categories.iter().collect();
    decl.sort_by_key(|(_, c)| c.span().start);
    for (name, c) in &decl {
        if !valid_category_name(name) {
            return Err(err(
                &format!("categories.{name}"),
                "a category name may only contain letters, digits, `_` and `-`".into(),
            )
            .at_line(Some(error::line_of(text, c.span().start))));
        }
    }
    let categories = Categories::new(decl.iter().map(|(n, c)| (n.as_str(), c.get_ref().required)));

    // Patterns: the main file's, then each include's.
    let mut patterns: Vec<(String, CategoryId, String)> = Vec::new(); // (pattern, category, origin key)
    let mut scripts: Vec<page::ScriptOrigin> = Vec::new();
    for (name, c) in &decl {
        let id = categories.lookup(name).expect("declared category");
        for p in &c.get_ref().cookies {
            patterns.push((p.clone(), id, format!("categories.{name}.cookies")));
        }
        page::collect(&mut scripts, path, text, name, id, &c.get_ref().scripts);
    }
    for inc in &file.include {
        let inc_path = resolve(path, inc);
        let inc_text = read::config_file(&inc_path, "include").map_err(|e| {
            err(
                "include",
                format!("included file \"{}\": {}", inc_path.display(), e.reason),
            )
        })?;
        let inc_file: IncludeFile = toml::from_str(&inc_text)
            .map_err(|e| ConfigError::from_toml(&inc_path, &inc_text, &e))?;
        for (name, c) in &inc_file.categories {
            let id = categories.lookup(name).ok_or_else(|| {
                ConfigError::new(
                    &inc_path,
                    format!("categories.{name}"),
                    format!("category \"{name}\" is not defined in {}", path.display()),
                )
            })?;
            if let Some(req) = c.required {
                if req != categories.required().contains(id) {
                    return Err(ConfigError::new(
                        &inc_path,
                        format!("categories.{name}.required"),
                        format!(
                            "says {req}, but {} says otherwise; set it in the main file only",
                            path.display()
                        ),
                    ));
                }
            }
            for p in &c.cookies {
                patterns.push((
                    p.clone(),
                    id,
                    format!("categories.{name}.cookies ({})", inc_path.display()),
                ));
            }
            page::collect(&mut scripts, &inc_path, &inc_text, name, id, &c.scripts);
        }
    }
    for (p, _, key) in &patterns {
        if p.is_empty() {
            return Err(err(key, "a cookie pattern cannot be empty".into()));
        }
        if p.starts_with([' ', '\t']) || p.ends_with([' ', '\t']) {
            return Err(err(
                key,
                format!(
                    "pattern \"{}\" starts or ends with whitespace, which browsers trim from cookie names",
                    p.escape_default()
                ),
            ));
        }
        if let Some(c) = p.chars().find(|&c| bad_pattern_char(c)) {
            return Err(err(
                key,
                format!(
                    "pattern \"{}\" contains {:?}, which no cookie name can contain",
                    p.escape_default(),
                    c
                ),
            ));
        }
    }
    let matcher = Matcher::new(patterns.iter().map(|(p, c, _)| (p.as_str(), *c))).map_err(|e| {
        let name = |id: CategoryId| categories.name(id).to_string();
        match e {
            RuleError::DuplicateExact { pattern, first, second } => err(
                &format!("categories.{}.cookies", name(second)),
                format!("\"{pattern}\" is listed in both \"{}\" and \"{}\"", name(first), name(second)),
            ),
            RuleError::GlobTie { first, first_category, second, second_category } => err(
                &format!("categories.{}.cookies", name(second_category)),
                format!(
                    "\"{second}\" ({}) and \"{first}\" ({}) can match the same name with the same number of literal characters: make one more specific",
                    name(second_category),
                    name(first_category)
                ),
            ),
            RuleError::Invalid { pattern, reason } => err("categories", format!("\"{pattern}\": {reason}")),
        }
    })?;
    for rule in matcher.rules() {
        if rule.is_glob && rule.literal_len < 3 {
            warnings.push(format!(
                "categories.{}.cookies: glob \"{}\" has fewer than 3 literal characters and may match far more than intended",
                categories.name(rule.category),
                rule.pattern
            ));
        }
    }
    for (shadowed, by) in matcher.shadowed() {
        let (s, b) = (matcher.rule(shadowed), matcher.rule(by));
        warnings.push(format!(
            "categories.{}.cookies: \"{}\" can never match: \"{}\" ({}) wins for every name it matches",
            categories.name(s.category),
            s.pattern,
            b.pattern,
            categories.name(b.category)
        ));
    }

    // [consent]
    let c = &file.consent;
    let lookup_cat = |key: &str, name: &str| {
        categories.lookup(name).ok_or_else(|| {
            err(
                key,
                format!(
                    "unknown category \"{name}\" (defined: {})",
                    names(&categories)
                ),
            )
        })
    };
    let mode = match c.mode.as_deref() {
        None => Mode::default(),
        Some("enforce") => Mode::Enforce,
        Some("report-only") => Mode::ReportOnly,
        Some(v) => {
            return Err(err(
                "consent.mode",
                format!("\"{v}\": expected \"enforce\" or \"report-only\""),
            ))
        }
    };
    let undecided = match c.undecided.as_deref() {
        None => Undecided::default(),
        Some("deny") => Undecided::Deny,
        Some("grant") => Undecided::Grant,
        Some(v) => {
            return Err(err(
                "consent.undecided",
                format!("\"{v}\": expected \"deny\" or \"grant\""),
            ))
        }
    };
    let unclassified = match c.unclassified.as_deref() {
        None => Unclassified::default(),
        Some("deny") => Unclassified::Deny,
        Some("allow") => Unclassified::Allow,
        Some(v) => Unclassified::Category(lookup_cat("consent.unclassified", v).map_err(|e| {
            ConfigError {
                reason: format!("{}; expected \"deny\", \"allow\" or a category", e.reason),
                ..e
            }
        })?),
    };
    let native_cookie = c.cookie.clone().unwrap_or_else(|| "consentry".into());
    if native_cookie.is_empty()
        || !native_cookie
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b";,=\"\\()<>@:/[]?{}".contains(&b))
    {
        return Err(err(
            "consent.cookie",
            format!("\"{native_cookie}\" is not a valid cookie name"),
        ));
    }
    let source_names: Vec<String> = c.sources.clone().unwrap_or_else(|| {
        SourceKind::ALL
            .iter()
            .map(|k| k.name().to_string())
            .collect()
    });
    let mut sources = Vec::new();
    for (i, name) in source_names.iter().enumerate() {
        let kind = SourceKind::from_name(name).ok_or_else(|| {
            err(
                "consent.sources",
                format!(
                    "unknown source \"{name}\" (known: {})",
                    SourceKind::ALL
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?;
        if source_names[..i].contains(name) {
            return Err(err(
                "consent.sources",
                format!("\"{name}\" is listed twice"),
            ));
        }
        let source_err = |e: SourceConfigError| {
            err(
                &format!(
                    "consent.{name}{}{}",
                    if e.key.is_empty() { "" } else { "." },
                    e.key
                ),
                e.reason,
            )
        };
        let table = consent::source_table(kind, c.table(name)).map_err(source_err)?;
        let spec = SourceSpec::build(kind, table.as_ref(), &native_cookie, &categories)
            .map_err(source_err)?;
        sources.push(spec);
    }
    for k in SourceKind::ALL {
        if c.table(k.name()).is_some() && !source_names.iter().any(|n| n == k.name()) {
            warnings.push(format!(
                "[consent.{}] is set but \"{}\" is not in consent.sources",
                k.name(),
                k.name()
            ));
        }
    }
    if sources.is_empty() {
        warnings.push("consent.sources is empty: no visitor ever decides, consent.undecided applies to everyone".into());
    }
    let mut gpc = crate::policy::categories::CategorySet::EMPTY;
    let gpc_names = c.gpc.clone().unwrap_or_else(|| {
        if categories.lookup("advertising").is_some() {
            vec!["advertising".into()]
        } else {
            vec![]
        }
    });
    for name in &gpc_names {
        let id = lookup_cat("consent.gpc", name)?;
        if categories.required().contains(id) {
            warnings.push(format!(
                "consent.gpc: \"{name}\" is required and is never denied"
            ));
        }
        gpc.insert(id);
    }
    let cleanup_paths: Vec<Box<str>> = c
        .cleanup_paths
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect();
    for p in &cleanup_paths {
        if !p.starts_with('/') || p.chars().any(|ch| ch.is_control() || ch == ';') {
            return Err(err(
                "consent.cleanup_paths",
                format!("\"{p}\" must start with / and contain no `;`"),
            ));
        }
    }
    let consent = ConsentPolicy {
        sources,
        undecided,
        gpc,
    };
    let defaults = CleanupOptions::default();
    let script_matcher = page::matcher(&scripts, &categories, warnings)?;
    let policy = Policy::new(PolicyParts {
        categories,
        matcher,
        consent,
        mode,
        unclassified,
        cleanup: CleanupOptions {
            enabled: c.cleanup.unwrap_or(defaults.enabled),
            paths: cleanup_paths,
        },
        strip_request: c.strip_request.unwrap_or(true),
    })
    .with_scripts(script_matcher);
    for name in policy.consent_cookies() {
        if let Some(rule) = policy.matcher.classify(name.as_bytes()) {
            let r = policy.matcher.rule(rule);
            if !policy.categories.required().contains(r.category) {
                warnings.push(format!(
                    "consent cookie \"{name}\" matches \"{}\" in {}: consent cookies are always essential and are never blocked",
                    r.pattern,
                    policy.categories.name(r.category)
                ));
            }
        }
    }
    if policy.categories.required().is_empty() {
        warnings.push(
            "no category has required = true: only consent cookies are always allowed".into(),
        );
    }
    Ok(policy)
}

pub(super) fn names(c: &Categories) -> String {
    c.ids().map(|i| c.name(i)).collect::<Vec<_>>().join(", ")
}
