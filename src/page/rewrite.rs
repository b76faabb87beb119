//! The streaming HTML rewriter of the page guard, on `lol_html`.
//!
//! Fed plain (decoded) HTML in chunks of any size, it writes the rewritten page to an internal
//! buffer that the caller drains after each chunk. What it does, for a [`PagePlan`]:
//!
//! - **Injection.** The Google Consent Mode v2 default call (a `<script>`), then the prelude (the
//!   client guard's elements, built elsewhere), inserted first in `<head>` — after a leading
//!   `<meta charset>`/`<meta http-equiv=content-type>`, which must stay within the first 1024
//!   bytes — or, without a `<head>`, before the first `<script>` or at the start of `<body>`,
//!   whichever comes first. Consent Mode comes first: Google requires its default to be set before
//!   any tag runs, and the guard, which runs next, then finds `dataLayer` in place and its
//!   consent updates follow the default in the queue.
//! - **Neutralising** (categories not allowed). `<script src>` whose URL matches: `type` becomes
//!   `text/plain`, with `data-consentry-category` and the original `type`, if any, in
//!   `data-consentry-type`. An inline `<script>` whose text loads a matching URL: the same. Its
//!   start tag is held back (removed from the stream) while its text is read, up to
//!   [`INLINE_SCRIPT_BOUND`] bytes, and written back, changed or not, before its end tag. A longer
//!   inline script is written back unchanged once the bound is reached (the client guard still
//!   holds back what it creates at run time). `<iframe src>`, `<img src>` (and `srcset`),
//!   `<embed src>`, `<object data>` and `<link>` resource hints (`preload`, `prefetch`,
//!   `modulepreload`, `prerender` by URL; `preconnect`, `dns-prefetch` by host) lose their URL
//!   attribute to `data-consentry-<attribute>` and get `data-consentry-category`. `lol_html`
//!   parses `<noscript>` and `<template>` content as markup, so elements inside are handled too
//!   (a page without JavaScript must not load the pixels either).
//! - **Activating** opt-in markup whose categories are all allowed (see [`super::optin`]).
//!
//! Left alone: first-party (relative) URLs, scripts of non-JavaScript types (JSON-LD, templates,
//! import maps, ...), SVG scripts, comments and attribute text.
//!
//! Memory is bounded: `lol_html` is limited to [`MEMORY_LIMIT`] bytes (a single tag larger than
//! that makes it give up gracefully: the rest of the page passes unchanged) and an inline script
//! is held up to [`INLINE_SCRIPT_BOUND`] bytes.

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use lol_html::errors::RewritingError;
use lol_html::html_content::{ContentType, EndTag, TextChunk};
use lol_html::send::{Element, HtmlRewriter, Settings};
use lol_html::{AsciiCompatibleEncoding, ElementContentHandlers, MemorySettings, Selector};

use super::optin::DEFERRED_ATTRS;
use super::url::{clean_attr_url, is_network_url, srcset_urls};
use super::{PageAction, PageEvent, PageObserver, PagePlan, Prelude, Recorder, Tag};
use crate::policy::categories::CategoryId;
use crate::policy::scripts::{url_parts, ScriptRuleId};

mod elements;
use elements::*;

/// The most of an inline script's text held back while looking for a URL in it.
pub const INLINE_SCRIPT_BOUND: usize = 64 * 1024;

/// `lol_html`'s memory limit (its buffer for a tag split across input chunks).
pub const MEMORY_LIMIT: usize = 4 << 20;

/// The character encoding of a `Content-Type` value: `Ok(None)` when it names no charset (the
/// rewriter then starts with UTF-8 and follows a `<meta charset>`), `Err` when the charset is one
/// the rewriter cannot read (UTF-16, ISO-2022-JP, unknown labels): such a page is not rewritten.
pub fn encoding_of(
    content_type: &str,
) -> Result<Option<AsciiCompatibleEncoding>, UnreadableCharset> {
    let Some(label) = content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    }) else {
        return Ok(None);
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
        .and_then(AsciiCompatibleEncoding::new)
        .map(Some)
        .ok_or(UnreadableCharset)
}

