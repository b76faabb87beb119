//! The element and text handlers of the rewrite: scripts (with their inline text), URL
//! elements, resource hints and `<noscript>` content, and the activation of opt-in markup.

use super::*;

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A handler that panicked poisoned the lock; the state is still usable for the rest.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Moves `attr` to `data-consentry-<attr>` and marks the category.
pub(super) fn defer(el: &mut Element<'_, '_>, attr: &str, category: &str) {
    if let Some(v) = el.get_attribute(attr) {
        el.remove_attribute(attr);
        let _ = el.set_attribute(&format!("data-consentry-{attr}"), &v);
    }
    let _ = el.set_attribute("data-consentry-category", category);
}

/// The rule holding back a URL attribute's value, if it is a network URL.
pub(super) fn url_rule(plan: &PagePlan, raw: &str) -> Option<(String, ScriptRuleId, CategoryId)> {
    let url = clean_attr_url(raw);
    if !is_network_url(&url) {
        return None;
    }
    plan.blocking_rule(&url)
        .map(|(r, c)| (url.into_owned(), r, c))
}

pub(super) fn on_script(
    state: &Arc<Mutex<State>>,
    el: &mut Element<'_, '_>,
) -> lol_html::HandlerResult {
    let mut st = lock(state);
    st.inject_before(el);
    if el.namespace_uri() != "http://www.w3.org/1999/xhtml" {
        return Ok(());
    }
    // An inline script whose end was never seen (should not happen in HTML): write it back here.
    if st.inline.is_some() {
        if let Some(html) = st.finish_inline() {
            el.before(&html, ContentType::Html);
        }
    }
    let ty = el.get_attribute("type");
    if !is_js_type(ty.as_deref()) {
        let plain = ty
            .as_deref()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/plain"));
        if plain {
            activate_script(&mut st, el);
        }
        return Ok(());
    }
    if let Some(src) = el.get_attribute("src") {
        if let Some((url, rule, cat)) = url_rule(&st.plan, &src) {
            st.report(Tag::Script, &url, cat, rule);
            if st.enforce {
                let name = st.category_name(cat);
                let _ = el.set_attribute("type", "text/plain");
                let _ = el.set_attribute("data-consentry-category", &name);
                match &ty {
                    Some(t) => {
                        let _ = el.set_attribute("data-consentry-type", t);
                    }
                    None => el.remove_attribute("data-consentry-type"),
                }
            }
        }
        return Ok(());
    }
    if !st.plan.blocks_scripts() || !el.can_have_content() {
        return Ok(());
    }
    st.inline = Some(Inline {
        tag: el.tag_name_preserve_case(),
        attrs: el
            .attributes()
            .iter()
            .map(|a| (a.name_preserve_case(), a.value()))
            .collect(),
        ty,
        text: String::new(),
        flushed: false,
    });
    if st.enforce {
        el.start_tag().remove();
    }
    drop(st);
    let state = state.clone();
    el.on_end_tag(Box::new(move |end: &mut EndTag<'_>| {
        if let Some(html) = lock(&state).finish_inline() {
            end.before(&html, ContentType::Html);
        }
        Ok(())
    }))
}

pub(super) fn on_script_text(
    state: &Mutex<State>,
    t: &mut TextChunk<'_>,
) -> lol_html::HandlerResult {
    let mut st = lock(state);
    let enforce = st.enforce;
    let Some(inline) = st.inline.as_mut() else {
        return Ok(());
    };
    if inline.flushed {
        return Ok(());
    }
    inline.text.push_str(t.as_str());
    let held = inline.text.len();
    if enforce {
        t.remove();
    }
    st.inline_high_water = st.inline_high_water.max(held);
    if held > INLINE_SCRIPT_BOUND {
        // Decide on what was read; the rest of the text streams unchanged.
        let tag = st
            .inline
            .as_ref()
            .map(|i| (i.tag.clone(), i.attrs.clone(), i.ty.clone()));
        if let Some(html) = st.finish_inline() {
            t.replace(&html, ContentType::Html);
        }
        if let Some((tag, attrs, ty)) = tag {
            st.inline = Some(Inline {
                tag,
                attrs,
                ty,
                text: String::new(),
                flushed: true,
            });
        }
    }
    Ok(())
}

