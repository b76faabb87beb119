//! The page guard, server side: HTML responses are rewritten on the wire so that trackers of
//! categories the visitor has not granted never start.
//!
//! - [`PageConfig`]: the compiled `[page]` table and what the rewriter needs from the policy
//!   (built once per configuration).
//! - [`PagePlan`]: what one response's rewrite does for one visitor (built per request from the
//!   policy, the visitor's [`Consent`] and the [`PageConfig`]).
//! - [`rewrite::Rewriter`]: the streaming HTML rewriter (on `lol_html`), fed plain HTML bytes.
//! - [`body::RewriteBody`]: an `http_body::Body` around the upstream's body that decodes, rewrites
//!   and re-encodes it, streaming, with bounded memory.
//!
//! Everything a rewrite neutralises or activates is reported to a [`PageObserver`] (metrics,
//! `consentry explain --html`).

pub mod body;
pub mod consent_mode;
pub mod csp;
pub mod guard;
pub mod optin;
pub mod rewrite;
pub mod url;

use std::sync::Arc;

use crate::policy::categories::{Categories, CategoryId, CategorySet};
use crate::policy::consent::Consent;
use crate::policy::scripts::{ScriptMatcher, ScriptRuleId};
use crate::policy::{Mode, Policy};

pub use consent_mode::ConsentModeMap;
pub use optin::OptIn;

/// The compiled `[page]` table, with the parts of the policy the rewriter needs.
#[derive(Clone, Debug)]
pub struct PageConfig {
    /// `page.rewrite`: rewrite `text/html` responses at all.
    pub rewrite: bool,
    /// `page.guard`: add the client guard's prelude to rewritten pages.
    pub guard: bool,
    /// `page.google_consent_mode`: the signal -> category mapping, or `None` when disabled.
    pub consent_mode: Option<ConsentModeMap>,
    /// The script patterns (shared with the policy).
    pub scripts: Arc<ScriptMatcher>,
    /// Category names, for `data-consentry-category`.
    pub categories: Categories,
    /// The opt-in markup conventions of the enabled consent sources.
    pub optin: OptIn,
}

impl PageConfig {
    /// The page settings of `policy`: `rewrite` defaults to "some category lists scripts".
    pub fn new(
        policy: &Policy,
        rewrite: Option<bool>,
        guard: bool,
        consent_mode: Option<ConsentModeMap>,
    ) -> PageConfig {
        PageConfig {
            rewrite: rewrite.unwrap_or(!policy.scripts.is_empty()),
            guard,
            consent_mode,
            scripts: policy.scripts.clone(),
            categories: policy.categories.clone(),
            optin: OptIn::from_policy(policy),
        }
    }

    /// The settings of a configuration without a `[page]` table.
    pub fn defaults(policy: &Policy) -> PageConfig {
        PageConfig::new(
            policy,
            None,
            true,
            Some(ConsentModeMap::defaults(&policy.categories)),
        )
    }
}

/// What a rewrite does for one visitor. Cheap to build: an `Arc` and a few words, plus the
/// Consent Mode snippet when one is injected.
#[derive(Clone, Debug)]
pub struct PagePlan {
    config: Arc<PageConfig>,
    /// Categories the visitor's elements may load (`Consent::allowed`).
    allowed: CategorySet,
    /// Categories that are not allowed.
    denied: CategorySet,
    mode: Mode,
    /// The Consent Mode v2 `<script>` body, when one is injected.
    consent_mode_js: Option<String>,
}

impl PagePlan {
    /// The plan for a visitor whose consent is `consent`.
    pub fn new(policy: &Policy, consent: &Consent, config: &Arc<PageConfig>) -> PagePlan {
        let all = config.categories.all();
        let allowed = consent.allowed.intersection(all);
        let denied = all.difference(allowed);
        let consent_mode_js = match &config.consent_mode {
            Some(map) if config.rewrite && !denied.is_empty() => map.default_script(allowed),
            _ => None,
        };
        PagePlan {
            config: config.clone(),
            allowed,
            denied,
            mode: policy.mode,
            consent_mode_js,
        }
    }

    /// Nothing to change on any page: rewriting is off, or every category is granted and there
    /// is no optional category whose opt-in markup could need activating.
    pub fn is_noop(&self) -> bool {
        let optional = self
            .config
            .categories
            .all()
            .difference(self.config.categories.required());
        !self.config.rewrite || (self.denied.is_empty() && optional.is_empty())
    }

    /// `consent.mode = "report-only"`: the body passes unchanged and is only observed.
    pub fn is_report_only(&self) -> bool {
        self.mode == Mode::ReportOnly
    }

    pub fn config(&self) -> &Arc<PageConfig> {
        &self.config
    }

    pub fn allowed(&self) -> CategorySet {
        self.allowed
    }

    pub fn denied(&self) -> CategorySet {
        self.denied
    }

    /// Whether elements of `category` may load.
    pub fn is_allowed(&self, category: CategoryId) -> bool {
        self.allowed.contains(category)
    }

    /// Whether some denied category has script patterns (inline scripts are then read).
    pub fn blocks_scripts(&self) -> bool {
        !self
            .denied
            .intersection(self.config.scripts.categories())
            .is_empty()
    }

