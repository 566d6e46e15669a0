// The demo page: vanilla JS, no build step. Live state arrives every 500 ms over
// Server-Sent Events (/api/stream); every button calls the JSON API.
'use strict';

const GROUPS = ['email', 'billing', 'analytics'];
const COLORS = { email: 'var(--email)', billing: 'var(--billing)', analytics: 'var(--analytics)' };
const STATE_LABEL = { failed: 'retrying' };

const ui = {
  snap: null,
  pendingTab: 'email',
  deadTab: 'email',
  drawerId: null,
  dashboard: null, // where the server mounts the operations dashboard ('/dashboard/'), if it does
  touched: new Map(), // input element -> time the user last changed it
};

const $ = (sel, root = document) => root.querySelector(sel);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const shortId = (id) => (id && id.length > 18 ? `${id.slice(0, 8)}…${id.slice(-7)}` : id || '–');

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}
function clock(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}
function dur(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)}m ${Math.round((ms % 60000) / 1000)}s`;
}

// ---------------------------------------------------------------- API

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (method !== 'GET') {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(path, init);
  let data;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

function toast(text, kind = 'info') {
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.textContent = text;
  $('#toasts').appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 6000 : 3000);
}

async function act(fn, okText) {
  try {
    const r = await fn();
    if (okText) toast(typeof okText === 'function' ? okText(r) : okText);
    return r;
  } catch (err) {
    toast(err.message, 'error');
    return undefined;
  }
}

// ---------------------------------------------------------------- keyed table rows

// Update rows in place, cell by cell, so a button under the mouse is never replaced
// between mousedown and mouseup while the table refreshes twice a second.
function syncRows(tbody, items, keyOf, cellsOf, rowClass) {
  const existing = new Map();
  for (const tr of tbody.children) existing.set(tr.dataset.key, tr);
  const keep = new Set();
  items.forEach((item, index) => {
    const key = keyOf(item);
    keep.add(key);
    let tr = existing.get(key);
    const cells = cellsOf(item);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.key = key;
      tr._cells = [];
      for (let i = 0; i < cells.length; i++) tr.appendChild(document.createElement('td'));
    }
    cells.forEach((html, i) => {
      const c = typeof html === 'string' ? { html } : html;
      if (tr._cells[i] !== c.html) { tr.children[i].innerHTML = c.html; tr._cells[i] = c.html; }
      const cls = c.cls || '';
      if (tr.children[i].className !== cls) tr.children[i].className = cls;
    });
    const cls = rowClass ? rowClass(item) : '';
    if (tr.className !== cls) tr.className = cls;
    if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
  });
  for (const [key, tr] of existing) if (!keep.has(key)) tr.remove();
}

// ---------------------------------------------------------------- group cards

function control(g, name, label, opts) {
  const { min, max, step, scale = 1, suffix = '' } = opts;
  return `
    <label for="${g}-${name}-range">${label}</label>
    <input type="range" id="${g}-${name}-range" data-control="${name}" data-kind="range" min="${min}" max="${max}" step="${step}" data-scale="${scale}">
    <span class="unit"><input type="number" data-control="${name}" data-kind="number" data-testid="${g}-${name}" min="${min}" max="${max}" step="${step}" data-scale="${scale}" title="${esc(label)}${suffix ? ` (${suffix})` : ''}"></span>`;
}

function buildCard(g) {
  const el = document.createElement('section');
  el.className = 'card gcard';
  el.dataset.group = g;
  el.dataset.testid = `group-${g}`;
  el.style.setProperty('--gc', COLORS[g]);
  el.innerHTML = `
    <div class="ghead">
      <div>
        <div class="gname"><span class="swatch"></span>${g}</div>
        <div class="gdesc" data-field="description"></div>
      </div>
      <div class="gstate">
        <span class="badge armed" data-field="armed" hidden></span>
        <span class="badge" data-field="state"></span>
        <button class="btn small" data-action="toggle" data-testid="${g}-toggle">Stop</button>
      </div>
    </div>
    <div class="progress">
      <div class="progress-top"><span><b data-stat="processed" data-testid="${g}-processed">0</b> of <span data-field="published">0</span> events succeeded<span class="redeliveries" data-field="redeliveries" data-testid="${g}-redeliveries" title="deliveries beyond each event's first: retries after a failure, takeovers of a crashed worker's event, replays"></span></span><span data-field="pct">–</span></div>
      <div class="bar"><i class="ok" data-field="bar-ok" style="width:0"></i><i class="dead" data-field="bar-dead" style="width:0"></i></div>
    </div>
    <div class="stats">
      <div class="stat wide"><div class="txt"><div class="v" data-stat="throughput">0</div><div class="k">events / s</div></div><svg class="spark" data-field="spark" viewBox="0 0 60 30" preserveAspectRatio="none"></svg></div>
      <div class="stat" title="entries not yet delivered to this group"><div class="v" data-stat="lag" data-testid="${g}-lag">0</div><div class="k">lag</div></div>
      <div class="stat" title="delivered, not yet acknowledged"><div class="v" data-stat="pending" data-testid="${g}-pending">0</div><div class="k">pending</div></div>
      <div class="stat" title="failed attempts that were retried with backoff"><div class="v" data-stat="retries" data-testid="${g}-retries">0</div><div class="k">retries</div></div>
      <div class="stat" title="retries waiting for their backoff"><div class="v" data-stat="retrying">0</div><div class="k">in backoff</div></div>
      <div class="stat" title="dead letters of this group now"><div class="v" data-stat="deadLetters" data-testid="${g}-dead">0</div><div class="k">dead letters</div></div>
      <div class="stat" title="consumers Redis knows in this group: created at their first delivery; a crashed worker’s stays until its entry is reclaimed"><div class="v" data-stat="consumers" data-testid="${g}-consumers">0</div><div class="k">consumers</div></div>
      <div class="stat" title="workers that froze mid-event"><div class="v" data-stat="crashes" data-testid="${g}-crashes">0</div><div class="k">crashes</div></div>
      <div class="stat" title="events a crashed worker held that another worker reclaimed and took over"><div class="v" data-stat="takeovers" data-testid="${g}-recovered">0</div><div class="k">recovered</div></div>
      <div class="stat wide" title="every entry the library took with XAUTOCLAIM: from crashed workers, and entries a busy worker handed back (it read two streams with one free slot)"><div class="txt"><div class="v" data-stat="reclaimed" data-testid="${g}-reclaimed">0</div><div class="k">reclaimed (XAUTOCLAIM)</div></div></div>
    </div>
    <div class="lanes" data-field="lanes" data-testid="${g}-lanes" title="this group's backlog in each priority lane: not yet delivered (lag) plus delivered and not yet acknowledged (pending); high lane first"></div>
    <div class="workers" data-field="workers"></div>
    <div class="controls">
      ${control(g, 'workers', 'Workers', { min: 0, max: 16, step: 1 })}
      ${control(g, 'latencyMs', 'Latency (ms)', { min: 0, max: 2000, step: 10, suffix: 'ms' })}
      ${control(g, 'failureRate', 'Failure %', { min: 0, max: 100, step: 1, scale: 100, suffix: '%' })}
      ${control(g, 'hangRate', 'Hang / crash %', { min: 0, max: 100, step: 1, scale: 100, suffix: '%' })}
      ${control(g, 'maxAttempts', 'Max attempts', { min: 1, max: 20, step: 1 })}
      <div class="crash-row">
        <span class="hint grow">Crash the next deliveries</span>
        <input type="number" min="1" max="100" value="1" data-field="crash-n" data-testid="${g}-crash-count">
        <button class="btn small danger-ghost" data-action="crash" data-testid="${g}-crash">Crash next</button>
      </div>
    </div>`;
  // The number box may go past the slider (latency up to 10 s).
  $('[data-control="latencyMs"][data-kind="number"]', el).max = '10000';

  el.addEventListener('input', (e) => {
    const t = e.target;
    if (!t.dataset.control) return;
    ui.touched.set(t, Date.now());
    // Mirror slider and number box while the user moves one of them.
    for (const other of el.querySelectorAll(`[data-control="${t.dataset.control}"]`)) if (other !== t) { other.value = t.value; ui.touched.set(other, Date.now()); }
  });
  el.addEventListener('change', (e) => {
    const t = e.target;
    if (!t.dataset.control) return;
    const name = t.dataset.control;
    const scale = Number(t.dataset.scale || 1);
    let v = Number(t.value);
    if (!Number.isFinite(v)) return;
    const value = scale === 1 ? Math.round(v) : Math.round(v) / scale;
    ui.touched.set(t, Date.now());
    act(() => api('POST', `/api/groups/${g}`, { [name]: value }));
  });
  $('[data-action="toggle"]', el).addEventListener('click', () => {
    const running = ui.snap && ui.snap.groups.find((x) => x.name === g)?.settings.running;
    act(() => api('POST', `/api/groups/${g}/${running ? 'stop' : 'start'}`), running ? `${g} stopping` : `${g} starting`);
  });
  $('[data-action="crash"]', el).addEventListener('click', () => {
    const n = Number($('[data-field="crash-n"]', el).value) || 1;
    act(() => api('POST', `/api/groups/${g}/crash`, { count: n }), `${g}: the next ${n} deliver${n === 1 ? 'y' : 'ies'} will crash their worker`);
  });
  return el;
}

function sparkline(svg, series) {
  const max = Math.max(1, ...series);
  const n = series.length;
  const pts = series.map((v, i) => `${((i / (n - 1)) * 60).toFixed(2)},${(28 - (v / max) * 26).toFixed(2)}`);
  svg.innerHTML = `<path d="M0,30 L${pts.join(' L')} L60,30 Z"></path><polyline points="${pts.join(' ')}"></polyline>`;
}

function setText(root, sel, value) {
  const el = $(sel, root);
  const s = String(value);
  if (el && el.textContent !== s) el.textContent = s;
}

function renderGroup(g, published) {
  let el = document.querySelector(`.gcard[data-group="${g.name}"]`);
  if (!el) { el = buildCard(g.name); $('#groups').appendChild(el); }
  const s = g.stats;
  el.classList.toggle('stopped', !g.settings.running);
  setText(el, '[data-field="description"]', g.description);
  const state = $('[data-field="state"]', el);
  state.className = `badge ${g.settings.running ? 'running' : 'stopped'}`;
  setText(el, '[data-field="state"]', g.settings.running ? `running · ${g.settings.workers} worker${g.settings.workers === 1 ? '' : 's'}` : 'stopped');
  setText(el, '[data-action="toggle"]', g.settings.running ? 'Stop' : 'Start');
  const armed = $('[data-field="armed"]', el);
  armed.hidden = g.crashNext === 0;
  setText(el, '[data-field="armed"]', `${g.crashNext} crash${g.crashNext === 1 ? '' : 'es'} armed`);

  for (const k of ['processed', 'lag', 'pending', 'retries', 'retrying', 'deadLetters', 'consumers', 'crashes', 'takeovers', 'reclaimed']) setText(el, `[data-stat="${k}"]`, fmtInt(s[k]));
  setText(el, '[data-stat="throughput"]', s.throughput.toFixed(1));
  setText(el, '[data-field="published"]', fmtInt(published));
  const done = published > 0 ? s.processed / published : 0;
  const dead = published > 0 ? Math.min(1 - done, s.deadLetters / published) : 0;
  // Events, not deliveries: a retried event counts once, its extra deliveries are shown apart.
  setText(el, '[data-field="pct"]', published > 0 ? `${Math.min(100, Math.floor(done * 100))}%` : '–');
  setText(el, '[data-field="redeliveries"]', s.redeliveries > 0 ? ` · ${fmtInt(s.redeliveries)} redeliver${s.redeliveries === 1 ? 'y' : 'ies'}` : '');
  $('[data-field="bar-ok"]', el).style.width = `${Math.min(100, done * 100)}%`;
  $('[data-field="bar-dead"]', el).style.width = `${Math.max(0, dead * 100)}%`;
  $('[data-stat="retries"]', el).parentElement.classList.toggle('warn', s.retries > 0);
  $('[data-stat="deadLetters"]', el).parentElement.classList.toggle('bad', s.deadLetters > 0);
  $('[data-stat="crashes"]', el).parentElement.classList.toggle('bad', s.crashes > 0);
  $('[data-stat="takeovers"]', el).parentElement.classList.toggle('good', s.takeovers > 0);
  sparkline($('[data-field="spark"]', el), g.series);

  const lanesEl = $('[data-field="lanes"]', el);
  const lhtml = (s.lanes || []).length === 0 ? '' : `<span class="k">backlog by lane</span>${s.lanes.map((l) =>
    `<span class="lane lane-${esc(l.lane)}${l.backlog > 0 ? ' busy' : ''}" data-lane="${esc(l.lane)}" title="${esc(l.lane)}: lag ${l.lag === null ? '?' : fmtInt(l.lag)}, pending ${fmtInt(l.pending)}">${esc(l.lane)} <b>${l.backlog === null ? '?' : fmtInt(l.backlog)}</b></span>`).join('')}`;
  if (lanesEl._html !== lhtml) { lanesEl.innerHTML = lhtml; lanesEl._html = lhtml; }

  const workersEl = $('[data-field="workers"]', el);
  const whtml = g.workers.length === 0
    ? `<span class="no-workers">${g.settings.running ? 'no workers: events wait (lag grows)' : 'stopped: events wait in the stream'}</span>`
    : g.workers.map((w) => {
      const title = w.state === 'crashed' ? `${w.name} crashed holding ${w.current}: reclaimed after the visibility timeout`
        : w.state === 'busy' ? `${w.name} handling ${w.current} · ${w.processed} done` : `${w.name} ${w.state} · ${w.processed} done`;
      return `<span class="worker ${w.state}" title="${esc(title)}">${esc(w.name.slice(g.name.length + 1))}${w.state === 'crashed' ? ' ✝' : ''}</span>`;
    }).join('');
  if (workersEl._html !== whtml) { workersEl.innerHTML = whtml; workersEl._html = whtml; }

  // Knob values from the server, unless the user is editing that input right now.
  for (const input of el.querySelectorAll('[data-control]')) {
    if (document.activeElement === input) continue;
    if (Date.now() - (ui.touched.get(input) || 0) < 1500) continue;
    const scale = Number(input.dataset.scale || 1);
    const v = String(Math.round(g.settings[input.dataset.control] * scale));
    if (input.value !== v) input.value = v;
  }
}

// ---------------------------------------------------------------- tables

function pill(state, attempts) {
  const label = STATE_LABEL[state] || state;
  const n = attempts > 1 ? ` <span class="n">×${attempts}</span>` : '';
  return `<span class="pill s-${esc(state)}" data-state="${esc(state)}">${esc(label)}${n}</span>`;
}

function renderEvents(snap) {
  const body = $('#events-body');
  $('#events-empty').hidden = snap.events.length > 0;
  syncRows(body, snap.events, (r) => r.signupId, (r) => [
    `<span class="mono">${esc(r.signupId)}</span><span class="kind ${esc(r.kind)}">${esc(r.kind)}</span>${r.priority && r.priority !== 'normal' ? `<span class="kind lane-${esc(r.priority)}" data-testid="event-lane">${esc(r.priority)}</span>` : ''}`,
    r.eventId ? `<span class="mono">${esc(r.eventId)}</span>` : `<span class="sub">delayed · due ${r.dueAt ? clock(r.dueAt) : '?'}</span>`,
    `<span class="sub">${ago(r.publishedAt)}</span>`,
    ...GROUPS.map((g) => { const s = r.groups[g]; return s ? pill(s.state, s.attempts) : '<span class="sub">–</span>'; }),
  ], (r) => (r.eventId && r.eventId === ui.drawerId ? 'selected' : ''));
  for (const tr of body.children) {
    const row = snap.events.find((r) => r.signupId === tr.dataset.key);
    tr.dataset.id = (row && (row.eventId || row.delayedId)) || '';
  }
}

function tabs(container, current, counts, onPick) {
  const html = GROUPS.map((g) => `<button class="tab ${g === current ? 'active' : ''}" data-tab="${g}" style="--gc:${COLORS[g]}">${g}<span class="count">${fmtInt(counts[g])}</span></button>`).join('');
  if (container._html !== html) {
    container.innerHTML = html;
    container._html = html;
  }
  container.onclick = (e) => { const b = e.target.closest('[data-tab]'); if (b) onPick(b.dataset.tab); };
}

function renderPending(snap) {
  const counts = Object.fromEntries(snap.groups.map((g) => [g.name, g.stats.pending]));
  tabs($('#pending-tabs'), ui.pendingTab, counts, (g) => { ui.pendingTab = g; render(); });
  const g = snap.groups.find((x) => x.name === ui.pendingTab);
  const rows = g ? g.pending : [];
  const vt = snap.visibilityTimeoutMs;
  $('#pending-empty').hidden = rows.length > 0;
  const stuck = rows.filter((r) => r.owner !== 'live').length;
  $('#reclaim-stuck').disabled = stuck === 0;
  $('#reclaim-stuck').textContent = stuck > 0 ? `Reclaim stuck now (${stuck})` : 'Reclaim stuck now';
  $('#pending-hint').textContent = g && g.stats.pending > rows.length ? `oldest ${rows.length} of ${fmtInt(g.stats.pending)} (XPENDING)` : 'delivered, not yet acknowledged (XPENDING)';
  syncRows($('#pending-body'), rows, (r) => `${r.source}:${r.id}`, (r) => {
    const pct = Math.min(100, (r.idleMs / vt) * 100);
    const expired = r.idleMs >= vt;
    const label = expired ? 'reclaimable now' : `reclaim in ${dur(r.reclaimInMs)}`;
    // An entry handed back for reclaim (by a Reclaim button, or by a worker that read more than
    // it had free slots) is marked idle for a day or more, so the next sweep takes it.
    const released = r.idleMs >= 86400000;
    return [
      `<span class="mono" title="entry ${esc(r.id)}">${esc(shortId(r.eventId))}</span>${r.source === 'redelivery' ? ' <span class="tag retry" title="a retry, in the group\'s redelivery stream">retry</span>' : ''}`,
      `<span class="owner">${esc(r.consumer)} <span class="tag ${r.owner}">${r.owner === 'live' ? 'live' : r.owner === 'crashed' ? 'crashed' : 'gone'}</span></span>`,
      { html: `<div class="t">${released ? 'handed back · reclaimable now' : `${dur(r.idleMs)}${r.owner === 'live' ? '' : ` · ${label}`}`}</div><div class="meter"><i style="width:${pct.toFixed(1)}%"></i></div>`, cls: `idlecell ${expired ? 'expired' : ''}` },
      `<span class="mono">${r.deliveries}</span>`,
      `<button class="btn tiny" data-action="reclaim" data-id="${esc(r.id)}" title="Reclaim now: the next sweep of a live worker takes it">Reclaim</button>`,
    ];
  }, (r) => `owner-${r.owner}`);
}

function renderDead(snap) {
  const counts = Object.fromEntries(snap.groups.map((g) => [g.name, g.stats.deadLetters]));
  tabs($('#dead-tabs'), ui.deadTab, counts, (g) => { ui.deadTab = g; render(); });
  const g = snap.groups.find((x) => x.name === ui.deadTab);
  const rows = g ? g.deadLetters : [];
  $('#dead-empty').hidden = rows.length > 0;
  $('#replay-all').disabled = rows.length === 0;
  $('#purge-all').disabled = rows.length === 0;
  $('#dead-hint').textContent = g && g.stats.deadLetters > rows.length ? `oldest ${rows.length} of ${fmtInt(g.stats.deadLetters)}` : 'gave up after max attempts, or on request';
  syncRows($('#dead-body'), rows, (r) => r.deadLetterId, (r) => [
    `<span class="mono">${esc(shortId(r.id))}</span><div class="sub">${esc(r.signupId || '')} ${r.plan ? `· ${esc(r.plan)}` : ''}</div>`,
    { html: `<span class="tag">${esc(r.reason)}</span> ${esc(r.error)}`, cls: 'err' },
    `<span class="mono">${r.attempts}</span>`,
    `<span class="btn-row"><button class="btn tiny" data-action="replay" data-id="${esc(r.deadLetterId)}">Replay</button><button class="btn tiny danger-ghost" data-action="purge" data-id="${esc(r.deadLetterId)}">Purge</button></span>`,
  ]);
}

function renderActivity(snap) {
  const list = $('#activity');
  const html = snap.activity.map((a) => `<li><span class="time">${clock(a.at)}</span><span class="k ${esc(a.kind)}">${esc(a.kind)}</span><span>${esc(a.text)}${a.count > 1 ? ` <span class="x">×${a.count}</span>` : ''}</span></li>`).join('')
    || '<li><span class="x">Nothing yet. Publish some signups, then turn the knobs.</span></li>';
  if (list._html !== html) { list.innerHTML = html; list._html = html; }
}

function render() {
  const snap = ui.snap;
  if (!snap) return;
  $('#meta').innerHTML = `<b>${esc(snap.redis)}</b> · prefix <b>${esc(snap.prefix)}</b> · topic <b>${esc(snap.topic)}</b>`;
  setText(document, '#t-published', fmtInt(snap.totals.published));
  setText(document, '#t-lanes', (snap.totals.lanes || []).map((l) => `${l.lane} ${fmtInt(l.length)}`).join(' · '));
  setText(document, '#t-stream', fmtInt(snap.totals.streamLength));
  setText(document, '#t-delayed', fmtInt(snap.totals.delayed));
  setText(document, '#t-vt', `${snap.visibilityTimeoutMs / 1000} s`);
  for (const g of snap.groups) renderGroup(g, snap.totals.published);
  renderEvents(snap);
  renderPending(snap);
  renderDead(snap);
  renderActivity(snap);
  renderOrders(snap);
}

/** The partitioned topic and its ordered group: per order, its updates' sequence numbers in the order they were handled. */
function renderOrders(snap) {
  const o = snap.orders;
  if (!o) return;
  setText(document, '#orders-published', fmtInt(o.published));
  setText(document, '#orders-handled', fmtInt(o.handled));
  setText(document, '#orders-partitions', o.partitionLengths.map((n, i) => `p${i}: ${n}`).join(' · '));
  $('#orders-empty').hidden = o.keys.length > 0;
  const body = $('#orders-body');
  const html = o.keys.map((k) => `<tr data-order="${esc(k.orderId)}"><td class="mono">${esc(k.orderId)}</td><td>p${esc(String(k.partition))}</td><td>${fmtInt(k.published)}</td>`
    + `<td class="mono" data-field="handled">${k.handled.length ? esc(k.handled.join(' → ')) : '<span class="sub">–</span>'}</td><td>${fmtInt(k.retries)}</td>`
    + `<td data-field="in-order">${k.inOrder && !k.overlapped ? '<span class="pill s-succeeded">✓ in order</span>' : '<span class="pill s-dead">out of order</span>'}</td></tr>`).join('');
  if (body._html !== html) { body.innerHTML = html; body._html = html; }
}

// ---------------------------------------------------------------- drawer

async function openDrawer(id) {
  if (!id) return;
  ui.drawerId = id;
  $('#drawer').classList.add('open');
  $('#drawer').setAttribute('aria-hidden', 'false');
  $('#scrim').classList.add('open');
  $('#drawer-title').textContent = id;
  $('#drawer-body').innerHTML = '<div class="empty">loading…</div>';
  await refreshDrawer();
}

function closeDrawer() {
  ui.drawerId = null;
  $('#drawer').classList.remove('open');
  $('#drawer').setAttribute('aria-hidden', 'true');
  $('#scrim').classList.remove('open');
}

async function refreshDrawer() {
  const id = ui.drawerId;
  if (!id) return;
  let ev;
  try {
    ev = await api('GET', `/api/events/${encodeURIComponent(id)}`);
  } catch (err) {
    if (ui.drawerId === id) $('#drawer-body').innerHTML = `<div class="warnbox">${esc(err.message)}</div>`;
    return;
  }
  if (ui.drawerId !== id) return;
  const t = (ms) => (ms ? `${clock(ms)} <span class="sub">(${ago(ms)})</span>` : '–');
  const groups = GROUPS.filter((g) => ev.groups[g]).concat(Object.keys(ev.groups).filter((g) => !GROUPS.includes(g)));
  $('#drawer-body').innerHTML = `
    <div class="kv">
      <span class="k">published</span><span>${t(ev.publishedAt)}</span>
      <span class="k">in stream</span><span>${ev.inStream ? 'yes' : 'no (trimmed, or still delayed)'}</span>
      ${ev.dueAt ? `<span class="k">due</span><span>${t(ev.dueAt)}</span>` : ''}
    </div>
    <div class="section-title">Status in every group</div>
    ${groups.map((g) => {
      const s = ev.groups[g];
      return `<div class="gstatus" style="--gc:${COLORS[g] || 'var(--accent)'}" data-group-status="${esc(g)}">
        <div class="top"><b>${esc(g)}</b>${pill(s.state, 0)}</div>
        <div class="kv">
          <span class="k">attempts</span><span data-field="attempts">${s.attempts}</span>
          ${s.consumer ? `<span class="k">consumer</span><span class="mono">${esc(s.consumer)}</span>` : ''}
          ${s.deliveries !== null ? `<span class="k">deliveries</span><span>${s.deliveries} · idle ${dur(s.idleMs)}</span>` : ''}
          ${s.updatedAt ? `<span class="k">updated</span><span>${t(s.updatedAt)}</span>` : ''}
          ${s.finishedAt ? `<span class="k">finished</span><span>${t(s.finishedAt)}</span>` : ''}
          ${s.nextAttemptAt ? `<span class="k">next attempt</span><span>${t(s.nextAttemptAt)}</span>` : ''}
          ${s.error ? `<span class="k">${s.state === 'succeeded' ? 'earlier error' : 'last error'}</span><span style="color:#fca5a5">${esc(s.error)}</span>` : ''}
          ${s.deadLetterId ? `<span class="k">dead letter</span><span class="mono">${esc(s.deadLetterId)}</span>` : ''}
          ${s.result !== null && s.result !== undefined ? `<span class="k">result</span><span class="mono">${esc(JSON.stringify(s.result))}</span>` : ''}
        </div>
        ${s.heldByCrashedWorker ? `<div class="warnbox">Held by crashed worker ${esc(s.consumer)}: another worker reclaims it once it has been idle ${ui.snap ? ui.snap.visibilityTimeoutMs / 1000 : 3} s.</div>` : ''}
      </div>`;
    }).join('') || '<div class="empty">no group has seen it yet</div>'}
    ${ui.dashboard ? `<a class="btn small ghost dash-open" data-testid="drawer-dashboard-link" target="_blank" rel="noopener" href="${esc(`${ui.dashboard}#/e/${encodeURIComponent('user.signup')}/${encodeURIComponent(id)}`)}">Open in the operations dashboard ↗</a>` : ''}
    <div class="section-title">Payload</div>
    <pre class="json">${esc(JSON.stringify(ev.payload, null, 2))}</pre>
    ${Object.keys(ev.headers || {}).length ? `<div class="section-title">Headers</div><pre class="json">${esc(JSON.stringify(ev.headers, null, 2))}</pre>` : ''}`;
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('#publish-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const count = Number($('#publish-count').value);
    const kind = $('#publish-kind').value;
    const delaySeconds = Number($('#publish-delay').value) || 0;
    const priority = $('#publish-priority').value;
    act(() => api('POST', '/api/publish', { count, kind, delaySeconds, priority }), (r) => `published ${r.published} ${kind} signup${r.published === 1 ? '' : 's'} to the ${priority} lane${r.delayed ? `, due in ${delaySeconds} s` : ''}`);
  });
  $('#publish-orders').addEventListener('click', () => act(() => api('POST', '/api/orders', { rounds: 1 }), (r) => `published ${r.published} order updates (one per order)`));
  for (const chip of document.querySelectorAll('.presets .chip')) chip.addEventListener('click', () => { $('#publish-count').value = chip.dataset.count; });
  $('#trim').addEventListener('click', () => act(() => api('POST', '/api/trim'), (r) => `trimmed ${r.removed} acknowledged entr${r.removed === 1 ? 'y' : 'ies'}; ${r.length} left`));
  $('#reset').addEventListener('click', () => {
    if (!confirm('Reset: stop all workers, delete every key of the demo and restore default settings?')) return;
    closeDrawer();
    act(() => api('POST', '/api/reset'), 'reset done');
  });
  $('#reclaim-stuck').addEventListener('click', () => act(() => api('POST', `/api/groups/${ui.pendingTab}/reclaim`), (r) => `${r.reclaimed.length} entr${r.reclaimed.length === 1 ? 'y' : 'ies'} released: a live worker takes ${r.reclaimed.length === 1 ? 'it' : 'them'} within a second`));
  $('#pending-body').addEventListener('click', (e) => {
    const b = e.target.closest('[data-action="reclaim"]');
    if (b) act(() => api('POST', `/api/groups/${ui.pendingTab}/reclaim`, { ids: [b.dataset.id] }), 'released for reclaim');
  });
  $('#replay-all').addEventListener('click', () => act(() => api('POST', `/api/groups/${ui.deadTab}/dead-letters/replay`), (r) => `replayed ${r.replayed} to ${ui.deadTab}`));
  $('#purge-all').addEventListener('click', () => {
    const g = ui.snap && ui.snap.groups.find((x) => x.name === ui.deadTab);
    const n = g ? g.stats.deadLetters : 0;
    if (!confirm(`Purge all ${fmtInt(n)} dead letter${n === 1 ? '' : 's'} of ${ui.deadTab}? They are deleted for good: they cannot be replayed afterwards.`)) return;
    act(() => api('POST', `/api/groups/${ui.deadTab}/dead-letters/purge`), (r) => `purged ${r.purged}`);
  });
  $('#dead-body').addEventListener('click', (e) => {
    const b = e.target.closest('[data-action]');
    if (!b) return;
    const action = b.dataset.action;
    act(() => api('POST', `/api/groups/${ui.deadTab}/dead-letters/${action}`, { ids: [b.dataset.id] }), action === 'replay' ? 'replayed' : 'purged');
  });
  $('#events-body').addEventListener('click', (e) => {
    const tr = e.target.closest('tr');
    if (tr && tr.dataset.id) openDrawer(tr.dataset.id);
  });
  $('#drawer-close').addEventListener('click', closeDrawer);
  $('#scrim').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape') closeDrawer(); });
  setInterval(() => { if (ui.drawerId) refreshDrawer(); }, 1000);
}

function connect() {
  const live = $('#live');
  const es = new EventSource('/api/stream');
  es.onopen = () => { live.className = 'live on'; $('#live-text').textContent = 'live'; };
  es.onmessage = (e) => {
    live.className = 'live on';
    $('#live-text').textContent = 'live';
    ui.snap = JSON.parse(e.data);
    document.body.dataset.ready = 'true';
    render();
  };
  es.addEventListener('problem', (e) => { $('#live-text').textContent = JSON.parse(e.data).error; });
  es.onerror = () => { live.className = 'live off'; $('#live-text').textContent = 'reconnecting…'; };
}

/** The operations dashboard of the demo's prefix, when the server mounts it: linked from the header and each event. */
async function findDashboard() {
  try {
    const info = await api('GET', '/api/info');
    if (!info.dashboard) return;
    ui.dashboard = info.dashboard;
    const a = $('#dashboard-link');
    a.href = info.dashboard;
    a.title = `${a.title} (prefix ${info.prefix})`;
    a.hidden = false;
  } catch { /* an older server: no link */ }
}

wire();
connect();
void findDashboard();