/// Activates a `type="text/plain"` script whose opt-in markup names allowed categories only.
pub(super) fn activate_script(st: &mut State, el: &mut Element<'_, '_>) {
    let config = st.plan.config().clone();
    let Some((set, convention)) = config
        .optin
        .categories(&config.categories, |n| el.get_attribute(n))
    else {
        return;
    };
    if !set.is_subset(st.plan.allowed()) {
        return;
    }
    let src = el.get_attribute("src");
    if let Some((url, rule, cat)) = src.as_deref().and_then(|s| url_rule(&st.plan, s)) {
        // Granted by its markup, but its URL belongs to a category that is not: it stays inert.
        st.report(Tag::Script, &url, cat, rule);
        if st.enforce {
            let name = st.category_name(cat);
            let _ = el.set_attribute("data-consentry-category", &name);
        }
        return;
    }
    let category = set.iter().next().expect("a non-empty set");
    if st.enforce {
        let original = el
            .get_attribute("data-consentry-type")
            .or_else(|| el.get_attribute("data-type"))
            .filter(|t| !t.trim().is_empty() && !t.trim().eq_ignore_ascii_case("text/plain"));
        match original {
            Some(t) => {
                let _ = el.set_attribute("type", &t);
            }
            None => el.remove_attribute("type"),
        }
        el.remove_attribute("data-consentry-type");
    }
    let url = src
        .map(|s| clean_attr_url(&s).into_owned())
        .unwrap_or_default();
    st.observer.element(&PageEvent {
        element: Tag::Script,
        url: &url,
        category,
        action: PageAction::Activate(convention),
    });
}

/// Activates an element whose URL waits in a deferred attribute, when its opt-in markup names
/// allowed categories only and none of its URLs is held back.
/// Callers check first that the element has a deferred-URL attribute at all (most have none,
/// and each lookup by name below costs `lol_html` a pass and two allocations).
pub(super) fn activate_element(st: &mut State, el: &mut Element<'_, '_>, tag: Tag) {
    let deferred: Vec<(&str, &str, String)> = DEFERRED_ATTRS
        .iter()
        .filter(|(_, real)| !el.has_attribute(real))
        .filter_map(|&(d, real)| el.get_attribute(d).map(|v| (d, real, v)))
        .collect();
    if deferred.is_empty() {
        return;
    }
    let config = st.plan.config().clone();
    let Some((set, convention)) = config
        .optin
        .categories(&config.categories, |n| el.get_attribute(n))
    else {
        return;
    };
    if !set.is_subset(st.plan.allowed()) {
        return;
    }
    for (_, real, v) in &deferred {
        let urls: Vec<&str> = if *real == "srcset" {
            srcset_urls(v).collect()
        } else {
            vec![v.as_str()]
        };
        if let Some((url, rule, cat)) = urls.iter().find_map(|u| url_rule(&st.plan, u)) {
            st.report(tag, &url, cat, rule);
            return;
        }
    }
    let mut first_url = String::new();
    let mut done: Vec<&str> = Vec::new();
    for (d, real, v) in &deferred {
        if done.contains(real) {
            continue;
        }
        done.push(real);
        if first_url.is_empty() {
            first_url = clean_attr_url(v).into_owned();
        }
        if st.enforce {
            let _ = el.set_attribute(real, v);
            if d.starts_with("data-consentry-") {
                el.remove_attribute(d);
            }
        }
    }
    let category = set.iter().next().expect("a non-empty set");
    st.observer.element(&PageEvent {
        element: tag,
        url: &first_url,
        category,
        action: PageAction::Activate(convention),
    });
}

/// Whether an attribute name is one where opt-in markup keeps a URL.
fn is_deferred_attr(name: &str) -> bool {
    name.starts_with("data-") && DEFERRED_ATTRS.iter().any(|(d, _)| *d == name)
}

/// Whether the element has an attribute where opt-in markup keeps a URL.
fn has_deferred_attr(el: &Element<'_, '_>) -> bool {
    el.attributes().iter().any(|a| is_deferred_attr(&a.name()))
}

/// `<iframe>`, `<img>`, `<embed>`, `<object>`: the URL attribute (and an image's `srcset`).
pub(super) fn on_url_element(state: &Mutex<State>, el: &mut Element<'_, '_>, tag: Tag, attr: &str) {
    let mut st = lock(state);
    let mut blocked = false;
    // One pass over the attributes (the first of a repeated name counts, as in a browser).
    let (mut url, mut srcset, mut deferred) = (None, None, false);
    for a in el.attributes() {
        let name = a.name();
        if name == attr {
            url.get_or_insert_with(|| a.value());
        } else if tag == Tag::Img && name == "srcset" {
            srcset.get_or_insert_with(|| a.value());
        } else {
            deferred |= is_deferred_attr(&name);
        }
    }
    if let Some(v) = url {
        if let Some((url, rule, cat)) = url_rule(&st.plan, &v) {
            st.report(tag, &url, cat, rule);
            blocked = true;
            if st.enforce {
                let name = st.category_name(cat);
                defer(el, attr, &name);
            }
        }
    }
    if tag == Tag::Img {
        if let Some(v) = srcset {
            let hit = srcset_urls(&v).find_map(|u| url_rule(&st.plan, u));
            if let Some((url, rule, cat)) = hit {
                if !blocked {
                    st.report(tag, &url, cat, rule);
                }
                blocked = true;
                if st.enforce {
                    let name = st.category_name(cat);
                    defer(el, "srcset", &name);
                }
            }
        }
    }
    if !blocked && deferred {
        activate_element(&mut st, el, tag);
    }
}