    /// The plan without the Consent Mode snippet: the client guard sends the default itself.
    pub fn without_consent_mode(mut self) -> PagePlan {
        self.consent_mode_js = None;
        self
    }

    /// The JavaScript of the Google Consent Mode v2 default call injected first in the page, when
    /// one is (for a Content-Security-Policy hash, say).
    pub fn consent_mode_js(&self) -> Option<&str> {
        self.consent_mode_js.as_deref()
    }

    /// The rule and category that hold back `url` for this visitor: its best rule, when that
    /// rule's category is not allowed.
    pub fn blocking_rule(&self, url: &str) -> Option<(ScriptRuleId, CategoryId)> {
        let id = self.config.scripts.classify_url(url)?;
        let category = self.config.scripts.rule(id).category;
        (!self.allowed.contains(category)).then_some((id, category))
    }

    /// The rule that holds back a resource hint to a bare origin on `host`: the most specific
    /// pattern on that host of a category that is not allowed.
    pub fn blocking_host_rule(&self, host: &str) -> Option<(ScriptRuleId, CategoryId)> {
        let id = self.config.scripts.classify_host(host, self.denied)?;
        Some((id, self.config.scripts.rule(id).category))
    }
}

/// The element kinds a rewrite reports (the `element` label of
/// `consentry_page_elements_blocked_total`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    Script,
    Iframe,
    Img,
    Embed,
    Object,
    Link,
}

impl Tag {
    pub const ALL: [Tag; 6] = [
        Tag::Script,
        Tag::Iframe,
        Tag::Img,
        Tag::Embed,
        Tag::Object,
        Tag::Link,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tag::Script => "script",
            Tag::Iframe => "iframe",
            Tag::Img => "img",
            Tag::Embed => "embed",
            Tag::Object => "object",
            Tag::Link => "link",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The kind of a (lower-case) tag name.
    pub fn from_name(name: &str) -> Option<Tag> {
        Tag::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// What happened to an element.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PageAction {
    /// Neutralised (`enforce`): the rule whose category is not allowed.
    Block(ScriptRuleId),
    /// Would have been neutralised (`report-only`); the page is unchanged.
    WouldBlock(ScriptRuleId),
    /// Opt-in markup of a granted category, activated; the convention that marked it
    /// (`consentry`, `cookiebot`, `onetrust`, `cc_cookie`, `klaro`, `cookieyes`).
    Activate(&'static str),
}

impl PageAction {
    /// The `explain` action name: `block`, `would-block` or `activate`.
    pub fn name(self) -> &'static str {
        match self {
            PageAction::Block(_) => "block",
            PageAction::WouldBlock(_) => "would-block",
            PageAction::Activate(_) => "activate",
        }
    }

    pub fn rule(self) -> Option<ScriptRuleId> {
        match self {
            PageAction::Block(r) | PageAction::WouldBlock(r) => Some(r),
            PageAction::Activate(_) => None,
        }
    }
}

/// One element a rewrite neutralised or activated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageEvent<'a> {
    pub element: Tag,
    /// The URL that matched (an attribute's value, or the URL found in an inline script's text);
    /// empty for inline opt-in scripts.
    pub url: &'a str,
    pub category: CategoryId,
    pub action: PageAction,
}

/// Receives every element a rewrite neutralises (or would, or activates), in document order.
pub trait PageObserver: Send {
    fn element(&mut self, event: &PageEvent<'_>);
}

/// An observer that ignores everything.
pub struct IgnorePage;

impl PageObserver for IgnorePage {
    fn element(&mut self, _event: &PageEvent<'_>) {}
}

/// An observer that keeps every event (tests, `explain`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub events: Vec<RecordedEvent>,
}

/// An owned [`PageEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    pub element: Tag,
    pub url: String,
    pub category: CategoryId,
    pub action: PageAction,
}

/// Shares a [`Recorded`] list between the rewriter and its caller.
#[derive(Clone, Debug, Default)]
pub struct Recorder(pub Arc<std::sync::Mutex<Recorded>>);

impl Recorder {
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.0.lock().map(|r| r.events.clone()).unwrap_or_default()
    }
}

impl PageObserver for Recorder {
    fn element(&mut self, e: &PageEvent<'_>) {
        if let Ok(mut r) = self.0.lock() {
            r.events.push(RecordedEvent {
                element: e.element,
                url: e.url.to_string(),
                category: e.category,
                action: e.action,
            });
        }
    }
}

/// HTML inserted first in the page with the Consent Mode snippet: the client guard's
/// `<script>` element(s), built elsewhere, and the CSP nonce to put on the scripts the rewriter
/// itself injects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prelude {
    /// HTML, inserted as is after the Consent Mode snippet.
    pub html: String,
    /// The page's CSP nonce (`script-src 'nonce-...'`), when it has one.
    pub nonce: Option<String>,
}

impl Prelude {
    /// No guard, no nonce.
    pub fn none() -> Prelude {
        Prelude::default()
    }
}

#[cfg(test)]
pub(crate) mod tests;