/// A charset the rewriter cannot read (not ASCII-compatible, or unknown).
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the page's charset is not one the rewriter reads")]
pub struct UnreadableCharset;

/// Whether a `type` attribute value makes a script JavaScript (HTML's "JavaScript MIME type
/// essence match", plus `module`); no `type` at all, or an empty one, is JavaScript.
pub fn is_js_type(ty: Option<&str>) -> bool {
    let Some(ty) = ty else { return true };
    let essence = ty
        .split(';')
        .next()
        .unwrap_or("")
        .trim_matches(|c: char| c.is_ascii_whitespace());
    if essence.is_empty() || essence.eq_ignore_ascii_case("module") {
        return true;
    }
    const JS: &[&str] = &[
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    ];
    JS.iter().any(|j| j.eq_ignore_ascii_case(essence))
}

/// Writes ` name="value"` (the value as written in the page, so only `"` needs escaping).
fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    if value.is_empty() {
        return;
    }
    out.push_str("=\"");
    out.push_str(&value.replace('"', "&quot;"));
    out.push('"');
}

/// A nonce usable in an attribute: base64 / base64url characters only.
fn valid_nonce(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 256
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// The HTML inserted first in the page: the Consent Mode `<script>`, then the prelude.
pub fn injection_html(plan: &PagePlan, prelude: &Prelude) -> Option<String> {
    let mut html = String::new();
    if let Some(js) = plan.consent_mode_js() {
        html.push_str("<script");
        if let Some(n) = prelude.nonce.as_deref().filter(|n| valid_nonce(n)) {
            push_attr(&mut html, "nonce", n);
        }
        html.push('>');
        html.push_str(js);
        html.push_str("</script>");
    }
    html.push_str(&prelude.html);
    (!html.is_empty()).then_some(html)
}

/// An inline script being read.
struct Inline {
    tag: String,
    /// `(name as written, value as written)`.
    attrs: Vec<(String, String)>,
    ty: Option<String>,
    text: String,
    /// Written back already (the bound was reached): the rest of its text streams.
    flushed: bool,
}

struct State {
    plan: PagePlan,
    enforce: bool,
    /// The injection, until it is inserted.
    injection: Option<String>,
    inline: Option<Inline>,
    observer: Box<dyn PageObserver>,
    /// The longest inline text held at once.
    inline_high_water: usize,
    /// Open `<template>` elements: nothing is injected inside one.
    templates: usize,
    /// The rewriter of the `<noscript>` being read (`lol_html` reads its content as text, as a
    /// browser with scripting on does; a browser without reads it as markup, so it is rewritten
    /// as markup by a rewriter of its own).
    noscript: Option<Box<Rewriter>>,
    /// The events of that rewriter, forwarded to `observer`.
    noscript_events: Recorder,
}

impl State {
    fn report(&mut self, element: Tag, url: &str, category: CategoryId, rule: ScriptRuleId) {
        let action = if self.enforce {
            PageAction::Block(rule)
        } else {
            PageAction::WouldBlock(rule)
        };
        self.observer.element(&PageEvent {
            element,
            url,
            category,
            action,
        });
    }

    fn category_name(&self, c: CategoryId) -> String {
        self.plan.config().categories.name(c).to_string()
    }

    /// Inserts the injection before `el`, if it is still pending (and not inside a template).
    fn inject_before(&mut self, el: &mut Element<'_, '_>) {
        if self.templates > 0 {
            return;
        }
        if let Some(html) = self.injection.take() {
            el.before(&html, ContentType::Html);
        }
    }

    /// Decides the inline script being read and returns what to write back for it (its start
    /// tag, changed or not, and the text held so far); `None` in report-only mode.
    fn finish_inline(&mut self) -> Option<String> {
        let inline = self.inline.take()?;
        if inline.flushed {
            return None;
        }
        // Only the first INLINE_SCRIPT_BOUND bytes count, however the text was chunked.
        let mut scan_end = inline.text.len().min(INLINE_SCRIPT_BOUND);
        while !inline.text.is_char_boundary(scan_end) {
            scan_end -= 1;
        }
        let found = super::url::script_urls(&inline.text[..scan_end]).find_map(|url| {
            self.plan
                .blocking_rule(&url)
                .map(|(rule, cat)| (url, rule, cat))
        });
        if let Some((url, rule, cat)) = &found {
            self.report(Tag::Script, url, *cat, *rule);
        }
        if !self.enforce {
            return None;
        }
        let mut html = String::with_capacity(inline.text.len() + 64);
        html.push('<');
        html.push_str(&inline.tag);
        let neutral = found.as_ref().map(|(_, _, c)| self.category_name(*c));
        let mut typed = false;
        for (name, value) in &inline.attrs {
            match &neutral {
                Some(_) if name.eq_ignore_ascii_case("type") => {
                    if !typed {
                        push_attr(&mut html, name, "text/plain");
                        typed = true;
                    }
                }
                Some(_)
                    if name.eq_ignore_ascii_case("data-consentry-category")
                        || name.eq_ignore_ascii_case("data-consentry-type") => {}
                _ => push_attr(&mut html, name, value),
            }
        }
        if let Some(cat) = &neutral {
            if !typed {
                push_attr(&mut html, "type", "text/plain");
            }
            push_attr(&mut html, "data-consentry-category", cat);
            if let Some(t) = &inline.ty {
                push_attr(&mut html, "data-consentry-type", t);
            }
        }
        html.push('>');
        html.push_str(&inline.text);
        Some(html)
    }
}

fn is_charset_meta(el: &Element<'_, '_>) -> bool {
    el.tag_name() == "meta"
        && (el.has_attribute("charset")
            || el
                .get_attribute("http-equiv")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("content-type")))
}