/// `<link>`: resource hints.
pub(super) fn on_link(state: &Mutex<State>, el: &mut Element<'_, '_>) {
    let mut st = lock(state);
    let Some(href) = el.get_attribute("href") else {
        if has_deferred_attr(el) {
            activate_element(&mut st, el, Tag::Link);
        }
        return;
    };
    let rel = el
        .get_attribute("rel")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let has = |r: &str| rel.split_ascii_whitespace().any(|t| t == r);
    let hit = if has("preconnect") || has("dns-prefetch") {
        let url = clean_attr_url(&href);
        let host_url: Cow<'_, str> = if is_network_url(&url) {
            url
        } else if has("dns-prefetch") && !url.contains('/') && url.contains('.') {
            // `<link rel=dns-prefetch href="example.com">`: browsers want `//host`, some pages
            // write the bare host.
            Cow::Owned(format!("//{url}"))
        } else {
            Cow::Borrowed("")
        };
        url_parts(&host_url).and_then(|p| {
            st.plan
                .blocking_host_rule(p.host)
                .map(|(r, c)| (host_url.to_string(), r, c))
        })
    } else if ["preload", "prefetch", "modulepreload", "prerender"]
        .iter()
        .any(|r| has(r))
    {
        url_rule(&st.plan, &href)
    } else {
        None
    };
    match hit {
        Some((url, rule, cat)) => {
            st.report(Tag::Link, &url, cat, rule);
            if st.enforce {
                let name = st.category_name(cat);
                defer(el, "href", &name);
            }
        }
        None if has_deferred_attr(el) => activate_element(&mut st, el, Tag::Link),
        None => {}
    }
}

/// Forwards the events of the `<noscript>` rewriter to the page's observer.
pub(super) fn forward_noscript_events(st: &mut State) {
    let events = match st.noscript_events.0.lock() {
        Ok(mut r) => std::mem::take(&mut r.events),
        Err(_) => return,
    };
    for e in events {
        st.observer.element(&PageEvent {
            element: e.element,
            url: &e.url,
            category: e.category,
            action: e.action,
        });
    }
}

/// Ends the `<noscript>` being read and returns the rest of its rewritten content.
pub(super) fn finish_noscript(state: &Mutex<State>) -> Option<String> {
    let mut nested = lock(state).noscript.take()?;
    let result = nested.end();
    let out = nested.take_output();
    let mut st = lock(state);
    forward_noscript_events(&mut st);
    if result.is_err() || !st.enforce {
        return None;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

pub(super) fn on_noscript(
    state: &Arc<Mutex<State>>,
    el: &mut Element<'_, '_>,
) -> lol_html::HandlerResult {
    let plan = {
        let mut st = lock(state);
        st.inject_before(el);
        // Nothing to neutralise: the content passes as it is, byte for byte.
        if !el.can_have_content() || !st.plan.blocks_scripts() {
            return Ok(());
        }
        st.plan.clone()
    };
    // A `<noscript>` left open by the previous one (never closed): finish it first.
    if let Some(rest) = finish_noscript(state) {
        el.before(&rest, ContentType::Html);
    }
    let events = lock(state).noscript_events.clone();
    let nested = Rewriter::build(plan, None, Box::new(events), None, true);
    lock(state).noscript = Some(Box::new(nested));
    let state = state.clone();
    el.on_end_tag(Box::new(move |end: &mut EndTag<'_>| {
        if let Some(rest) = finish_noscript(&state) {
            end.before(&rest, ContentType::Html);
        }
        Ok(())
    }))
}

pub(super) fn on_noscript_text(
    state: &Mutex<State>,
    t: &mut TextChunk<'_>,
) -> lol_html::HandlerResult {
    let Some(mut nested) = lock(state).noscript.take() else {
        return Ok(());
    };
    let ok = nested.write(t.as_str().as_bytes()).is_ok();
    let out = nested.take_output();
    let mut st = lock(state);
    forward_noscript_events(&mut st);
    if !ok {
        // The content passes as it is from here on.
        return Ok(());
    }
    if st.enforce {
        t.replace(&String::from_utf8_lossy(&out), ContentType::Html);
    }
    st.noscript = Some(nested);
    Ok(())
}
