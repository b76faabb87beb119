// Helpdesk Supply, the consentry demo shop: the consent banner and the live inspector panel.
// No frameworks, no network besides one same-origin request for this very page and the hit
// counter of the vendor stand-ins.
'use strict';

(() => {
  const CONSENT_COOKIE = 'consentry';
  const ONE_YEAR = 60 * 60 * 24 * 365;

  const $ = (selector) => document.querySelector(selector);
  const $$ = (selector) => Array.from(document.querySelectorAll(selector));
  const meta = (name) => {
    const tag = document.querySelector(`meta[name="${name}"]`);
    return tag ? tag.content.trim() : '';
  };

  // The cookies scripts can see, as a Map from name to value.
  function browserCookies() {
    const jar = new Map();
    for (const part of document.cookie.split(';')) {
      const pair = part.trim();
      if (!pair) continue;
      const eq = pair.indexOf('=');
      if (eq < 0) jar.set(pair, '');
      else jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    return jar;
  }

  // The visitor's consent: null when undecided, otherwise the list of granted categories
  // (['all'] for everything, [] for nothing but essential).
  function currentConsent() {
    const raw = browserCookies().get(CONSENT_COOKIE);
    if (raw === undefined) return null;
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch (_) {
      // Keep the raw value.
    }
    return value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s && s !== 'none');
  }

  function describeConsent(consent) {
    if (consent === null) return 'Not decided yet';
    if (consent.includes('all')) return 'All categories';
    if (consent.length === 0) return 'Essential only';
    return ['essential', ...consent].join(', ');
  }

  // ---- Consent banner -------------------------------------------------------------------

  const banner = $('#cookie-banner');
  const choices = $('#banner-choices');
  const chooseButton = $('#banner-choose');

  function openBanner({ showChoices = false, focus = false } = {}) {
    const consent = currentConsent();
    for (const box of choices.querySelectorAll('input[name="category"]')) {
      box.checked = consent !== null && (consent.includes('all') || consent.includes(box.value));
    }
    choices.hidden = !showChoices;
    chooseButton.hidden = showChoices;
    $('#banner-close').hidden = consent === null;
    banner.hidden = false;
    if (focus) {
      const target = showChoices
        ? choices.querySelector('input[name="category"]')
        : banner.querySelector('[data-consent="all"]');
      target.focus({ preventScroll: true });
    }
  }

  function closeBanner() {
    banner.hidden = true;
  }

  // Writes the native consent cookie. "Accept all" needs no reload: the page guard releases the
  // trackers it held back, and the panel refreshes itself. Any other choice reloads, so the next
  // response is filtered with it.
  function saveConsent(value) {
    document.cookie = `${CONSENT_COOKIE}=${value}; Path=/; Max-Age=${ONE_YEAR}; SameSite=Lax`;
    if (value !== 'all') {
      location.reload();
      return;
    }
    closeBanner();
    afterAccept();
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // After "Accept all": wait (3 s at most) until the guard has released what it held back, then
  // write the script cookie again and refresh the panel.
  async function afterAccept() {
    document.documentElement.dataset.demoAccepted = 'pending';
    $('#consent-value').textContent = describeConsent(currentConsent());
    const deadline = Date.now() + 3000;
    while (heldBack().length > 0 && Date.now() < deadline) await sleep(100);
    setScriptCookie();
    await renderGuard();
    await inspect();
    document.documentElement.dataset.demoAccepted = 'done';
  }

  for (const button of $$('[data-consent]')) {
    button.addEventListener('click', () => saveConsent(button.dataset.consent));
  }
  chooseButton.addEventListener('click', () => openBanner({ showChoices: true, focus: true }));
  choices.addEventListener('submit', (event) => {
    event.preventDefault();
    const granted = $$('#banner-choices input[name="category"]:checked').map((box) => box.value);
    saveConsent(granted.length ? granted.join(',') : 'none');
  });
  $('#banner-close').addEventListener('click', closeBanner);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !banner.hidden && currentConsent() !== null) closeBanner();
  });
  for (const opener of $$('[data-open-settings]')) {
    opener.addEventListener('click', (event) => {
      event.preventDefault();
      openBanner({ showChoices: true, focus: true });
    });
  }
  $('#forget-consent').addEventListener('click', () => {
    document.cookie = `${CONSENT_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax`;
    location.reload();
  });

  // ---- A tag-manager-like script cookie ---------------------------------------------------

  // Like real tag managers, set an analytics cookie from JavaScript on every load, whatever the
  // consent, on the parent domain when there is one. consentry deletes it on the next response
  // when analytics is not granted.
  function setScriptCookie() {
    const line = meta('consentry-script-cookie');
    if (!line) return;
    const domain = meta('consentry-cookie-domain');
    document.cookie = domain ? `${line}; Domain=${domain}` : line;
  }

  // ---- Inspector panel --------------------------------------------------------------------

  const names = (header) =>
    (header || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);

  function renderChips(list, items, emptyText) {
    list.replaceChildren();
    if (items.length === 0) {
      const li = document.createElement('li');
      li.className = 'chip chip-muted';
      li.textContent = emptyText;
      list.append(li);
      return;
    }
    for (const item of items) {
      const li = document.createElement('li');
      li.className = `chip ${item.className || ''}`;
      li.textContent = item.text;
      if (item.title) li.title = item.title;
      list.append(li);
    }
  }

  function renderBrowserCookies() {
    const items = [...browserCookies().keys()].sort().map((name) => ({
      text: name,
      className: name === CONSENT_COOKIE ? 'chip-consent' : '',
      title: name === CONSENT_COOKIE ? 'Your consent choice' : '',
    }));
    renderChips($('#browser-cookies'), items, 'No cookies visible to scripts');
  }

  function setState(row, state, text) {
    const cell = row.querySelector('.status');
    const badge = document.createElement('span');
    badge.className = `state state-${state}`;
    badge.textContent = text;
    cell.replaceChildren(badge);
  }

  // Fills the "Result" column from the proxy's headers and what the browser now holds.
  function renderTable(blocked, deleted, proxySeen) {
    const jar = browserCookies();
    for (const row of $$('tr[data-cookie]')) {
      const name = row.dataset.cookie;
      const httpOnly = row.dataset.httponly === 'true';
      if (blocked.has(name) && deleted.has(name)) setState(row, 'blocked', 'Blocked and deleted');
      else if (blocked.has(name)) setState(row, 'blocked', 'Blocked by consentry');
      else if (deleted.has(name)) setState(row, 'deleted', 'Deleted by consentry');
      else if (jar.has(name)) setState(row, 'kept', 'In your browser');
      else if (httpOnly) {
        setState(row, 'kept', proxySeen ? 'Passed (HttpOnly, hidden from scripts)' : 'Set (HttpOnly, hidden from scripts)');
      } else setState(row, 'missing', 'Not in your browser');
    }
  }

  function renderSummary(blocked, deleted, proxySeen) {
    const total = $$('tr[data-cookie][data-source="server"]').length;
    const summary = $('#summary');
    if (!proxySeen) {
      summary.textContent =
        'Nothing was blocked: either you accepted every category, or consentry is not in front of this site.';
      return;
    }
    const parts = [`consentry blocked ${blocked.size} of the ${total} cookies this page tried to set`];
    if (deleted.size) parts.push(`and deleted ${deleted.size} your browser already had`);
    summary.textContent = `${parts.join(' ')}.`;
  }

  function renderAdminLinks() {
    const base = meta('consentry-admin').replace(/\/+$/, '');
    if (!base) {
      $('#admin-card').hidden = true;
      return;
    }
    $('#admin-status').href = `${base}/`;
    $('#admin-metrics').href = `${base}/metrics`;
    $('#admin-unclassified').href = `${base}/unclassified`;
  }

  // ---- Page guard card ----------------------------------------------------------------------

  // The elements the proxy neutralised or the guard held back, still waiting in the document.
  const heldBack = () =>
    $$('[data-consentry-category], [data-consentry-src], [data-consentry-href]').filter(
      (el) => el.id !== 'consentry-guard-data',
    );

  function describeElement(el) {
    const tag = el.tagName.toLowerCase();
    const url =
      el.getAttribute('src') ||
      el.getAttribute('data-consentry-src') ||
      el.getAttribute('data-consentry-href') ||
      '';
    let what = `<${tag}>`;
    if (url) {
      try {
        const u = new URL(url, location.href);
        what += ` ${u.pathname}`;
      } catch (_) {
        what += ` ${url}`;
      }
    } else if (tag === 'script') {
      what += ' inline';
    }
    return what;
  }

  // What was held back when last seen, shown as started once the guard released it.
  let lastHeld = [];
  async function renderGuard() {
    const held = heldBack().map((el) => ({
      text: `${describeElement(el)} · ${el.getAttribute('data-consentry-category') || 'held'}`,
      className: 'chip-held',
      title: 'Neutralised by consentry until you consent to this category',
    }));
    if (held.length > 0) {
      lastHeld = held;
      renderChips($('#guard-list'), held, '');
    } else if (lastHeld.length > 0 && document.documentElement.dataset.demoAccepted) {
      renderChips(
        $('#guard-list'),
        lastHeld.map((item) => ({
          text: `${item.text} · started`,
          className: 'chip-released',
          title: 'Released by the page guard when you accepted, without a reload',
        })),
        '',
      );
    } else {
      renderChips($('#guard-list'), [], 'Nothing held back on this page');
    }
    const vendor = meta('consentry-vendor');
    if (!vendor) return;
    try {
      const response = await fetch(`${vendor}/hits`, { cache: 'no-store' });
      const hits = await response.json();
      const paths = Object.entries(hits.paths || {})
        .map(([path, n]) => `${path} ×${n}`)
        .join(', ');
      $('#vendor-hits').textContent = paths ? `${hits.total} (${paths})` : '0';
    } catch (error) {
      $('#vendor-hits').textContent = `unavailable (${error.message})`;
    }
  }

  async function inspect() {
    $('#consent-value').textContent = describeConsent(currentConsent());
    renderAdminLinks();
    renderBrowserCookies();

    let blockedHeader = null;
    let deletedHeader = null;
    let failed = false;
    try {
      // A fresh copy of this page: same cookies sent, same consent, so the proxy reports the same
      // decisions (and expires the script cookie if analytics is not granted).
      const response = await fetch(location.pathname, { cache: 'no-store', credentials: 'same-origin' });
      blockedHeader = response.headers.get('X-Consentry-Blocked');
      deletedHeader = response.headers.get('X-Consentry-Deleted');
      await response.text();
    } catch (error) {
      failed = true;
      $('#summary').textContent = `Could not fetch this page again: ${error.message}`;
    }

    const blocked = new Set(names(blockedHeader));
    const deleted = new Set(names(deletedHeader));
    const proxySeen = blocked.size > 0 || deleted.size > 0;
    renderChips(
      $('#blocked-list'),
      [...blocked].map((name) => ({ text: name, className: 'chip-blocked' })),
      '(proxy not in front / nothing blocked)',
    );
    renderChips(
      $('#deleted-list'),
      [...deleted].map((name) => ({ text: name, className: 'chip-deleted' })),
      '(nothing deleted)',
    );
    renderBrowserCookies();
    renderTable(blocked, deleted, proxySeen);
    if (!failed) renderSummary(blocked, deleted, proxySeen);
  }

  // ---- Shop niceties ----------------------------------------------------------------------

  const addToCart = $('#add-to-cart');
  if (addToCart) {
    addToCart.addEventListener('click', () => {
      const count = $('#cart-count');
      count.textContent = String(Number(count.textContent) + 1);
      addToCart.textContent = 'Added';
    });
  }

  // ---- Start ------------------------------------------------------------------------------

  setScriptCookie();
  if (currentConsent() === null) openBanner();
  inspect();
  renderGuard();
  setInterval(renderGuard, 1000);
})();