/// Selectors, parsed once.
static SELECTORS: LazyLock<[Selector; 11]> = LazyLock::new(|| {
    [
        "head > *", "head", "body", "script", "iframe", "img", "embed", "object", "link",
        "template", "noscript",
    ]
    .map(|s| s.parse().expect("a valid selector"))
});

/// Where the rewriter's output goes: a buffer shared with [`Rewriter`].
struct Sink {
    out: Arc<Mutex<Vec<u8>>>,
    discard: bool,
}

impl lol_html::OutputSink for Sink {
    fn handle_chunk(&mut self, chunk: &[u8]) {
        if !self.discard && !chunk.is_empty() {
            self.out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(chunk);
        }
    }
}

/// The streaming rewriter. Write the page's bytes with [`Rewriter::write`], take the output with
/// [`Rewriter::take_output`], finish with [`Rewriter::end`].
pub struct Rewriter {
    html: Option<HtmlRewriter<'static, Sink>>,
    out: Arc<Mutex<Vec<u8>>>,
    state: Arc<Mutex<State>>,
    /// `lol_html` gave up (a tag over its memory limit): the rest of the input is copied as is.
    bailed: bool,
    /// Report-only: nothing is written out.
    discard: bool,
    out_high_water: usize,
}

impl Rewriter {
    /// A rewriter for `plan`. `encoding` is the `Content-Type` charset, when there is one (see
    /// [`encoding_of`]); without one the page is read as UTF-8 unless a `<meta charset>` says
    /// otherwise. In report-only mode nothing is changed and nothing is written out: the rewriter
    /// only reports what it would neutralise.
    pub fn new(
        plan: PagePlan,
        prelude: &Prelude,
        observer: Box<dyn PageObserver>,
        encoding: Option<AsciiCompatibleEncoding>,
    ) -> Rewriter {
        let injection = if plan.is_report_only() {
            None
        } else {
            injection_html(&plan, prelude)
        };
        Rewriter::build(plan, injection, observer, encoding, false)
    }

