/*
 * The Keyguard console (docs/console.md). Plain JavaScript, no build step: every number it
 * shows comes from the admin API (docs/api.md) with the browser's session cookie, and every
 * change it makes is an admin API call carrying the session's CSRF token. Text from the
 * server is only ever set as text (never as HTML), so a key name cannot become markup.
 */
'use strict';

(function () {
  const state = { session: null, config: { oidc: false }, timers: [] };
  const main = document.getElementById('main');
  const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  // ---- DOM helpers ---------------------------------------------------------------------

  /** An element with attributes (on* as listeners) and children (strings become text). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  let fieldSeq = 0;
  /** A labelled form control: the label names it for screen readers. */
  function field(label, control) {
    const id = control.id || ('f' + (++fieldSeq));
    control.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), control);
  }

  function select(name, options, value) {
    const s = h('select', { name });
    for (const o of options) {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      s.append(h('option', { value: v, selected: v === value }, label));
    }
    return s;
  }

  function say(text) {
    const s = document.getElementById('status');
    s.textContent = text;
    clearTimeout(say.t);
    say.t = setTimeout(() => { s.textContent = ''; }, 6000);
  }

  function table(caption, columns, rows, onOpen) {
    const t = h('table', {}, h('caption', {}, caption));
    t.append(h('thead', {}, h('tr', {}, columns.map(c => h('th', { scope: 'col', class: c.num ? 'num' : null }, c.label)))));
    const body = h('tbody');
    for (const r of rows) {
      const tr = h('tr', onOpen ? {
        tabindex: 0,
        onclick: () => onOpen(r),
        onkeydown: e => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onOpen(r); } },
      } : {});
      for (const c of columns) {
        const v = c.value(r);
        tr.append(h('td', { class: c.num ? 'num' : null }, v instanceof Node ? v : (v === null || v === undefined ? '' : String(v))));
      }
      body.append(tr);
    }
    if (rows.length === 0) body.append(h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, 'Nothing to show.')));
    t.append(body);
    return t;
  }

  // ---- formatting ----------------------------------------------------------------------

  const usd = micros => '$' + (Number(micros) / 1e6).toFixed(2);
  /** Dollars on an axis: cents for large amounts, up to micro-dollars for small ones. */
  const axisUsd = micros => '$' + (Math.abs(micros) >= 1e6 ? (micros / 1e6).toFixed(2) : String(Number((micros / 1e6).toFixed(6))));
  const usdExact = micros => '$' + (Number(micros) / 1e6).toFixed(6);
  /** An IANA zone the browser knows for a zone id from the server ({@code Z} and offsets are UTC-based ids). */
  function ianaZone(zone) {
    if (!zone || zone === 'Z' || zone === 'UTC') return 'UTC';
    try { new Intl.DateTimeFormat(undefined, { timeZone: zone }); return zone; } catch (e) { return null; }
  }
  /** An instant in the viewer's time zone (or {@code zone}), with the zone named. */
  function when(iso, zone) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    const tz = zone ? ianaZone(zone) : viewerZone;
    return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
      timeZone: tz || 'UTC', timeZoneName: 'short' }) + (zone && !tz ? ' (UTC; zone ' + zone + ')' : '');
  }
  const isoDay = d => d.toISOString().slice(0, 10);
  function daysAgo(n) { const d = new Date(); d.setUTCDate(d.getUTCDate() - n); return isoDay(d); }

  // ---- the admin API -------------------------------------------------------------------

  class ApiError extends Error { constructor(status, message) { super(message); this.status = status; } }

  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.session && state.session.csrf_token) headers['X-Keyguard-CSRF'] = state.session.csrf_token;
    const r = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    const type = r.headers.get('content-type') || '';
    const text = await r.text();
    if (!r.ok) {
      let message = text;
      try { message = JSON.parse(text).error.message; } catch (e) { /* not an error body */ }
      if (r.status === 401 && state.session) { state.session = null; render(); }
      throw new ApiError(r.status, message || ('HTTP ' + r.status));
    }
    if (type.includes('application/json')) return JSON.parse(text);
    if (type.includes('ndjson')) return text.split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
    return text;
  }

  function failed(where, e) {
    where.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
  }

  // ---- sign-in -------------------------------------------------------------------------

  async function start() {
    try { state.config = await api('GET', '/console/config.json'); } catch (e) { /* token sign-in only */ }
    try { state.session = await api('GET', '/admin/session'); } catch (e) { state.session = null; }
    window.addEventListener('hashchange', render);
    document.getElementById('signout').addEventListener('click', signOut);
    render();
  }

  async function signOut() {
    try { await api('DELETE', '/admin/session'); } catch (e) { /* already ended */ }
    state.session = null;
    location.hash = '';
    render();
  }

  function signInPage() {
    const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', {
      class: 'card', id: 'signin-form',
      onsubmit: async e => {
        e.preventDefault();
        error.textContent = '';
        try {
          state.session = await api('POST', '/admin/session', { token: token.value.trim() });
          token.value = '';
          location.hash = '#/spend';
          render();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    },
    h('h1', {}, 'Sign in to Keyguard'),
    state.config.oidc ? h('p', {}, h('a', { href: '/console/oidc/start', id: 'oidc-signin' }, 'Sign in with your identity provider')) : null,
    state.config.oidc ? h('p', { class: 'muted' }, 'or with a token:') : null,
    field('Admin token or identity-provider token', token),
    h('p', { class: 'muted' }, 'On a fresh install the bootstrap admin token is in data/admin.token (or KEYGUARD_ADMIN_TOKEN).'),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Sign in')),
    error);
    return h('div', { class: 'signin' }, form);
  }

  // ---- routing -------------------------------------------------------------------------

  const pages = { spend: spendPage, keys: keysPage, policies: policiesPage, live: livePage, audit: auditPage };

  function render() {
    state.timers.forEach(clearInterval);
    state.timers = [];
    const nav = document.getElementById('nav');
    const who = document.getElementById('who');
    const out = document.getElementById('signout');
    if (!state.session) {
      nav.hidden = true; out.hidden = true; who.textContent = '';
      main.replaceChildren(signInPage());
      return;
    }
    nav.hidden = false; out.hidden = false;
    who.textContent = (state.session.user ? state.session.user.slice(5) : state.session.subject) + ' · ' + state.session.role + ' · times in ' + viewerZone;
    const [, name, arg] = (location.hash.match(/^#\/([a-z]+)(?:\/(.+))?$/) || [null, 'spend', null]);
    // A member (self-service, no role) has keys and the policies they may issue keys for; nothing else.
    const allowed = state.session.role === 'member' ? ['keys', 'policies'] : Object.keys(pages);
    const page = pages[name] && allowed.includes(name) ? name : allowed[0];
    for (const a of nav.querySelectorAll('a')) {
      a.hidden = !allowed.includes(a.dataset.page);
      if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    document.title = page[0].toUpperCase() + page.slice(1) + ' · Keyguard console';
    main.replaceChildren();
    pages[page](main, arg ? decodeURIComponent(arg) : null);
    main.focus({ preventScroll: true });
  }

  const readsEverything = () => state.session.admin || state.session.auditor;
  const managesKeysOf = policy => state.session.admin || state.session.team_policies.includes(policy);
  /** What the signed-in person may issue to themselves for a policy (self-service), or undefined. */
  const selfServiceOf = policy => (state.session.self_service || []).find(a => a.policy === policy);
  /** The service accounts of the person's groups bound to a policy: they may issue those keys, within each account's limits. */
  const accountsOf = policy => (state.session.service_accounts || []).filter(a => a.policy === policy);

  // ---- charts --------------------------------------------------------------------------

  const PALETTE = ['#1f5fbf', '#e07b00', '#2e9d57', '#b3261e', '#7b4bc4', '#0f8b8d', '#a15c2f', '#c2477f', '#5a6472', '#8a9a1b'];

  /**
   * A stacked chart (bars or areas) of series over time: each series is drawn as the sum of
   * itself and those below it, the top one first, so every band is one series.
   */
  function stackedChart(target, title, xs, series, opts) {
    if (typeof uPlot === 'undefined') { target.append(h('p', { class: 'error' }, 'the chart library did not load')); return; }
    const stacked = [];
    const acc = new Array(xs.length).fill(0);
    for (const s of series) {
      for (let i = 0; i < xs.length; i++) acc[i] += s.values[i] || 0;
      stacked.push({ label: s.label, values: acc.slice() });
    }
    const order = stacked.map((s, i) => i).reverse();
    const bars = opts && opts.bars && uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 64] }) : undefined;
    const width = Math.max(320, Math.min(1180, target.clientWidth || main.clientWidth - 40));
    const u = new uPlot({
      title, width, height: 280,
      scales: { x: { time: true } },
      axes: [{}, { values: (self, ticks) => ticks.map(v => opts && opts.money ? axisUsd(v) : String(v)), size: 80 }],
      series: [{ label: 'time' }].concat(order.map(i => ({
        label: series[i].label,
        stroke: PALETTE[i % PALETTE.length],
        fill: PALETTE[i % PALETTE.length] + 'cc',
        paths: bars,
        value: (self, v, si, idx) => idx === null || idx === undefined ? '' :
          (opts && opts.money ? usd(series[i].values[idx] || 0) : String(series[i].values[idx] || 0)),
      }))),
    }, [xs].concat(order.map(i => stacked[i].values)), target);
    return u;
  }

  // ---- Spend ---------------------------------------------------------------------------

  /** The start of the bucket a UTC day falls in: the day, its ISO week's Monday, or its month's first. */
  function bucketOf(day, size) {
    if (size === 'day') return day;
    const d = new Date(day + 'T00:00:00Z');
    if (size === 'month') return day.slice(0, 8) + '01';
    const dow = (d.getUTCDay() + 6) % 7;
    d.setUTCDate(d.getUTCDate() - dow);
    return isoDay(d);
  }

  function spendPage(root) {
    const range = select('range', [['7', 'last 7 days'], ['30', 'last 30 days'], ['90', 'last 90 days'], ['365', 'last 365 days']], '30');
    const size = select('size', [['day', 'by day'], ['week', 'by week'], ['month', 'by month']], 'day');
    const by = select('by', [['policy', 'policy'], ['team', 'team'], ['org', 'org unit'], ['teamtag', 'team tag (audit tag team)'], ['key', 'key'],
      ['owner', 'owner'], ['model', 'model'], ['tag', 'audit tags'], ['tagname', 'one tag…']], 'policy');
    const tagName = h('input', { name: 'tag_name', placeholder: 'e.g. project', maxlength: 64 });
    const tagField = field('Tag', tagName);
    tagField.hidden = true;
    by.addEventListener('change', () => { tagField.hidden = by.value !== 'tagname'; });
    /**
     * The admin API's dimension for a choice: team and org unit are the operator's organisation; the team tag is the
     * policies' `team` audit tag; one tag is `tag:NAME` (the policy's or the request's).
     */
    const oneTag = () => 'tag:' + (/^[A-Za-z0-9_.-]{1,64}$/.test(tagName.value.trim()) ? tagName.value.trim() : 'project');
    const dim = () => by.value === 'teamtag' ? 'tag:team' : by.value === 'tagname' ? oneTag() : by.value;
    const groupOf = r => r[dim()] || ({ teamtag: '(no team tag)', team: '(no team)', org: '(no org unit)' }[by.value] || '(none)');
    const fPolicy = h('input', { name: 'policy', placeholder: 'any' });
    const fKey = h('input', { name: 'key', placeholder: 'any (key id)' });
    const fModel = h('input', { name: 'model', placeholder: 'any' });
    const chart = h('div', { id: 'spend-chart', class: 'chart' });
    const summary = h('div', { id: 'spend-table' });
    const tops = h('div', { class: 'grid2' });
    const budgets = h('div', { id: 'budgets' });
    let shown = [];
    const csv = h('button', {
      type: 'button', class: 'secondary', id: 'spend-csv',
      onclick: () => {
        const lines = [['bucket', dim(), 'cost_usd', 'cost_micros', 'requests'].join(',')]
          .concat(shown.map(r => [r.bucket, r.group, (r.cost / 1e6).toFixed(6), r.cost, r.requests].map(csvCell).join(',')));
        const blob = new Blob([lines.join('\n') + '\n'], { type: 'text/csv' });
        const a = h('a', { href: URL.createObjectURL(blob), download: 'keyguard-spend.csv' });
        document.body.append(a); a.click(); a.remove();
      },
    }, 'Export CSV');
    const form = h('form', { class: 'card row', onsubmit: e => { e.preventDefault(); load(); } },
      field('Range', range), field('Buckets', size), field('Stacked by', by), tagField,
      field('Policy', fPolicy), field('Key', fKey), field('Model', fModel),
      h('button', { type: 'submit' }, 'Show'), csv);
    root.append(h('h1', {}, 'Spend'), form,
      h('div', { class: 'card' }, chart, h('p', { class: 'legend-note' }, 'Days are UTC days, as /admin/spend counts them.')),
      h('div', { class: 'card' }, summary), tops,
      h('h2', {}, 'Budgets'), h('p', { class: 'muted' }, 'Hard and soft budgets of the keys with the most spend in the range, and of their policies: used against the cap, and when the cap is reached at the rate of the period so far.'),
      budgets);

    async function load() {
      const to = daysAgo(0);
      const from = daysAgo(Number(range.value) - 1);
      const filters = new URLSearchParams({ from, to });
      if (fPolicy.value.trim()) filters.set('policy', fPolicy.value.trim());
      if (fKey.value.trim()) filters.set('key', fKey.value.trim());
      if (fModel.value.trim()) filters.set('model', fModel.value.trim());
      const q = p => { const u = new URLSearchParams(filters); for (const [k, v] of Object.entries(p)) u.set(k, v); return '/admin/spend?' + u; };
      try {
        const [series, total, byKey, byModel] = await Promise.all([
          api('GET', q({ group_by: 'day,' + dim() })), api('GET', q({ group_by: dim() })),
          api('GET', q({ group_by: 'key' })), api('GET', q({ group_by: 'model' }))]);
        drawSeries(series, from, to);
        drawTotals(total);
        tops.replaceChildren(
          h('div', { class: 'card' }, topTable('Top keys', 'key', byKey)),
          h('div', { class: 'card' }, topTable('Top models', 'model', byModel)));
        loadBudgets(byKey.rows.slice().sort((a, b) => b.cost_micros - a.cost_micros).slice(0, 10).map(r => r.key));
      } catch (e) {
        failed(summary, e);
      }
    }

    function drawSeries(data, from, to) {
      const buckets = [];
      for (let d = new Date(from + 'T00:00:00Z'); isoDay(d) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
        const b = bucketOf(isoDay(d), size.value);
        if (buckets[buckets.length - 1] !== b) buckets.push(b);
      }
      const groups = new Map();
      shown = [];
      for (const r of data.rows) {
        const g = groupOf(r);
        const b = bucketOf(r.day, size.value);
        if (!groups.has(g)) groups.set(g, new Map());
        const m = groups.get(g);
        const cell = m.get(b) || { cost: 0, requests: 0 };
        cell.cost += r.cost_micros; cell.requests += r.requests;
        m.set(b, cell);
      }
      for (const [g, m] of groups) for (const [b, c] of m) shown.push({ bucket: b, group: g, cost: c.cost, requests: c.requests });
      shown.sort((a, b) => a.bucket.localeCompare(b.bucket) || a.group.localeCompare(b.group));
      const xs = buckets.map(b => Date.parse(b + 'T00:00:00Z') / 1000);
      const series = [...groups.entries()].sort((a, b) => sum(b[1]) - sum(a[1])).map(([g, m]) => ({ label: g, values: buckets.map(b => (m.get(b) || { cost: 0 }).cost) }));
      chart.replaceChildren();
      stackedChart(chart, 'Spend ' + size.options[size.selectedIndex].text + ', stacked by ' + by.options[by.selectedIndex].text, xs, series, { money: true, bars: true });
    }

    function drawTotals(data) {
      const sums = new Map();
      for (const r of data.rows) {
        const g = groupOf(r);
        const c = sums.get(g) || { group: g, cost_micros: 0, requests: 0 };
        c.cost_micros += r.cost_micros; c.requests += r.requests;
        sums.set(g, c);
      }
      const rows = [...sums.values()].sort((a, b) => b.cost_micros - a.cost_micros);
      const t = table('Spend from ' + data.from + ' to ' + data.to + ' by ' + (by.value === 'tagname' ? dim() : by.value === 'teamtag' ? 'team tag' : by.value), [
        { label: by.value, value: r => r.group },
        { label: 'Spend', num: true, value: r => usdExact(r.cost_micros) },
        { label: 'Requests', num: true, value: r => r.requests },
        { label: 'Share', num: true, value: r => data.total_cost_micros ? (100 * r.cost_micros / data.total_cost_micros).toFixed(1) + '%' : '' },
      ], rows);
      summary.replaceChildren(t, h('p', {}, 'Total: ', h('strong', { id: 'spend-total', 'data-micros': data.total_cost_micros }, usdExact(data.total_cost_micros)),
        ' over ', h('span', { id: 'spend-requests' }, String(data.total_requests)), ' requests.'));
    }

    async function loadBudgets(keyIds) {
      budgets.replaceChildren(h('p', { class: 'muted' }, keyIds.length ? 'Loading…' : 'No key has spent anything in this range.'));
      const seen = new Set();
      const cards = [];
      for (const id of keyIds) {
        let u;
        try { u = await api('GET', '/admin/keys/' + encodeURIComponent(id) + '/usage'); } catch (e) { continue; }
        for (const l of u.limits.filter(l => l.kind === 'budget')) {
          const owner = l.scope === 'key' ? 'key ' + id : 'policy ' + u.policy;
          const k = owner + '/' + l.id;
          if (seen.has(k)) continue;
          seen.add(k);
          cards.push(budgetCard(owner, l));
        }
      }
      budgets.replaceChildren(...(cards.length ? cards : [h('p', { class: 'muted' }, 'These keys have no budgets.')]));
    }

    load();
  }

  /** The value of `team` in a tag set as the spend index writes it (`k=v,k=v`). */
  function sum(m) { let s = 0; for (const c of m.values()) s += c.cost; return s; }
  function csvCell(v) { const s = String(v); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }

  function topTable(caption, dim, data) {
    const rows = data.rows.slice().sort((a, b) => b.cost_micros - a.cost_micros).slice(0, 8);
    return table(caption, [
      { label: dim, value: r => dim === 'key' ? h('a', { href: '#/keys/' + encodeURIComponent(r.key) }, r.key) : r[dim] },
      { label: 'Spend', num: true, value: r => usdExact(r.cost_micros) },
      { label: 'Requests', num: true, value: r => r.requests },
    ], rows);
  }

  /** One budget: used against its cap, its period in its own zone, and when the cap is reached at the current rate. */
  function budgetCard(owner, l) {
    const pct = Math.min(100, l.used_percent);
    const hot = l.used_percent >= 80;
    const projected = l.projected_exhaustion === 'reached' ? 'reached' :
      l.projected_exhaustion ? 'at this rate, reached ' + when(l.projected_exhaustion) : 'not reached this period at this rate';
    return h('div', { class: 'card budget', 'data-budget': l.id },
      h('div', { class: 'row' }, h('strong', {}, owner + ' · ' + l.id), h('span', { class: 'pill ' + (l.hard ? 'bad' : 'warn') }, l.hard ? 'hard' : 'soft')),
      h('div', { class: 'meter' + (hot ? ' hot' : ''), role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct,
        'aria-label': l.id + ' used ' + l.used_percent + '%' }, h('span', { style: null, 'data-w': pct })),
      h('p', {}, usdExact(l.used_micros) + ' of ' + usd(l.cap_micros) + ' (' + l.used_percent + '%) — ' + projected + '.'),
      h('p', { class: 'muted' }, 'Period ' + l.period + ' in ' + l.zone + ': ' + when(l.period_start, l.zone) + ' – ' + when(l.period_end, l.zone)
        + ' (your time: ' + when(l.period_end) + ')'));
  }

  // Meters get their width through the CSS object model (the CSP allows no inline styles).
  new MutationObserver(() => {
    for (const s of document.querySelectorAll('.meter > span[data-w]')) { s.style.width = s.dataset.w + '%'; s.removeAttribute('data-w'); }
  }).observe(document.body, { childList: true, subtree: true });

  // ---- Keys ----------------------------------------------------------------------------

  async function keysPage(root, keyId) {
    if (keyId) return keyDetail(root, keyId);
    root.append(h('h1', {}, 'Keys'));
    let keys = [];
    let policies = [];
    try {
      [keys, policies] = await Promise.all([api('GET', '/admin/keys').then(r => r.keys), api('GET', '/admin/policies').then(r => r.policies)]);
    } catch (e) { failed(root, e); return; }
    const creatable = [...new Set(policies.filter(managesKeysOf).concat((state.session.self_service || []).map(a => a.policy),
      (state.session.service_accounts || []).map(a => a.policy)))].sort();
    const search = h('input', { name: 'search', type: 'search', placeholder: 'name, id or owner' });
    const policy = select('policy', [['', 'all policies']].concat([...new Set(keys.map(k => k.policy))].sort()), '');
    const stateSel = select('state', [['', 'any state'], 'active', 'revoked', 'expired'], '');
    const list = h('div', { id: 'key-list' });
    const filters = h('form', { class: 'card row', role: 'search', onsubmit: e => e.preventDefault() },
      field('Search', search), field('Policy', policy), field('State', stateSel));
    for (const c of [search, policy, stateSel]) c.addEventListener('input', draw);
    root.append(filters);
    if (creatable.length) root.append(createForm(creatable));
    root.append(h('div', { class: 'card' }, list));
    draw();
    const accounts = h('div', { class: 'card', id: 'service-accounts' });
    root.append(accounts);
    try {
      const r = await api('GET', '/admin/service-accounts');
      if (r.service_accounts.length) {
        accounts.replaceChildren(table(r.service_accounts.length + ' service accounts (owned by a group; their keys outlive the people who made them)', [
          { label: 'Name', value: a => a.name },
          { label: 'Group', value: a => a.group },
          { label: 'Policy', value: a => a.policy },
          { label: 'Active keys', num: true, value: a => a.active_keys },
          { label: 'Keys live at most', value: a => a.max_lifetime },
          { label: 'Description', value: a => a.description },
        ], r.service_accounts));
      } else {
        accounts.remove();
      }
    } catch (e) { accounts.remove(); }

    function draw() {
      const s = search.value.trim().toLowerCase();
      const rows = keys.filter(k => (!s || [k.name, k.id, k.owner || ''].some(v => v.toLowerCase().includes(s)))
        && (!policy.value || k.policy === policy.value) && (!stateSel.value || k.state === stateSel.value));
      list.replaceChildren(table(rows.length + ' of ' + keys.length + ' keys', [
        { label: 'Name', value: k => h('a', { href: '#/keys/' + encodeURIComponent(k.id) }, k.name) },
        { label: 'Id', value: k => k.id },
        { label: 'Policy', value: k => k.policy },
        { label: 'Owner', value: k => k.owner || '' },
        { label: 'State', value: k => h('span', { class: 'pill ' + k.state }, k.state) },
        { label: 'Created', value: k => when(k.created_at) },
        { label: 'Expires', value: k => k.expires_at ? when(k.expires_at) : 'never' },
      ], rows));
    }
  }

  const LIFETIMES = [['1d', '1 day', 86400], ['7d', '7 days', 604800], ['30d', '30 days', 2592000], ['90d', '90 days', 7776000], ['365d', '1 year', 31536000]];

  /**
   * The create form. For a policy the person administers: any owner, any lifetime. For one
   * they may only self-issue: owned by them or one of their groups, living at most what the
   * grant allows (the server holds the same line).
   */
  function createForm(policies) {
    const name = h('input', { name: 'name', required: true, maxlength: 128 });
    const policy = select('policy', policies, policies[0]);
    let owner, expires;
    const ownerSlot = h('span');
    const expiresSlot = h('span');
    const hint = h('p', { class: 'muted', id: 'self-service-hint' });
    const error = h('p', { class: 'error', role: 'alert' });
    /** Who may own a key of the policy, for a person who does not administer it, each with the limits that then apply. */
    function choices(p) {
      const out = [];
      const grant = selfServiceOf(p);
      if (grant) {
        const me = state.session.user;
        out.push({ value: me, label: 'me (' + me.slice(5) + ')', limits: grant, what: 'Self-service' });
        for (const g of grant.owner_groups) out.push({ value: 'group:' + g, label: 'group ' + g, limits: grant, what: 'Self-service' });
      }
      for (const a of accountsOf(p)) out.push({ value: 'service:' + a.name, label: 'service account ' + a.name, limits: a, what: 'Service account ' + a.name });
      return out;
    }
    function lifetimes(limits) {
      const within = LIFETIMES.filter(l => l[2] < limits.max_lifetime_seconds).map(l => [l[0], l[1]]);
      expires = select('expires_in', within.concat([[limits.max_lifetime, limits.max_lifetime + ' (the most)']]), limits.max_lifetime);
      expiresSlot.replaceChildren(field('Expires', expires));
    }
    function controls() {
      const options = managesKeysOf(policy.value) ? [] : choices(policy.value);
      if (options.length) {
        owner = select('owner', options.map(o => [o.value, o.label]), options[0].value);
        const chosen = () => options.find(o => o.value === owner.value) || options[0];
        const update = () => {
          const c = chosen();
          lifetimes(c.limits);
          hint.textContent = c.what + ': a key of policy ' + policy.value + ' lives at most ' + c.limits.max_lifetime + '; each owner holds at most '
            + c.limits.max_keys + ' active keys of it.';
        };
        owner.addEventListener('change', update);
        ownerSlot.replaceChildren(field('Owner', owner));
        update();
      } else {
        owner = h('input', { name: 'owner', maxlength: 128, placeholder: 'team, person, or service:NAME' });
        expires = select('expires_in', [['', 'never']].concat(LIFETIMES.map(l => [l[0], l[1]])), '');
        hint.textContent = '';
        ownerSlot.replaceChildren(field('Owner', owner));
        expiresSlot.replaceChildren(field('Expires', expires));
      }
    }
    policy.addEventListener('change', controls);
    controls();
    return h('form', {
      class: 'card row', id: 'create-key',
      onsubmit: async e => {
        e.preventDefault();
        error.textContent = '';
        const body = { name: name.value.trim(), policy: policy.value };
        if (owner.value.trim()) body.owner = owner.value.trim();
        if (expires.value) body.expires_in = expires.value;
        try {
          const k = await api('POST', '/admin/keys', body);
          showSecret('Key ' + k.name + ' created', k.secret, () => { location.hash = '#/keys/' + encodeURIComponent(k.id); });
        } catch (err) { error.textContent = err.message; }
      },
    }, h('h2', {}, 'Create a key'), h('div', { class: 'row' }, field('Name', name), field('Policy', policy), ownerSlot, expiresSlot,
      h('button', { type: 'submit' }, 'Create key')), hint, error);
  }

  /** The secret, shown once, with a copy button and the warning that it will not be shown again. */
  function showSecret(title, secret, after) {
    const value = h('div', { class: 'secret', id: 'new-secret', tabindex: 0 }, secret);
    const copied = h('span', { class: 'muted', role: 'status' });
    const d = h('dialog', { 'aria-labelledby': 'secret-title', id: 'secret-dialog' },
      h('h2', { id: 'secret-title' }, title),
      h('p', { class: 'warning' }, 'Copy this secret now: it will not be shown again. Keyguard keeps only its hash.'),
      value,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'copy-secret', onclick: async () => {
          try { await navigator.clipboard.writeText(secret); copied.textContent = 'Copied.'; } catch (e) {
            const r = document.createRange(); r.selectNodeContents(value); getSelection().removeAllRanges(); getSelection().addRange(r);
            copied.textContent = 'Selected: press Ctrl+C to copy.';
          }
        } }, 'Copy'),
        h('button', { type: 'button', class: 'secondary', id: 'close-secret', onclick: () => { d.close(); d.remove(); if (after) after(); } }, 'I have copied it'),
        copied));
    document.body.append(d);
    d.showModal();
  }

  async function keyDetail(root, id) {
    root.append(h('p', {}, h('a', { href: '#/keys' }, '← All keys')));
    let k, u;
    try {
      [k, u] = await Promise.all([api('GET', '/admin/keys/' + encodeURIComponent(id)), api('GET', '/admin/keys/' + encodeURIComponent(id) + '/usage')]);
    } catch (e) { failed(root, e); return; }
    const manage = k.manageable && k.state === 'active';
    const grace = select('grace', [['0s', 'no grace'], ['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days']], '24h');
    root.append(h('h1', {}, 'Key ' + k.name),
      h('div', { class: 'card' }, h('dl', { class: 'kv' },
        h('dt', {}, 'Id'), h('dd', { id: 'key-id' }, k.id),
        h('dt', {}, 'Policy'), h('dd', {}, h('a', { href: '#/policies/' + encodeURIComponent(k.policy) }, k.policy)),
        h('dt', {}, 'Owner'), h('dd', {}, k.owner || '—'),
        h('dt', {}, 'State'), h('dd', {}, h('span', { class: 'pill ' + k.state, id: 'key-state' }, k.state)),
        h('dt', {}, 'Created'), h('dd', {}, when(k.created_at)),
        h('dt', {}, 'Expires'), h('dd', {}, k.expires_at ? when(k.expires_at) : 'never'),
        h('dt', {}, 'Last used'), h('dd', {}, u.last_used_day ? u.last_used_day + ' (UTC day)' : 'not in the last 30 days'),
        h('dt', {}, 'Last 30 days'), h('dd', { id: 'key-30d' }, u.last_30_days.requests + ' requests, ' + usdExact(u.last_30_days.cost_micros))),
      manage ? h('div', { class: 'row' },
        h('button', { type: 'button', class: 'danger', id: 'revoke', onclick: async () => {
          if (!confirm('Revoke key ' + k.name + '? Its next request is refused.')) return;
          try { await api('POST', '/admin/keys/' + encodeURIComponent(k.id) + '/revoke', {}); say('Key ' + k.name + ' revoked.'); render(); } catch (e) { say(e.message); }
        } }, 'Revoke'),
        field('Old secret keeps working for', grace),
        h('button', { type: 'button', class: 'secondary', id: 'rotate', onclick: async () => {
          try {
            const r = await api('POST', '/admin/keys/' + encodeURIComponent(k.id) + '/rotate', { grace: grace.value });
            showSecret('Key ' + k.name + ' rotated', r.secret, render);
          } catch (e) { say(e.message); }
        } }, 'Rotate')) : null));
    const limits = u.limits.filter(l => l.kind === 'limit');
    root.append(h('div', { class: 'card' }, table('Limits (the numbers of the x-ratelimit-* headers)', [
      { label: 'Limit', value: l => l.id },
      { label: 'Scope', value: l => l.scope },
      { label: 'Used', num: true, value: l => l.used },
      { label: 'Limit', num: true, value: l => l.limit },
      { label: 'Remaining', num: true, value: l => l.remaining },
      { label: 'Empty in', num: true, value: l => l.reset },
    ], limits)));
    const budgets = u.limits.filter(l => l.kind === 'budget');
    root.append(h('h2', {}, 'Budgets'));
    if (!budgets.length) root.append(h('p', { class: 'muted' }, 'This key\'s policy sets no budget.'));
    for (const b of budgets) {
      const card = budgetCard(b.scope === 'key' ? 'key ' + k.id : 'policy ' + k.policy, b);
      root.append(card);
      burnDown(card, b, b.scope === 'key' ? { key: k.id } : { policy: k.policy });
    }
  }

  /** Spend so far in the budget's period, day by day and summed, against the cap. */
  async function burnDown(target, b, filter) {
    const from = b.period_start.slice(0, 10);
    const to = daysAgo(0);
    if (from > to) return;
    try {
      const data = await api('GET', '/admin/spend?' + new URLSearchParams(Object.assign({ group_by: 'day', from, to }, filter)));
      const byDay = new Map(data.rows.map(r => [r.day, r.cost_micros]));
      const xs = [], used = [], cap = [];
      let acc = 0;
      for (let d = new Date(from + 'T00:00:00Z'); isoDay(d) <= to; d.setUTCDate(d.getUTCDate() + 1)) {
        acc += byDay.get(isoDay(d)) || 0;
        xs.push(d.getTime() / 1000); used.push(acc); cap.push(b.cap_micros);
      }
      const box = h('div', { class: 'chart' });
      target.append(box);
      if (typeof uPlot === 'undefined') return;
      new uPlot({
        title: 'Burn-down of ' + b.id + ' (UTC days)', width: Math.max(320, Math.min(1100, target.clientWidth - 40)), height: 200,
        scales: { x: { time: true } },
        axes: [{}, { values: (s, t) => t.map(axisUsd), size: 80 }],
        series: [{}, { label: 'spent', stroke: PALETTE[0], fill: PALETTE[0] + '33', value: (s, v) => v === null ? '' : usd(v) },
          { label: b.hard ? 'cap' : 'soft cap', stroke: PALETTE[3], dash: [6, 4], value: (s, v) => v === null ? '' : usd(v) }],
      }, [xs, used, cap], box);
    } catch (e) { /* the card already says the numbers */ }
  }

  // ---- Policies ------------------------------------------------------------------------

  async function policiesPage(root, name) {
    if (name) return policyDetail(root, name);
    root.append(h('h1', {}, 'Policies'));
    let p;
    try { p = await api('GET', '/admin/policies'); } catch (e) { failed(root, e); return; }
    const reload = state.session.admin ? h('button', { type: 'button', id: 'reload', onclick: async () => {
      try { const r = await api('POST', '/admin/policies/reload', {}); say(r.reloaded ? 'Reloaded: revision ' + r.revision : 'Nothing changed: revision ' + r.revision); } catch (e) { say(e.message); }
      render();
    } }, 'Reload policies') : null;
    root.append(h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'Serving revision'), h('dd', { id: 'revision' }, p.revision),
      h('dt', {}, 'Loaded'), h('dd', {}, when(p.loaded_at)),
      h('dt', {}, 'Reloads'), h('dd', {}, p.reloads + ' (' + p.reload_failures + ' refused)'),
      h('dt', {}, 'Last reload'), h('dd', {}, p.last_error ? h('span', { class: 'pill bad' }, 'failed at ' + when(p.last_error.at)) : h('span', { class: 'pill ok' }, 'ok'))),
      p.last_error ? h('pre', { id: 'last-error' }, p.last_error.report) : null,
      reload ? h('div', { class: 'row' }, reload) : null));
    const visible = p.policies.filter(n => readsEverything() || state.session.team_policies.includes(n) || selfServiceOf(n));
    root.append(h('div', { class: 'card' }, table('Policies of revision ' + p.revision, [
      { label: 'Policy', value: n => h('a', { href: '#/policies/' + encodeURIComponent(n) }, n) },
    ], visible)));
    root.append(h('div', { class: 'card' }, table('Models (declared by the platform team)', [
      { label: 'Model', value: m => m.id }, { label: 'Provider', value: m => m.provider }, { label: 'Type', value: m => m.type },
    ], p.models)));
  }

  async function policyDetail(root, name) {
    root.append(h('p', {}, h('a', { href: '#/policies' }, '← All policies')));
    let p;
    try { p = await api('GET', '/admin/policies/' + encodeURIComponent(name)); } catch (e) { failed(root, e); return; }
    root.append(h('h1', {}, 'Policy ' + p.name),
      h('div', { class: 'grid2' },
        h('div', { class: 'card' }, h('dl', { class: 'kv' },
          h('dt', {}, 'Revision'), h('dd', {}, p.revision),
          h('dt', {}, 'Models'), h('dd', {}, p.models.join(', ') || 'none'),
          h('dt', {}, 'Data ceiling'), h('dd', {}, p.data_ceiling + ' (above it: ' + p.data_action + ')'),
          h('dt', {}, 'Budget zone'), h('dd', {}, p.zone),
          h('dt', {}, 'Forbid rules'), h('dd', {}, p.forbid_rules.join(', ') || 'none'),
          h('dt', {}, 'Audit tags'), h('dd', {}, Object.entries(p.audit_tags).map(([k, v]) => k + '=' + v).join(', ') || 'none'))),
        h('div', { class: 'card' },
          table('Limits', [{ label: 'Limit', value: l => l.id }, { label: 'Amount', num: true, value: l => l.amount }], p.limits),
          table('Budgets', [{ label: 'Budget', value: b => b.id }, { label: 'Cap', num: true, value: b => '$' + b.cap_usd },
            { label: 'Kind', value: b => b.hard ? 'hard' : 'soft' + (b.warn_percent ? ', warns at ' + b.warn_percent + '%' : '') }], p.budgets))),
      h('div', { class: 'card' }, table('Inline tests (a revision serves only when all pass)', [
        { label: 'Test', value: t => t.name }, { label: 'Result', value: t => h('span', { class: 'pill ok' }, t.result) }], p.tests)),
      p.source ? h('div', { class: 'card' }, h('h2', {}, p.file), h('pre', { id: 'policy-source' }, p.source)) : null);
  }

  // ---- Live ----------------------------------------------------------------------------

  /** Prometheus text format: name{labels} value, for the families the console reads. */
  function parseMetrics(text) {
    const out = [];
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/);
      if (!m) continue;
      const labels = {};
      if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
      out.push({ name: m[1], labels, value: Number(m[3]) });
    }
    return out;
  }

  function quantile(buckets, q) {
    const total = buckets.length ? buckets[buckets.length - 1].count : 0;
    if (!total) return null;
    for (const b of buckets) if (b.count >= q * total) return b.le;
    return Infinity;
  }

  function histogramDelta(now, before, name) {
    const get = s => s.filter(x => x.name === name + '_bucket').map(x => ({ le: x.labels.le === '+Inf' ? Infinity : Number(x.labels.le), count: x.value }));
    const a = get(now), b = before ? get(before) : [];
    const prev = new Map(b.map(x => [x.le, x.count]));
    return a.map(x => ({ le: x.le, count: x.count - (prev.get(x.le) || 0) })).sort((x, y) => x.le - y.le);
  }

  const ms = s => s === null ? '—' : s === Infinity ? '> largest bucket' : (s * 1000 < 1 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(1)) + ' ms';

  function livePage(root) {
    root.append(h('h1', {}, 'Live'));
    if (!readsEverything()) {
      root.append(h('p', { class: 'muted' }, 'Live traffic covers every team\'s policies: admins and auditors see it.'));
      return;
    }
    const chart = h('div', { id: 'live-chart', class: 'chart' });
    const numbers = h('div', { id: 'live-numbers', class: 'grid2' });
    root.append(h('p', { class: 'muted' }, 'From /metrics, every 5 seconds: rates over the last interval.'), h('div', { class: 'card' }, chart), numbers);
    const history = { t: [], byOutcome: new Map() };
    let before = null, beforeAt = 0, plot = null;
    async function tick() {
      let text;
      try { text = await api('GET', '/metrics'); } catch (e) { failed(numbers, e); return; }
      const now = parseMetrics(text), at = Date.now() / 1000;
      const outcomes = new Map();
      for (const s of now) if (s.name === 'keyguard_requests_total') outcomes.set(s.labels.outcome, (outcomes.get(s.labels.outcome) || 0) + s.value);
      const inFlight = (now.find(s => s.name === 'keyguard_requests_in_flight') || { value: 0 }).value;
      if (before) {
        const was = new Map();
        for (const s of before) if (s.name === 'keyguard_requests_total') was.set(s.labels.outcome, (was.get(s.labels.outcome) || 0) + s.value);
        const dt = at - beforeAt;
        history.t.push(at);
        for (const o of new Set([...outcomes.keys(), ...history.byOutcome.keys()])) {
          if (!history.byOutcome.has(o)) history.byOutcome.set(o, new Array(history.t.length - 1).fill(0));
          history.byOutcome.get(o).push(Math.max(0, ((outcomes.get(o) || 0) - (was.get(o) || 0)) / dt));
        }
        if (history.t.length > 60) { history.t.shift(); for (const v of history.byOutcome.values()) v.shift(); }
        const gw = histogramDelta(now, before, 'keyguard_gateway_seconds');
        const up = histogramDelta(now, before, 'keyguard_upstream_seconds');
        const rates = [...history.byOutcome.entries()].map(([o, v]) => ({ outcome: o, rate: v[v.length - 1] }));
        numbers.replaceChildren(
          h('div', { class: 'card' }, table('Requests per second by outcome (refusals by reason)', [
            { label: 'Outcome', value: r => h('span', { class: 'pill ' + (r.outcome === 'ok' ? 'ok' : 'bad') }, r.outcome) },
            { label: 'Per second', num: true, value: r => r.rate.toFixed(2) }], rates),
            h('p', {}, 'In flight (streams included): ', h('strong', { id: 'in-flight' }, String(inFlight)))),
          h('div', { class: 'card' }, table('Latency over the last interval', [
            { label: 'Part', value: r => r.part }, { label: 'p50', num: true, value: r => ms(r.p50) },
            { label: 'p90', num: true, value: r => ms(r.p90) }, { label: 'p99', num: true, value: r => ms(r.p99) }],
          [['gateway', gw], ['upstream', up]].map(([part, b]) => ({ part, p50: quantile(b, .5), p90: quantile(b, .9), p99: quantile(b, .99) })))));
        const series = [...history.byOutcome.entries()].map(([o, v]) => ({ label: o, values: v }));
        if (!plot || plot.series.length !== series.length + 1) {
          chart.replaceChildren();
          plot = stackedChart(chart, 'Requests per second, stacked by outcome', history.t.slice(), series, {});
        } else {
          const stacked = []; const acc = new Array(history.t.length).fill(0);
          for (const s of series) { s.values.forEach((v, i) => acc[i] += v); stacked.push(acc.slice()); }
          plot.setData([history.t.slice()].concat(stacked.reverse()));
        }
      } else {
        numbers.replaceChildren(h('p', { class: 'muted' }, 'Measuring…'));
      }
      before = now; beforeAt = at;
    }
    tick();
    state.timers.push(setInterval(tick, 5000));
  }

  // ---- Audit ---------------------------------------------------------------------------

  function auditPage(root, decision) {
    root.append(h('h1', {}, 'Audit'));
    const key = h('input', { name: 'key', placeholder: 'key id' });
    const policy = h('input', { name: 'policy' });
    const dec = h('input', { name: 'decision', placeholder: 'dec_…', value: decision || '' });
    const outcome = select('outcome', [['', 'any'], 'ok', 'forbidden', 'model_not_allowed', 'rate_limit', 'budget', 'data_class', 'bad_request', 'upstream_error', 'unauthorized'], '');
    const since = h('input', { name: 'since', type: 'datetime-local' });
    const until = h('input', { name: 'until', type: 'datetime-local' });
    const results = h('div', { id: 'audit-results', class: 'card' });
    const detail = h('div', { id: 'audit-detail' });
    root.append(h('form', { class: 'card row', role: 'search', onsubmit: e => { e.preventDefault(); search(); } },
      field('Key', key), field('Policy', policy), field('Decision id', dec), field('Outcome', outcome),
      field('From (your time)', since), field('Until (your time)', until), h('button', { type: 'submit' }, 'Search')), results, detail);

    async function search() {
      const q = new URLSearchParams({ limit: '200' });
      if (key.value.trim()) q.set('key', key.value.trim());
      if (policy.value.trim()) q.set('policy', policy.value.trim());
      if (dec.value.trim()) q.set('decision', dec.value.trim());
      if (outcome.value) q.set('outcome', outcome.value);
      if (since.value) q.set('since', new Date(since.value).toISOString());
      if (until.value) q.set('until', new Date(until.value).toISOString());
      try {
        const events = await api('GET', '/admin/audit?' + q);
        events.reverse();
        results.replaceChildren(table(events.length + ' events, newest first' + (events.length === 200 ? ' (the first 200)' : ''), [
          { label: 'Time', value: e => when(e.time) },
          { label: 'Type', value: e => e.type },
          { label: 'Decision', value: e => e.decision_id || e.action || '' },
          { label: 'Key', value: e => e.key_id || e.target || '' },
          { label: 'Policy', value: e => e.policy || '' },
          { label: 'Model', value: e => e.model || '' },
          { label: 'Outcome', value: e => e.outcome ? h('span', { class: 'pill ' + (e.outcome === 'ok' ? 'ok' : 'bad') }, e.outcome) : (e.result || '') },
          { label: 'Cost', num: true, value: e => e.cost_micros ? usdExact(e.cost_micros) : '' },
        ], events, open));
      } catch (e) { failed(results, e); }
    }

    async function open(e) {
      detail.replaceChildren(h('div', { class: 'card' }, h('h2', { id: 'event-title' }, e.decision_id ? 'Decision ' + e.decision_id : 'Event'),
        h('pre', { id: 'event-json' }, JSON.stringify(e, null, 2))));
      if (e.type === 'decision' && e.decision_id && e.input) {
        const box = h('pre', { id: 'explain' }, 'Explaining…');
        detail.firstChild.append(h('h2', {}, 'Why (as keyguard explain prints it)'), box);
        try { box.textContent = await api('GET', '/admin/audit/explain?decision=' + encodeURIComponent(e.decision_id)); } catch (err) { box.textContent = err.message; }
      }
      detail.scrollIntoView({ block: 'start' });
    }

    search();
  }

  start();
})();
