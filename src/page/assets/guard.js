// consentry page guard: holds back in the browser what the visitor has not consented to.
//
// The proxy adds this script before any other script of every page it rewrites, right after a
// `<script type="application/json" id="consentry-guard-data">` block with the visitor's data:
//   d  names of the categories not granted          a  names of the granted categories
//   c  cookie patterns  [pattern, index into d]     (-1: a granted rule that outranks a denied one)
//   s  script patterns  [pattern, index into d]     (the same)
//   n  names of the consent cookies                 g  Google Consent Mode state, when enabled
// For every category in d it drops cookie writes, holds back elements created at run time whose
// URL matches the category's script patterns (in the markup the proxy itself uses), and fails
// requests to those URLs. When the page writes a consent cookie it asks the proxy for the new
// decision (the proxy alone decides consent) and starts what is now granted, in document order.
//
// What it does not hold back passes through unchanged, and every patch catches its own errors:
// if the guard fails, the proxy's rewrite of the page still holds. The build minifies this file.
(() => {
  'use strict';
  const W = window,
    D = document,
    P = 'data-consentry-',
    CAT = P + 'category',
    EP = Element.prototype,
    setAttr = EP.setAttribute,
    getAttr = EP.getAttribute,
    delAttr = EP.removeAttribute,
    desc = Object.getOwnPropertyDescriptor,
    // The URL attribute of each kind of element the guard holds back.
    URL_OF = { SCRIPT: 'src', IFRAME: 'src', IMG: 'src', EMBED: 'src', OBJECT: 'data', LINK: 'href' },
    KINDS = Object.keys(URL_OF),
    TAGS = KINDS.join(),
    // Vendor globals that the page may call while their vendor is held back.
    GLOBALS = 'gtag fbq ttq lintrk hj clarity uetq'.split(' '),
    quiet = (f) => {
      try {
        return f();
      } catch (e) {}
    },
    holder = D.getElementById('consentry-guard-data');
  let data = quiet(() => JSON.parse(holder.textContent)),
    cookieRules,
    scriptRules;
  if (!data) return;

  // ---- matching ------------------------------------------------------------------------------

  // A glob as a regular expression body: `*` matches any run, everything else is literal.
  const glob = (p) =>
      p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*'),
    weight = (p) => p.replace(/\*/g, '').length,
    compile = () => {
      // An exact cookie name beats any glob; between globs the one with more literal characters.
      cookieRules = data.c.map(([p, i]) => ({
        i,
        t: RegExp('^' + glob(p) + '$'),
        w: p.includes('*') ? weight(p) : 1e9,
      }));
      // `host` or `host/path`: the host matches itself and its subdomains, the path is a prefix of
      // path and query.
      scriptRules = data.s.map(([p, i]) => {
        const k = p.indexOf('/');
        return {
          i,
          h: RegExp('^(.*\\.)?' + glob((k < 0 ? p : p.slice(0, k)).toLowerCase()) + '$'),
          p: RegExp('^' + glob(k < 0 ? '' : p.slice(k))),
          w: weight(p),
        };
      });
    },
    // The denied category of the best rule that passes `test` (the first of the heaviest), or ''.
    best = (rules, test) => {
      let b;
      for (const r of rules) if ((!b || r.w > b.w) && test(r)) b = r;
      return b && b.i >= 0 ? data.d[b.i] : '';
    },
    // The denied category whose script patterns match URL `u`, or ''. A resource hint to an
    // origin (`hint`) is held when any denied category has a pattern on that host.
    urlCat = (u, hint) => {
      const x = quiet(() => new URL(u, D.baseURI));
      if (!x || !/^https?:$/.test(x.protocol)) return '';
      const r = hint && scriptRules.find((r) => r.i >= 0 && r.h.test(x.hostname));
      return r
        ? data.d[r.i]
        : best(scriptRules, (r) => r.h.test(x.hostname) && r.p.test(x.pathname + x.search));
    },
    // The denied category of the first URL in an inline script's text that a pattern matches.
    textCat = (t) => {
      for (const m of String(t).matchAll(/\/\/[\w.-]+\.[a-z]{2,}[^\s"'`<>\\]*/gi)) {
        const c = urlCat('https:' + m[0]);
        if (c) return c;
      }
      return '';
    },
    // The denied category of the cookie a `document.cookie` line sets, or '' to let it through:
    // deletions, consent cookies and cookies no rule names pass. The name is read as the proxy
    // reads it (a nameless cookie presents the text of its value before the first `=`); the last
    // Max-Age decides a deletion, else an Expires in the past.
    cookieCat = (line) => {
      const pair = line.split(';')[0],
        k = pair.indexOf('=');
      let name = k < 0 ? '' : pair.slice(0, k).trim(),
        age,
        expires;
      if (!name)
        name = pair
          .slice(k + 1)
          .trim()
          .split('=')[0];
      for (const [, key, v] of line.matchAll(/;\s*(max-age|expires)\s*=([^;]*)/gi))
        if (/^e/i.test(key)) expires = Date.parse(v);
        else if (/^\s*-?\d+\s*$/.test(v)) age = +v;
      return (age != null ? age <= 0 : expires <= Date.now()) || data.n.includes(name)
        ? ''
        : best(cookieRules, (r) => r.t.test(name));
    };
  compile();

  // ---- patches -------------------------------------------------------------------------------

  // Wraps methods: `f(this, arguments)` may change the arguments, or return `[value]` to return
  // that value instead of calling the original.
  const patch = (o, names, f) => {
    for (const n of names) {
      const orig = o && o[n];
      if (orig)
        o[n] = function () {
          const r = quiet(() => f(this, arguments));
          return r ? r[0] : orig.apply(this, arguments);
        };
    }
  };
  // Wraps a property setter: `f(this, value)` returns the value to set instead, or SKIP.
  const SKIP = {};
  const setter = (o, name, f, target = o) => {
    const d = o && desc(o, name);
    if (d && d.set)
      Object.defineProperty(target, name, {
        ...d,
        set(v) {
          const r = quiet(() => f(this, v));
          if (r !== SKIP) d.set.call(this, r ?? v);
        },
      });
    return d;
  };

  // ---- vendor globals ------------------------------------------------------------------------

  // While a vendor's snippet is held back, the page's own calls to its global go to a queue
  // stub (any call, any method, chained: `ttq.instance(id).track()`), defined only where the
  // page has not defined the global. Before the held snippet runs, the stub is removed so that
  // the snippet installs its own global; the queued calls are then replayed into it.
  const stubs = {},
    names = (g, text) => RegExp('\\b' + g + '\\b').test(text),
    stub = (text) => {
      for (const g of GLOBALS)
        if (W[g] == null && names(g, text)) {
          const q = [],
            call =
              (m) =>
              (...a) => (q.push([m, a]), p),
            p = new Proxy(call(), {
              get: (t, k) => (k in t || k == 'then' || typeof k != 'string' ? t[k] : call(k)),
            });
          p.q = q;
          W[g] = stubs[g] = p;
        }
    };
  // Removes the stubs the text names; returns what replays their queues.
  const unstub = (text) => {
    const gone = [];
    for (const g in stubs) if (W[g] === stubs[g] && names(g, text)) (delete W[g], gone.push(g));
    return () => gone.map((g) => stubs[g].q.map(([m, a]) => quiet(() => (m ? W[g][m](...a) : W[g](...a)))));
  };

  // ---- holding elements back -----------------------------------------------------------------

  // A script keeps its URL and becomes `type="text/plain"` with its category (the original type
  // kept in `data-consentry-type`).
  const plain = (el, cat) => {
    const t = getAttr.call(el, 'type');
    if (t != null) setAttr.call(el, P + 'type', t);
    setAttr.call(el, 'type', 'text/plain');
    setAttr.call(el, CAT, cat);
    stub(el.text);
  };
  // Whether `el` is a resource hint (held by host alone).
  const hint = (el) => el.tagName == 'LINK' && /\b(preconnect|dns-prefetch)\b/i.test(getAttr.call(el, 'rel'));
  // Where a held element keeps its URL.
  const keep = (el) => P + (el.tagName == 'LINK' ? 'href' : 'src');
  // Called before URL `u` becomes the URL of `el`. Returns SKIP when it must not be set: the URL
  // went to `data-consentry-src` (`-href`) instead.
  const hold = (el, u) => {
    const cat = urlCat(u, hint(el));
    if (!cat) return;
    if (el.tagName == 'SCRIPT') return plain(el, cat);
    setAttr.call(el, keep(el), u);
    setAttr.call(el, CAT, cat);
    delAttr.call(el, URL_OF[el.tagName]);
    return SKIP;
  };
  // Holds back an element about to be inserted (or parsed into an inert template); truthy if held.
  // A script already in the document has run or never will: it is left alone.
  const check = (el) => {
    if (el.hasAttribute(CAT)) return;
    if (el.tagName == 'SCRIPT') {
      if (el.isConnected || !/^(|module|.*(java|ecma)script)$/i.test(el.type.trim())) return;
      const u = getAttr.call(el, 'src'),
        cat = u ? urlCat(u) : textCat(el.text);
      if (cat) plain(el, cat);
      return cat;
    }
    const u = getAttr.call(el, URL_OF[el.tagName]);
    return u && hold(el, u);
  };
  // Checks a node and every element under it. Scripts: `run` 1 checks them (they are about to
  // run), 2 only lets held ones declare their vendor's global, 0 skips them.
  const tree = (n, run) => {
    let held = 0;
    for (const el of [n, ...(n.querySelectorAll ? n.querySelectorAll(TAGS) : [])])
      if (el.nodeType == 1 && el.matches(TAGS))
        if (el.tagName != 'SCRIPT' || run == 1) held |= !!check(el);
        else if (run && el.hasAttribute(CAT)) stub(el.text);
    return held;
  };
  // Markup about to be parsed: when it holds something to hold back, the same markup with that
  // held back (parsed first in an inert template, where nothing loads or runs). Scripts count
  // only for document.write: the parser does not run the scripts that innerHTML inserts.
  const inner = desc(EP, 'innerHTML');
  const markup = (html, run) => {
    if (typeof html != 'string' || !RegExp('<(' + KINDS.join('|') + ')', 'i').test(html)) return;
    const t = D.createElement('template');
    inner.set.call(t, html);
    if (tree(t.content, run)) return inner.get.call(t);
  };

  for (const tag in URL_OF)
    setter(Object.getPrototypeOf(D.createElement(tag)), URL_OF[tag], (el, v) => hold(el, String(v)));
  patch(EP, ['setAttribute'], (el, a) => {
    if (String(a[0]).toLowerCase() == URL_OF[el.tagName] && hold(el, String(a[1]))) return [];
  });
  const inserting = (self, a) => {
    for (const x of a) if (x && x.nodeType) tree(x, 1);
  };
  patch(Node.prototype, ['appendChild', 'insertBefore', 'replaceChild'], inserting);
  patch(EP, ['append', 'prepend', 'before', 'after', 'replaceWith', 'insertAdjacentElement'], inserting);
  const RAW = /^(script|style|textarea|title|xmp|noscript)$/;
  setter(EP, 'innerHTML', (el, v) => (RAW.test(el.localName) ? v : markup(v)));
  setter(EP, 'outerHTML', (el, v) => markup(v));
  patch(EP, ['insertAdjacentHTML'], (el, a) => {
    a[1] = markup(a[1]) || a[1];
  });
  patch(Document.prototype, ['write', 'writeln'], (d, a) => {
    for (let i = 0; i < a.length; i++) a[i] = markup(a[i], 1) || a[i];
  });

  // Elements that reach the document some other way (the parser, trusted-types markup): their
  // URL is moved as soon as the observer runs; a held script declares its vendor's global.
  // (The parser may add a script's text after the script.)
  new MutationObserver((ms) => {
    for (const m of ms)
      for (const n of m.addedNodes)
        quiet(() => tree(n.nodeType == 3 && m.target.tagName == 'SCRIPT' ? m.target : n, 2));
  }).observe(D.documentElement, { childList: 1, subtree: 1 });

  // Requests to a denied URL fail as a blocked request does.
  const F = W.fetch,
    dropped = new WeakSet();
  patch(W, ['fetch'], (w, a) => {
    if (urlCat((a[0] && a[0].url) || a[0])) return [Promise.reject(TypeError('Failed to fetch'))];
  });
  patch(navigator, ['sendBeacon'], (n, a) => {
    if (urlCat(a[0])) return [false];
  });
  const X = XMLHttpRequest.prototype;
  patch(X, ['open'], (x, a) => {
    dropped[urlCat(a[1]) ? 'add' : 'delete'](x);
  });
  patch(X, ['send'], (x) => {
    if (dropped.has(x)) {
      setTimeout(() => x.dispatchEvent(new ProgressEvent('error')));
      return [];
    }
  });

  // Cookie writes: held back ones are dropped; a write may be the banner's, so poll right after.
  const jar = setter(
    Document.prototype,
    'cookie',
    (d, v) => {
      setTimeout(poll);
      if (cookieCat(String(v))) return SKIP;
    },
    D,
  );
  patch(W.CookieStore && CookieStore.prototype, ['set'], (s, a) => {
    const c = a[0] && typeof a[0] == 'object' ? a[0] : { name: a[0], value: a[1] };
    if (!(c.expires != null && c.expires <= Date.now()) && cookieCat(c.name + '=' + c.value))
      return [Promise.resolve()];
  });

  // ---- consent changes -----------------------------------------------------------------------

  // Google Consent Mode, sent as gtag.js expects it: an arguments object pushed to dataLayer.
  // Nothing is sent while every category is granted and nothing was sent before.
  let modeSent = '';
  function args() {
    return arguments;
  }
  const mode = (kind) => {
    const s = JSON.stringify(data.g);
    if (data.g && s != modeSent && (modeSent || s.includes('denied')))
      ((W.dataLayer ||= []).push(args('consent', kind, data.g)), (modeSent = s));
  };
  mode('default');

  // Starts, in document order, every held element that is no longer denied: a fresh script with
  // the original type, attributes and text (a text/plain script cannot be run again); an inline
  // script waits for the parser-blocking external ones started before it, as in the page.
  const release = async () => {
    let loading = [];
    for (const el of D.querySelectorAll(`script[type="text/plain"][${CAT}],[${P}src],[${P}href]`))
      try {
        const cat = getAttr.call(el, CAT),
          tag = el.tagName,
          key = keep(el);
        const u = getAttr.call(el, tag == 'SCRIPT' ? 'src' : key);
        if (cat ? !data.a.includes(cat) : tag == 'SCRIPT' || !u || urlCat(u, hint(el))) continue;
        if (tag != 'SCRIPT') {
          delAttr.call(el, key);
          delAttr.call(el, CAT);
          el.setAttribute(URL_OF[tag], u);
          continue;
        }
        if (!u && loading.length) {
          await Promise.race([Promise.all(loading), new Promise((r) => setTimeout(r, 3000))]);
          loading = [];
        }
        if (!el.isConnected) continue;
        const s = D.createElement('script'),
          t = getAttr.call(el, P + 'type');
        for (const a of el.attributes)
          if (!a.name.startsWith(P) && a.name != 'type') setAttr.call(s, a.name, a.value);
        if (t) setAttr.call(s, 'type', t);
        s.nonce = el.nonce;
        s.text = el.text;
        // Only a script that blocked the parser (no async, no defer) held up what followed it.
        if (u && !(s.async = el.hasAttribute('async')) && !el.hasAttribute('defer'))
          loading.push(new Promise((r) => ['load', 'error'].map((e) => s.addEventListener(e, r))));
        const replay = unstub(el.text);
        el.replaceWith(s);
        replay();
      } catch (e) {}
  };

  // The consent cookies as the page sees them. A change asks the proxy for the new decision;
  // withdrawing takes effect with the new lists, at once.
  const consent = () =>
    jar.get
      .call(D)
      .split(';')
      .map((s) => s.trim())
      .filter((s) => data.n.includes(s.split('=')[0]))
      .sort()
      .join();
  let seen = consent(),
    asked = 0;
  const live = holder.dataset.live != '0';
  // A function declaration: the cookie patches above may call it before this line has run.
  function poll() {
    quiet(() => {
      const now = consent();
      if (now == seen || !live) return;
      const n = ++asked;
      seen = now;
      // The endpoint answers with Cache-Control: no-store.
      F.call(W, '/.consentry/consent')
        .then((r) => r.ok && r.json())
        .then((j) => j && j.c && n == asked && ((data = j), compile(), mode('update'), release()))
        .catch(() => {});
    });
  }
  setInterval(poll, 500);
})();