    /// `nested`: the rewriter of a `<noscript>`'s content (which has no `<noscript>` of its own).
    fn build(
        plan: PagePlan,
        injection: Option<String>,
        observer: Box<dyn PageObserver>,
        encoding: Option<AsciiCompatibleEncoding>,
        nested: bool,
    ) -> Rewriter {
        let enforce = !plan.is_report_only();
        let state = Arc::new(Mutex::new(State {
            plan,
            enforce,
            injection,
            inline: None,
            observer,
            inline_high_water: 0,
            templates: 0,
            noscript: None,
            noscript_events: Recorder::default(),
        }));
        let out = Arc::new(Mutex::new(Vec::new()));
        let sel = &*SELECTORS;
        let s = |st: &Arc<Mutex<State>>| st.clone();

        let st = s(&state);
        let head_child =
            ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
                let mut st = lock(&st);
                if st.injection.is_some() && !is_charset_meta(el) {
                    st.inject_before(el);
                }
                Ok(())
            });
        let st = s(&state);
        let head = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
            if lock(&st).injection.is_none() || !el.can_have_content() {
                return Ok(());
            }
            let st = st.clone();
            el.on_end_tag(Box::new(move |end: &mut EndTag<'_>| {
                if let Some(html) = lock(&st).injection.take() {
                    end.before(&html, ContentType::Html);
                }
                Ok(())
            }))
        });
        let st = s(&state);
        let body = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
            if let Some(html) = lock(&st).injection.take() {
                if el.can_have_content() {
                    el.prepend(&html, ContentType::Html);
                } else {
                    el.after(&html, ContentType::Html);
                }
            }
            Ok(())
        });
        let (st, st2) = (s(&state), s(&state));
        // Text handlers only when some category has patterns to look for: `lol_html` hands text
        // to a handler decoded (bytes invalid in the page's encoding become U+FFFD, as the browser
        // would read them) and writes it back that way, so without one the text passes byte for byte.
        let reads_text = lock(&state).plan.blocks_scripts();
        let mut script = ElementContentHandlers::default()
            .element(move |el: &mut Element<'_, '_>| on_script(&st, el));
        if reads_text {
            script = script.text(move |t: &mut TextChunk<'_>| on_script_text(&st2, t));
        }
        let url_handler = |tag: Tag, attr: &'static str| {
            let st = s(&state);
            ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
                on_url_element(&st, el, tag, attr);
                Ok(())
            })
        };
        let st = s(&state);
        let link = ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
            on_link(&st, el);
            Ok(())
        });
        let st = s(&state);
        let template =
            ElementContentHandlers::default().element(move |el: &mut Element<'_, '_>| {
                if !el.can_have_content() {
                    return Ok(());
                }
                lock(&st).templates += 1;
                let st = st.clone();
                el.on_end_tag(Box::new(move |_end: &mut EndTag<'_>| {
                    let mut st = lock(&st);
                    st.templates = st.templates.saturating_sub(1);
                    Ok(())
                }))
            });
        let (st, st2) = (s(&state), s(&state));
        let noscript = ElementContentHandlers::default()
            .element(move |el: &mut Element<'_, '_>| on_noscript(&st, el))
            .text(move |t: &mut TextChunk<'_>| on_noscript_text(&st2, t));
        let st_end = s(&state);
        let st_bail = s(&state);
        let mut settings = Settings::new_send()
            .with_memory_settings(
                MemorySettings::new()
                    .with_max_allowed_memory_usage(MEMORY_LIMIT)
                    .with_graceful_bail_out_on_memory_limit_exceeded(true),
            )
            .with_strict(false)
            .with_graceful_bail_out_on_content_handler_error(true)
            .append_bail_out_handler(
                move |_e: &RewritingError, b: &mut lol_html::html_content::BailOut<'_>| {
                    if let Some(html) = lock(&st_bail).finish_inline() {
                        b.append(&html, ContentType::Html);
                    }
                    if let Some(rest) = finish_noscript(&st_bail) {
                        b.append(&rest, ContentType::Html);
                    }
                },
            )
            .append_document_content_handler(lol_html::DocumentContentHandlers::default().end(
                move |end: &mut lol_html::html_content::DocumentEnd<'_>| {
                    if let Some(html) = lock(&st_end).finish_inline() {
                        end.append(&html, ContentType::Html);
                    }
                    if let Some(rest) = finish_noscript(&st_end) {
                        end.append(&rest, ContentType::Html);
                    }
                    Ok(())
                },
            ));
        settings = match encoding {
            Some(e) => settings.with_encoding(e),
            None => settings.with_adjust_charset_on_meta_tag(true),
        };
        let handlers = [
            (0, head_child),
            (1, head),
            (2, body),
            (3, script),
            (4, url_handler(Tag::Iframe, "src")),
            (5, url_handler(Tag::Img, "src")),
            (6, url_handler(Tag::Embed, "src")),
            (7, url_handler(Tag::Object, "data")),
            (8, link),
            (9, template),
        ];
        let noscript = (!nested && reads_text).then_some((10, noscript));
        for (i, h) in handlers.into_iter().chain(noscript) {
            settings = settings.append_element_content_handler((Cow::Borrowed(&sel[i]), h));
        }
        let html = HtmlRewriter::new(
            settings,
            Sink {
                out: out.clone(),
                discard: !enforce,
            },
        );
        Rewriter {
            html: Some(html),
            out,
            state,
            bailed: false,
            discard: !enforce,
            out_high_water: 0,
        }
    }

    /// Rewrites the next chunk of the page.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), RewritingError> {
        if let Some(html) = self.html.as_mut() {
            if let Err(e) = html.write(chunk) {
                return self.bail(e);
            }
        } else if self.bailed && !self.discard {
            self.out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(chunk);
        }
        self.note_output();
        Ok(())
    }

    /// Ends the page: anything still held is written out.
    pub fn end(&mut self) -> Result<(), RewritingError> {
        if let Some(html) = self.html.take() {
            if let Err(e) = html.end() {
                return self.bail(e);
            }
        }
        self.note_output();
        Ok(())
    }

    fn bail(&mut self, e: RewritingError) -> Result<(), RewritingError> {
        self.html = None;
        match e {
            // The unparsed input was flushed as is: go on copying.
            RewritingError::MemoryLimitExceeded(_) | RewritingError::ContentHandlerError(_) => {
                tracing::debug!(error = %e, "page rewrite gave up; the rest of the page passes unchanged");
                self.bailed = true;
                self.note_output();
                Ok(())
            }
            e => Err(e),
        }
    }

    fn note_output(&mut self) {
        let n = self.out.lock().map_or(0, |o| o.len());
        self.out_high_water = self.out_high_water.max(n);
    }

    /// Moves the output written so far to the end of `dst`.
    pub fn drain_into(&mut self, dst: &mut Vec<u8>) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if dst.is_empty() {
            std::mem::swap(dst, &mut out);
        } else {
            dst.extend_from_slice(&out);
            out.clear();
        }
    }

    /// The output written so far.
    pub fn take_output(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        self.drain_into(&mut v);
        v
    }

    /// Whether `lol_html` gave up and the rest of the page is copied unchanged.
    pub fn bailed_out(&self) -> bool {
        self.bailed
    }

    /// The most bytes held at once: output waiting to be drained, and inline script text.
    pub fn high_water(&self) -> usize {
        self.out_high_water + lock(&self.state).inline_high_water
    }
}

/// Rewrites a whole page at once (tests, `consentry explain --html`).
pub fn rewrite_page(
    html: &[u8],
    plan: PagePlan,
    prelude: &Prelude,
    observer: Box<dyn PageObserver>,
) -> Result<Vec<u8>, RewritingError> {
    let mut r = Rewriter::new(plan, prelude, observer, None);
    r.write(html)?;
    r.end()?;
    Ok(r.take_output())
}
