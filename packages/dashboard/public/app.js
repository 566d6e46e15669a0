// streamfan dashboard: a small single-page app over the dashboard's JSON API.
// Every name, payload, header and error from the server is put into the page as TEXT
// (textContent, text nodes, attribute values): this file never parses data as HTML.
'use strict';

(() => {
  const view = document.getElementById('view');
  const crumbs = document.getElementById('crumbs');
  const banner = document.getElementById('banner');
  const toastBox = document.getElementById('toast');
  const liveBadge = document.getElementById('live');
  const liveText = document.getElementById('live-text');
  let meta = { allowActions: false, csrf: '', prefix: '', intervalMs: 2000 };
  let timer = null;
  let lastOverview = null;
  let routeSeq = 0;

  // ---------- DOM helpers (text only) ----------
  /** Build an element: props set as properties/attributes (never HTML), children as text or nodes. */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'onclick' || k === 'onchange' || k === 'onsubmit' || k === 'oninput') el.addEventListener(k.slice(2), v);
      else if (k === 'checked' || k === 'disabled' || k === 'value') el[k] = v;
      else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, ...children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function link(href, text, props) { return h('a', { href, ...props }, text); }
  const enc = encodeURIComponent;

  function fmtNum(n) { return n === null || n === undefined ? '?' : Number(n).toLocaleString('en-US'); }
  /** A group's lag: "≥100" when counted past the cap (servers without XINFO lag, Redis 6.2), "?" when unknown. */
  function fmtLag(g) {
    if (!g || g.lag === null || g.lag === undefined) return '?';
    return `${g.lagAtLeast ? '≥' : ''}${fmtNum(g.lag)}`;
  }
  function lagTitle(g) {
    if (!g || !g.lagCounted) return undefined;
    return `counted by the dashboard (this Redis does not report a group's lag: XINFO GROUPS has no lag before Redis 7)${g.lagAtLeast ? ', at least this many' : ''}${g.lagAgeMs !== undefined ? `; oldest undelivered entry ${fmtDur(g.lagAgeMs)} old` : ''}`;
  }
  function fmtRate(n) { return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2); }
  function fmtDur(ms) {
    if (ms === null || ms === undefined) return '–';
    const s = Math.abs(ms) / 1000;
    if (s < 1) return `${Math.round(Math.abs(ms))} ms`;
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} m ${Math.floor(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }
  function fmtTime(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '–'; }
  function fmtWhen(ms, now) {
    if (!ms) return '–';
    const d = ms - (now || Date.now());
    return d >= 0 ? `in ${fmtDur(d)}` : `${fmtDur(-d)} ago`;
  }
  function pretty(value) {
    if (value === undefined) return 'undefined';
    try { return JSON.stringify(value, null, 2); } catch { return String(value); }
  }
  function stateChip(state) { return h('span', { class: `chip st-${/^[a-z]+$/.test(state) ? state : 'unknown'}`, 'data-state': state, text: state }); }

  /** A small SVG line chart of per-second rates; the last value beside it. */
  function spark(values, testid) {
    const w = 96, hgt = 24;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
    svg.setAttribute('class', 'spark');
    svg.setAttribute('aria-hidden', 'true');
    const vals = values && values.length ? values : [0];
    const max = Math.max(1, ...vals);
    const step = vals.length > 1 ? w / (vals.length - 1) : w;
    const pts = vals.map((v, i) => `${(i * step).toFixed(1)},${(hgt - 2 - (v / max) * (hgt - 4)).toFixed(1)}`).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', vals.length > 1 ? pts : `0,${hgt - 2} ${w},${hgt - 2}`);
    svg.appendChild(line);
    const last = values && values.length ? values[values.length - 1] : null;
    return h('span', { class: 'rate', 'data-testid': testid }, svg, h('span', { class: 'rate-v', text: last === null ? '–/s' : `${fmtRate(last)}/s` }));
  }

  // ---------- feedback ----------
  function showError(message) {
    banner.textContent = message;
    banner.hidden = false;
  }
  function hideError() { banner.hidden = true; banner.textContent = ''; }
  let toastTimer = null;
  function toast(message) {
    toastBox.textContent = message;
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, 4000);
  }

  // ---------- API ----------
  async function api(path, body) {
    const init = { headers: { accept: 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['content-type'] = 'application/json';
      init.headers['x-streamfan-csrf'] = meta.csrf;
      init.body = JSON.stringify(body);
    }
    const res = await fetch(`api/${path}`, init);
    let data;
    try { data = await res.json(); } catch { data = null; }
    if (!res.ok) {
      const err = new Error((data && data.error) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      err.code = data && data.code;
      throw err;
    }
    return data;
  }

  /** Ask, then act; report the result or the error. Nothing is sent when the answer is no. */
  async function act(question, path, body, done) {
    if (!window.confirm(question)) return;
    try {
      const r = await api(path, body);
      hideError();
      toast(done(r));
    } catch (err) {
      showError(`${err.message}`);
    }
    render();
  }

  // ---------- live ----------
  function connectLive() {
    const es = new EventSource('api/live');
    es.addEventListener('open', () => { liveBadge.className = 'live on'; liveText.textContent = 'live'; });
    es.addEventListener('error', () => { liveBadge.className = 'live off'; liveText.textContent = 'reconnecting…'; });
    es.addEventListener('overview', (e) => {
      liveBadge.className = 'live on';
      liveText.textContent = 'live';
      lastOverview = JSON.parse(e.data);
      if (currentRoute()[0] === '') drawOverview(lastOverview);
    });
    es.addEventListener('problem', (e) => {
      liveBadge.className = 'live off';
      liveText.textContent = 'Redis problem';
      try { showError(JSON.parse(e.data).error); } catch { showError('live update failed'); }
    });
  }

  // ---------- routing ----------
  function currentRoute() {
    const raw = location.hash.replace(/^#\/?/, '');
    return raw === '' ? [''] : raw.split('/').map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  }
  function setCrumbs(parts) {
    clear(crumbs);
    const items = [link('#/', 'Overview')];
    for (const p of parts) items.push(h('span', { class: 'sep', text: '/' }), p.href ? link(p.href, p.text) : h('span', { text: p.text }));
    append(crumbs, items);
  }

  function schedule(fn) {
    clearTimeout(timer);
    timer = setTimeout(fn, meta.intervalMs || 2000);
  }

  async function render() {
    const seq = ++routeSeq;
    clearTimeout(timer);
    const [page, a, b] = currentRoute();
    document.body.dataset.page = page || 'overview';
    try {
      if (page === '') {
        setCrumbs([]);
        drawOverview(lastOverview || (await api('overview')));
      } else if (page === 't') {
        setCrumbs([{ text: `topic ${a}` }]);
        await drawTopic(seq, a);
      } else if (page === 'g') {
        setCrumbs([{ text: `topic ${a}`, href: `#/t/${enc(a)}` }, { text: `group ${b}` }]);
        await drawGroup(seq, a, b);
      } else if (page === 'e') {
        setCrumbs([{ text: `topic ${a}`, href: `#/t/${enc(a)}` }, { text: `event ${b}` }]);
        await drawEvent(seq, a, b);
      } else if (page === 'memory') {
        setCrumbs(a ? [{ text: 'memory', href: '#/memory' }, { text: `topic ${a}` }] : [{ text: 'memory' }]);
        await drawMemory(seq, a);
      } else if (page === 'search') {
        setCrumbs([{ text: 'search' }]);
        await drawSearch(seq, a || '');
      } else {
        setCrumbs([{ text: 'not found' }]);
        clear(view);
        append(view, h('p', { class: 'empty', text: 'No such page.' }));
      }
      if (seq === routeSeq) hideError();
    } catch (err) {
      if (seq !== routeSeq) return;
      showError(err.message);
      if (page !== '') schedule(() => { if (seq === routeSeq) render(); });
    }
    document.body.dataset.ready = 'true';
  }

  // ---------- overview ----------
  function drawOverview(data) {
    if (currentRoute()[0] !== '') return;
    clear(view);
    const topics = data.topics || [];
    append(view, h('div', { class: 'page-head' },
      h('h1', { text: 'Topics' }),
      h('span', { class: 'muted', text: `prefix ${data.prefix} · ${topics.length} topic${topics.length === 1 ? '' : 's'}` }),
      link('#/memory', 'Redis memory', { class: 'btn', 'data-testid': 'memory-link', title: 'Redis memory by topic and kind of key, as `streamfan memory` reports it' }),
      data.discovering ? h('span', { class: 'badge', 'data-testid': 'discovering', title: 'The keyspace is large: the topic listing goes round it in bounded steps (200 SCAN calls each), so some topics may not show yet.', text: 'still discovering topics…' }) : null));
    if (topics.length === 0) {
      append(view, h('p', { class: 'empty', 'data-testid': 'no-topics', text: `No topics under prefix "${data.prefix}" yet: publish an event and it shows here.` }));
      return;
    }
    for (const t of topics) {
      const rows = t.groups.map((g) => h('tr', { 'data-group': g.group },
        h('td', {}, link(`#/g/${enc(t.topic)}/${enc(g.group)}`, g.group, { 'data-testid': 'group-link', title: t.partitions ? `summed over the ${t.partitions} partitions` : t.lanes ? `summed over the lanes ${t.lanes.map((l) => l.lane).join(', ')}` : undefined }),
          g.retired ? h('span', { class: 'badge', text: 'retired' }) : null,
          t.lanes && !g.retired ? h('span', { class: 'lane-backlog muted', 'data-testid': 'group-lanes', title: 'backlog (lag + pending) in each priority lane, highest first' },
            t.lanes.map((l) => { const x = l.groups.find((y) => y.group === g.group); return x && x.lag !== null ? `${l.lane} ${fmtNum(x.lag + x.pending)}` : `${l.lane} ?`; }).join(' · ')) : null,
          !g.retired && g.consumers === 0 ? h('span', { class: 'badge warn', 'data-testid': 'no-consumers', text: 'no consumers' }) : null),
        h('td', { class: 'num', 'data-k': 'consumers', text: fmtNum(g.consumers) }),
        h('td', { class: `num${g.lagCounted ? ' counted' : ''}`, 'data-k': 'lag', title: lagTitle(g), text: fmtLag(g) }),
        h('td', { class: 'num', 'data-k': 'pending', text: fmtNum(g.pending) }),
        h('td', { class: 'num', 'data-k': 'oldest', text: fmtDur(g.oldestPendingAgeMs) }),
        h('td', { class: 'num', 'data-k': 'retrying', text: fmtNum(g.retrying) }),
        h('td', { class: `num${g.deadLetters > 0 ? ' bad' : ''}`, 'data-k': 'dead', text: fmtNum(g.deadLetters) }),
        h('td', {}, g.settledTotal === null && !g.retired ? h('span', { class: 'rate muted', 'data-testid': 'processed-rate', title: 'this Redis does not count the entries a group read (entries-read, Redis 7+): no processed rate', text: 'n/a' }) : spark(g.processedRate, 'processed-rate')),
        h('td', {}, spark(g.deadRate, 'dead-rate'))));
      const table = h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, ['group', 'consumers', 'lag', 'pending', 'oldest pending', 'retrying', 'dead letters', 'processed/s', 'dead/s'].map((c) => h('th', { text: c })))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 9, class: 'muted', text: 'no groups: nobody subscribes to this topic' })))));
      append(view, h('section', { class: 'card', 'data-testid': 'topic-card', 'data-topic': t.topic },
        h('div', { class: 'card-head' },
          h('h2', {}, link(`#/t/${enc(t.topic)}`, t.topic, { 'data-testid': 'topic-link' })),
          t.partitions ? h('span', { class: 'badge', text: `${t.partitions} partitions` }) : null,
          t.lanes ? h('span', { class: 'badge', 'data-testid': 'lanes-badge', text: `${t.lanes.length} lanes` }) : null,
          h('span', { class: 'stat' }, h('span', { class: 'k', text: 'length' }), h('b', { 'data-testid': 'topic-length', text: fmtNum(t.length) })),
          h('span', { class: 'stat' }, h('span', { class: 'k', text: 'delayed' }), h('b', { text: fmtNum(t.delayed) })),
          h('span', { class: 'stat' }, h('span', { class: 'k', text: 'published' }), spark(t.publishRate, 'publish-rate'))),
        t.parts ? h('div', { class: 'parts', 'data-testid': 'partitions' }, h('span', { class: 'k', text: 'partitions' }),
          t.parts.map((p) => link(`#/t/${enc(p.home)}`, `#${p.partition} · ${fmtNum(p.length)}`, { class: 'part', 'data-partition': p.partition,
            title: `partition ${p.partition}: ${fmtNum(p.length)} entries; ${p.groups.map((g) => `${g.group} ${fmtNum(g.pending)} pending, lag ${fmtLag(g)}`).join('; ')}` }))) : null,
        t.lanes ? h('div', { class: 'parts', 'data-testid': 'lanes' }, h('span', { class: 'k', text: 'lanes' }),
          t.lanes.map((l) => link(`#/t/${enc(l.home)}`, `${l.lane}${l.default ? '*' : ''} · ${fmtNum(l.length)}`, { class: 'part', 'data-lane': l.lane,
            title: `lane ${l.lane}${l.default ? ' (the default lane)' : ''}: ${fmtNum(l.length)} entries; ${l.groups.map((g) => `${g.group} lag ${g.lag === null ? '?' : fmtNum(g.lag)}, ${fmtNum(g.pending)} pending`).join('; ')}` }))) : null,
        table));
    }
  }

  // ---------- topic ----------
  async function drawTopic(seq, home) {
    const d = await api(`topics/${enc(home)}`);
    if (seq !== routeSeq) return;
    clear(view);
    if (d.kind === 'partitioned') {
      append(view, h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'topic-title', text: d.topic }), h('span', { class: 'badge', text: `${d.partitions} partitions` }),
        link(`#/memory/${enc(d.topic)}`, 'Redis memory', { class: 'btn', 'data-testid': 'topic-memory-link' })));
      append(view, h('div', { class: 'cards' }, d.groups.map((g) => h('section', { class: 'card gcard', 'data-group': g.group },
        h('div', { class: 'card-head' }, h('h2', {}, link(`#/g/${enc(d.topic)}/${enc(g.group)}`, g.group)), h('span', { class: 'muted', text: 'all partitions' })),
        h('div', { class: 'kv' },
          h('span', { class: 'k', text: 'lag' }), h('b', { text: fmtLag(g) }),
          h('span', { class: 'k', text: 'pending' }), h('b', { text: fmtNum(g.pending) }),
          h('span', { class: 'k', text: 'retrying' }), h('b', { text: fmtNum(g.retrying) }),
          h('span', { class: 'k', text: 'dead letters' }), h('b', { text: fmtNum(g.deadLetters) }))))));
      append(view, h('section', { class: 'card' }, h('h2', { text: 'Partitions' }), h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'partitions' },
        h('thead', {}, h('tr', {}, ['partition', 'length', 'groups'].map((c) => h('th', { text: c })))),
        h('tbody', {}, d.parts.map((p) => h('tr', {},
          h('td', {}, link(`#/t/${enc(p.home)}`, `${p.topic} #${p.partition}`)),
          h('td', { class: 'num', text: fmtNum(p.length) }),
          h('td', { text: p.groups.map((g) => `${g.group}: ${fmtNum(g.pending)} pending`).join(', ') }))))))));
      schedule(() => { if (seq === routeSeq) render(); });
      return;
    }
    if (d.kind === 'laned') { drawLanedTopic(seq, d); return; }
    append(view, h('div', { class: 'page-head' },
      h('h1', { 'data-testid': 'topic-title', text: d.home }),
      d.partition !== undefined ? h('span', { class: 'badge', text: `partition ${d.partition}` }) : null,
      d.lane !== undefined ? h('span', { class: 'badge', 'data-testid': 'lane-badge', text: `lane ${d.lane}` }) : null,
      d.lane !== undefined ? link(`#/t/${enc(d.topic)}`, 'every lane', { class: 'btn', 'data-testid': 'all-lanes-link' }) : null,
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'length' }), h('b', { 'data-testid': 'topic-length', text: fmtNum(d.length) })),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'delayed' }), h('b', { text: fmtNum(d.delayed) })),
      link(`#/memory/${enc(d.topic || d.home)}`, 'Redis memory', { class: 'btn', 'data-testid': 'topic-memory-link' })));
    // Safe-trim floor against the stream's head.
    const tr = d.trim;
    append(view, h('section', { class: 'card', 'data-testid': 'trim' }, h('h2', { text: 'Retention' }),
      h('div', { class: 'kv' },
        h('span', { class: 'k', text: 'oldest entry (head)' }), h('code', { 'data-testid': 'trim-head', text: tr.firstId || '–' }),
        h('span', { class: 'k', text: 'safe-trim floor' }), h('code', { 'data-testid': 'trim-floor', text: tr.floor || '– (no group)' }),
        h('span', { class: 'k', text: 'newest entry' }), h('code', { text: tr.lastId || '–' })),
      h('p', { class: 'muted', text: tr.trimmable ? 'Entries below the floor are acknowledged by every group: a safe trim (streamfan trim) removes them.' : 'Nothing to trim safely: every entry is still needed by some group (or none is older than the floor).' })));
    // Groups side by side.
    append(view, h('div', { class: 'cards' }, d.groups.map((g) => h('section', { class: 'card gcard', 'data-group': g.group },
      h('div', { class: 'card-head' }, h('h2', {}, link(`#/g/${enc(d.home)}/${enc(g.group)}`, g.group)),
        !g.retired && g.consumers === 0 ? h('span', { class: 'badge warn', text: 'no consumers' }) : null,
        g.retired ? h('span', { class: 'badge', text: 'retired' }) : null),
      h('div', { class: 'kv' },
        h('span', { class: 'k', text: 'consumers' }), h('b', { text: fmtNum(g.consumers) }),
        h('span', { class: 'k', text: 'lag' }), h('b', { text: fmtLag(g) }),
        h('span', { class: 'k', text: 'pending' }), h('b', { text: fmtNum(g.pending) }),
        h('span', { class: 'k', text: 'oldest pending' }), h('b', { text: fmtDur(g.oldestPendingAgeMs) }),
        h('span', { class: 'k', text: 'retrying' }), h('b', { text: fmtNum(g.retrying) }),
        h('span', { class: 'k', text: 'dead letters' }), h('b', { text: fmtNum(g.deadLetters) }))))));
    // Recent events × groups.
    const groups = d.groups.filter((g) => !g.retired).map((g) => g.group);
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Recent events' }),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'matrix' },
        h('thead', {}, h('tr', {}, h('th', { text: 'event' }), h('th', { text: 'published' }), h('th', { text: 'payload' }), groups.map((g) => h('th', { text: g })))),
        h('tbody', {}, d.recent.length ? d.recent.map((e) => h('tr', { 'data-event': e.id },
          h('td', {}, link(`#/e/${enc(d.home)}/${enc(e.id)}`, e.id, { class: 'mono' })),
          h('td', { class: 'nowrap', text: fmtWhen(e.publishedAt, d.now) }),
          h('td', { class: 'preview mono', text: e.preview }),
          groups.map((g) => h('td', { 'data-group-cell': g }, e.status[g] ? stateChip(e.status[g].state) : h('span', { class: 'muted', text: '–' })))))
          : h('tr', {}, h('td', { colspan: 3 + groups.length, class: 'muted', text: 'the stream is empty' }))))),
      d.next ? h('button', { class: 'btn', text: 'Older events', onclick: () => olderEvents(d.home, d.next, groups) }) : null));
    // Delayed events due next.
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Delayed events due next' }),
      d.delayedNext.length === 0 ? h('p', { class: 'muted', text: 'none scheduled' }) : h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'delayed' },
        h('thead', {}, h('tr', {}, ['delayed id', 'due', 'payload'].map((c) => h('th', { text: c })))),
        h('tbody', {}, d.delayedNext.map((x) => h('tr', {},
          h('td', {}, link(`#/e/${enc(d.home)}/${enc(x.delayedId)}`, x.delayedId, { class: 'mono' })),
          h('td', { class: 'nowrap', text: fmtWhen(x.dueAt, d.now) }),
          h('td', { class: 'preview mono', text: x.preview }))))))));
    schedule(() => { if (seq === routeSeq) render(); });
  }

  /** A prioritized topic's page: its groups summed, one row per lane, the newest events of every lane (lane ids). */
  function drawLanedTopic(seq, d) {
    append(view, h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'topic-title', text: d.topic }),
      h('span', { class: 'badge', 'data-testid': 'lanes-badge', text: `${d.lanes.length} lanes` }),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'length' }), h('b', { 'data-testid': 'topic-length', text: fmtNum(d.length) })),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'delayed' }), h('b', { text: fmtNum(d.delayed) })),
      link(`#/memory/${enc(d.topic)}`, 'Redis memory', { class: 'btn', 'data-testid': 'topic-memory-link' })));
    append(view, h('div', { class: 'cards' }, d.groups.map((g) => h('section', { class: 'card gcard', 'data-group': g.group },
      h('div', { class: 'card-head' }, h('h2', {}, link(`#/g/${enc(d.topic)}/${enc(g.group)}`, g.group)), h('span', { class: 'muted', text: 'all lanes' }),
        !g.retired && g.consumers === 0 ? h('span', { class: 'badge warn', text: 'no consumers' }) : null),
      h('div', { class: 'kv' },
        h('span', { class: 'k', text: 'consumers' }), h('b', { text: fmtNum(g.consumers) }),
        h('span', { class: 'k', text: 'lag' }), h('b', { text: fmtLag(g) }),
        h('span', { class: 'k', text: 'pending' }), h('b', { text: fmtNum(g.pending) }),
        h('span', { class: 'k', text: 'retrying' }), h('b', { text: fmtNum(g.retrying) }),
        h('span', { class: 'k', text: 'dead letters' }), h('b', { text: fmtNum(g.deadLetters) }))))));
    const groups = d.groups.filter((g) => !g.retired).map((g) => g.group);
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Lanes' }),
      h('p', { class: 'muted', text: 'Highest first; each group\'s lag · pending in the lane. Open a lane for its own stream, retention and older events.' }),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'lanes' },
        h('thead', {}, h('tr', {}, ['lane', 'length', 'delayed'].map((c) => h('th', { text: c })), groups.map((g) => h('th', { text: g })))),
        h('tbody', {}, d.lanes.map((l) => h('tr', { 'data-lane': l.lane },
          h('td', {}, link(`#/t/${enc(l.home)}`, `${l.lane}${l.default ? ' (default)' : ''}`)),
          h('td', { class: 'num', 'data-k': 'length', text: fmtNum(l.length) }),
          h('td', { class: 'num', text: fmtNum(l.delayed) }),
          groups.map((g) => { const x = l.groups.find((y) => y.group === g); return h('td', { class: 'num', 'data-group-cell': g, text: x ? `${fmtLag(x)} · ${fmtNum(x.pending)}` : '–' }); }))))))));
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Recent events (every lane)' }),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'matrix' },
        h('thead', {}, h('tr', {}, h('th', { text: 'event' }), h('th', { text: 'lane' }), h('th', { text: 'published' }), h('th', { text: 'payload' }), groups.map((g) => h('th', { text: g })))),
        h('tbody', {}, d.recent.length ? d.recent.map((e) => h('tr', { 'data-event': e.id },
          h('td', {}, link(`#/e/${enc(d.topic)}/${enc(e.id)}`, e.id, { class: 'mono' })),
          h('td', { 'data-k': 'lane', text: e.priority }),
          h('td', { class: 'nowrap', text: fmtWhen(e.publishedAt, d.now) }),
          h('td', { class: 'preview mono', text: e.preview }),
          groups.map((g) => h('td', { 'data-group-cell': g }, e.status[g] ? stateChip(e.status[g].state) : h('span', { class: 'muted', text: '–' })))))
          : h('tr', {}, h('td', { colspan: 4 + groups.length, class: 'muted', text: 'every lane is empty' })))))));
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Delayed events due next' }),
      d.delayedNext.length === 0 ? h('p', { class: 'muted', text: 'none scheduled' }) : h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'delayed' },
        h('thead', {}, h('tr', {}, ['delayed id', 'lane', 'due', 'payload'].map((c) => h('th', { text: c })))),
        h('tbody', {}, d.delayedNext.map((x) => h('tr', {},
          h('td', {}, link(`#/e/${enc(d.topic)}/${enc(x.delayedId)}`, x.delayedId, { class: 'mono' })),
          h('td', { text: x.priority }),
          h('td', { class: 'nowrap', text: fmtWhen(x.dueAt, d.now) }),
          h('td', { class: 'preview mono', text: x.preview }))))))));
    schedule(() => { if (seq === routeSeq) render(); });
  }

  // ---------- memory (streamfan memory) ----------
  const KIND_NAMES = { stream: 'topic stream', redelivery: 'redelivery streams', retry: 'retry sets', deadLetters: 'dead letters', status: 'status', idempotency: 'idempotency keys', delayed: 'delayed events', other: 'other' };
  /** 1.5 GB, 12.0 MB, 512 B (powers of 1000, as `streamfan memory` prints them). */
  function fmtBytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
    let u = 0;
    let v = Number(n);
    while (Math.abs(v) >= 1000 && u < units.length - 1) { v /= 1000; u++; }
    return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
  }
  async function drawMemory(seq, topic) {
    const d = await api(topic ? `memory?topic=${enc(topic)}` : 'memory');
    if (seq !== routeSeq) return;
    clear(view);
    const pct = (f) => `${(f * 100).toFixed(f < 0.1 ? 1 : 0)}%`;
    append(view, h('div', { class: 'page-head' },
      h('h1', { text: topic ? `Redis memory of ${topic}` : 'Redis memory' }),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'total' }), h('b', { 'data-testid': 'memory-total', text: `${fmtBytes(d.bytes)}${d.bytesError > 0 ? ` ± ${fmtBytes(d.bytesError)}` : ''}` })),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'server uses' }), h('b', { text: fmtBytes(d.usedMemory) })),
      h('span', { class: 'stat' }, h('span', { class: 'k', text: 'maxmemory' }), h('b', { text: d.maxMemory > 0 ? `${fmtBytes(d.maxMemory)}${d.maxMemoryPolicy ? ` (${d.maxMemoryPolicy})` : ''}` : 'none' }))));
    const rows = d.topics.flatMap((t) => t.kinds.filter((k) => k.keys > 0 || k.keysError > 0 || k.kind === 'stream').map((k) => h('tr', { 'data-topic': t.topic, 'data-kind': k.kind },
      h('td', {}, link(`#/t/${enc(t.topic)}`, t.topic)),
      h('td', { text: KIND_NAMES[k.kind] || k.kind }),
      h('td', { class: 'num', 'data-k': 'keys', text: `${k.sampled ? '~' : ''}${fmtNum(k.keys)}` }),
      h('td', { class: 'num', text: k.keysError > 0 ? fmtNum(k.keysError) : '–' }),
      h('td', { class: 'num', 'data-k': 'entries', text: k.entries === undefined ? '–' : fmtNum(k.entries) }),
      h('td', { class: 'num', 'data-k': 'bytes', 'data-bytes': String(k.bytes), text: fmtBytes(k.bytes) }),
      h('td', { class: 'num', text: k.bytesError > 0 ? fmtBytes(k.bytesError) : '–' }),
      h('td', { class: 'muted', text: k.sampled ? `sampled (${k.measured} measured)` : 'exact' }))));
    append(view, h('section', { class: 'card' }, h('h2', { text: 'By topic and kind' }),
      h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'memory' },
        h('thead', {}, h('tr', {}, ['topic', 'kind', 'keys', '±95%', 'entries', 'bytes', '±95%', 'how'].map((c) => h('th', { text: c })))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 8, class: 'muted', text: topic ? `topic "${topic}" has no keys` : 'no topics' }))))),
      h('p', { class: 'muted', 'data-testid': 'memory-scan', text: `${d.scan.complete ? `${d.scan.pages} SCAN page(s) covered the whole keyspace: key counts are exact` : `${d.scan.pages} SCAN page(s) covered about ${pct(d.scan.fraction)} of the keyspace: per-event key counts (~) are extrapolated, with the 95% error shown${d.topicsComplete ? '' : '; topics with few keys may be missing (open one topic\'s memory)'}`}. Read ${fmtDur(d.ageMs)} ago; a report is reused for ${fmtDur(d.everyMs)} (the same figures as streamfan memory).` })));
    // Prioritized topics: each lane's keys, and the keys every lane shares (they add up to the topic).
    const laneRows = d.topics.flatMap((t) => [
      ...(t.byLane || []).map((l) => ({ t, name: `${l.lane}${l.lane === t.defaultLane ? '*' : ''}`, lane: l.lane, m: l })),
      ...(t.laneShared ? [{ t, name: '(shared)', lane: '*', m: t.laneShared }] : []),
    ]);
    if (laneRows.length) {
      append(view, h('section', { class: 'card' }, h('h2', { text: 'By priority lane' }),
        h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'memory-lanes' },
          h('thead', {}, h('tr', {}, ['topic', 'lane', 'bytes', '±95%', 'entries', 'by kind'].map((c) => h('th', { text: c })))),
          h('tbody', {}, laneRows.map((x) => { const stream = x.m.kinds.find((k) => k.kind === 'stream'); return h('tr', { 'data-topic': x.t.topic, 'data-lane': x.lane },
            h('td', {}, link(`#/t/${enc(x.t.topic)}`, x.t.topic)),
            h('td', { text: x.name, title: x.lane === '*' ? 'keys every lane shares: idempotency keys, producer ledgers, the meta hash' : x.lane === x.t.defaultLane ? 'the default lane (its keys are the topic\'s own)' : undefined }),
            h('td', { class: 'num', 'data-k': 'bytes', 'data-bytes': String(x.m.bytes), text: fmtBytes(x.m.bytes) }),
            h('td', { class: 'num', text: x.m.bytesError > 0 ? fmtBytes(x.m.bytesError) : '–' }),
            h('td', { class: 'num', 'data-k': 'entries', text: x.lane === '*' ? '–' : fmtNum(stream && stream.entries !== undefined ? stream.entries : 0) }),
            h('td', { class: 'muted', text: x.m.kinds.filter((k) => k.bytes > 0).map((k) => `${KIND_NAMES[k.kind] || k.kind} ${k.sampled ? '~' : ''}${fmtBytes(k.bytes)}`).join(', ') || '–' })); })))),
        h('p', { class: 'muted', text: 'Each lane\'s keys (its stream, status, dead letters, delayed events…), the default lane marked *, and (shared) the keys every lane shares; the rows add up to the topic.' })));
    }
  }

  async function olderEvents(home, before, groups) {
    clearTimeout(timer); // paging back: stop the live refresh of the first page
    const d = await api(`topics/${enc(home)}?before=${enc(before)}`);
    const body = document.querySelector('[data-testid="matrix"] tbody');
    for (const e of d.recent) append(body, h('tr', { 'data-event': e.id },
      h('td', {}, link(`#/e/${enc(home)}/${enc(e.id)}`, e.id, { class: 'mono' })),
      h('td', { class: 'nowrap', text: fmtWhen(e.publishedAt, d.now) }),
      h('td', { class: 'preview mono', text: e.preview }),
      groups.map((g) => h('td', {}, e.status[g] ? stateChip(e.status[g].state) : '–'))));
  }

  // ---------- group ----------
  function selected(table) {
    return Array.from(table.querySelectorAll('input[type=checkbox][data-id]:checked')).map((c) => c.dataset.id);
  }

  async function drawGroup(seq, home, group) {
    const base = `topics/${enc(home)}/groups/${enc(group)}`;
    const d = await api(base);
    if (seq !== routeSeq) return;
    clear(view);
    const g = d.group;
    const actions = meta.allowActions;
    append(view, h('div', { class: 'page-head' }, h('h1', { 'data-testid': 'group-title', text: `${g.group}` }), h('span', { class: 'muted', text: `on ${d.home}` }),
      d.kind === 'partitioned' ? h('span', { class: 'badge', text: `${d.partitions} partitions, summed` }) : null,
      d.kind === 'laned' ? h('span', { class: 'badge', 'data-testid': 'lanes-badge', text: `${d.lanes.length} lanes, summed` }) : null,
      d.lane !== undefined ? h('span', { class: 'badge', 'data-testid': 'lane-badge', text: `lane ${d.lane}` }) : null,
      d.lane !== undefined ? link(`#/g/${enc(d.topic)}/${enc(group)}`, 'every lane', { class: 'btn', 'data-testid': 'all-lanes-link' }) : null,
      d.partition !== undefined ? h('span', { class: 'badge', text: `partition ${d.partition}` }) : null,
      !g.retired && g.consumers === 0 ? h('span', { class: 'badge warn', 'data-testid': 'no-consumers', text: 'no consumers' }) : null));
    append(view, h('div', { class: 'stats', id: 'group-stats' }, [
      ['consumers', fmtNum(g.consumers)], ['lag', fmtLag(g)], ['pending', fmtNum(g.pending)], ['oldest pending', fmtDur(g.oldestPendingAgeMs)],
      ['retrying', fmtNum(g.retrying)], ['dead letters', fmtNum(g.deadLetters)]].map(([k, v]) => h('div', { class: 'stat-box', 'data-stat': k, title: k === 'lag' ? lagTitle(g) : undefined }, h('span', { class: 'k', text: k }), h('b', { text: v })))));

    // A partitioned topic's group: one row per partition (each partition's page pages its tables).
    if (d.kind === 'partitioned') {
      append(view, h('section', { class: 'card' }, h('h2', { text: 'Partitions' }),
        d.merged ? h('p', { class: 'muted', text: 'The tables below merge the first page of every partition (ids p<partition>:<id>); open a partition to page through its own.' })
          : h('p', { class: 'muted', text: `Over ${d.parts.length} partitions: open a partition for its pending entries, retries and dead letters.` }),
        h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'group-partitions' },
          h('thead', {}, h('tr', {}, ['partition', 'length', 'consumers', 'lag', 'pending', 'oldest pending', 'retrying', 'dead letters'].map((c) => h('th', { text: c })))),
          h('tbody', {}, d.parts.map((p) => h('tr', { 'data-partition': p.partition },
            h('td', {}, link(`#/g/${enc(p.home)}/${enc(group)}`, `${d.topic} #${p.partition}`)),
            h('td', { class: 'num', text: fmtNum(p.length) }),
            p.group ? [h('td', { class: 'num', text: fmtNum(p.group.consumers) }), h('td', { class: 'num', text: fmtLag(p.group) }), h('td', { class: 'num', text: fmtNum(p.group.pending) }),
              h('td', { class: 'num', text: fmtDur(p.group.oldestPendingAgeMs) }), h('td', { class: 'num', text: fmtNum(p.group.retrying) }), h('td', { class: 'num', text: fmtNum(p.group.deadLetters) })]
              : h('td', { colspan: 6, class: 'muted', text: 'no such group in this partition yet' }))))))));
    }

    // A prioritized topic's group: one row per lane, highest first (each lane's page pages its own tables).
    const laned = d.kind === 'laned';
    if (laned) {
      append(view, h('section', { class: 'card' }, h('h2', { text: 'Lanes' }),
        h('p', { class: 'muted', text: 'Highest lane first. The tables below hold every lane (ids <lane>:<id>, plain in the default lane); open a lane to page through its own.' }),
        h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'group-lanes' },
          h('thead', {}, h('tr', {}, ['lane', 'length', 'consumers', 'lag', 'pending', 'oldest pending', 'retrying', 'dead letters'].map((c) => h('th', { text: c })))),
          h('tbody', {}, d.lanes.map((l) => h('tr', { 'data-lane': l.lane },
            h('td', {}, link(`#/g/${enc(l.home)}/${enc(group)}`, `${l.lane}${l.default ? ' (default)' : ''}`)),
            h('td', { class: 'num', 'data-k': 'length', text: fmtNum(l.length) }),
            l.group ? [h('td', { class: 'num', text: fmtNum(l.group.consumers) }), h('td', { class: 'num', 'data-k': 'lag', text: fmtLag(l.group) }), h('td', { class: 'num', 'data-k': 'pending', text: fmtNum(l.group.pending) }),
              h('td', { class: 'num', text: fmtDur(l.group.oldestPendingAgeMs) }), h('td', { class: 'num', 'data-k': 'retrying', text: fmtNum(l.group.retrying) }), h('td', { class: 'num', 'data-k': 'dead', text: fmtNum(l.group.deadLetters) })]
              : h('td', { colspan: 6, class: 'muted', text: 'no such group in this lane yet' }))))))));
    }

    // Consumers.
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Consumers' }),
      d.consumers.length === 0 ? h('p', { class: 'muted', text: 'No consumers: nobody handles this group\'s events.' }) : h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'consumers' },
        h('thead', {}, h('tr', {}, ['consumer', 'pending', 'idle', 'inactive'].map((c) => h('th', { text: c })))),
        h('tbody', {}, d.consumers.map((c) => h('tr', {}, h('td', { class: 'mono', text: c.name }), h('td', { class: 'num', text: fmtNum(c.pending) }), h('td', { class: 'num', text: fmtDur(c.idleMs) }), h('td', { class: 'num', text: fmtDur(c.inactiveMs) }))))))));

    // Pending entries, paged.
    const pendSec = h('section', { class: 'card', 'data-testid': 'pending' });
    const drawPending = (page, after) => {
      clear(pendSec);
      const table = h('table', {},
        h('thead', {}, h('tr', {}, actions ? h('th', {}, h('input', { type: 'checkbox', 'aria-label': 'select all', onchange: (e) => table.querySelectorAll('input[data-id]').forEach((c) => { c.checked = e.target.checked; }) })) : null,
          ['entry', laned ? 'lane' : null, 'event', 'consumer', 'idle', 'deliveries', 'stream'].filter((c) => c !== null).map((c) => h('th', { text: c })), actions ? h('th', { text: '' }) : null)),
        h('tbody', {}, page.entries.length ? page.entries.map((p) => h('tr', { 'data-id': p.id },
          actions ? h('td', {}, h('input', { type: 'checkbox', 'data-id': p.id, 'aria-label': `select ${p.id}` })) : null,
          h('td', { class: 'mono', text: p.id }),
          laned ? h('td', { 'data-k': 'lane', text: p.priority }) : null,
          h('td', {}, link(`#/e/${enc(home)}/${enc(p.eventId)}`, p.eventId, { class: 'mono' })),
          h('td', { class: 'mono', text: p.consumer }),
          h('td', { class: 'num', text: fmtDur(p.idleMs) }),
          h('td', { class: 'num', text: fmtNum(p.deliveries) }),
          h('td', { text: p.source }),
          actions ? h('td', { class: 'row-actions' },
            h('button', { class: 'btn small', 'data-action': 'claim', text: 'Claim', onclick: () => claim([p.id]) }),
            h('button', { class: 'btn small', 'data-action': 'ack', text: 'Ack', onclick: () => ack([p.id]) })) : null))
          : h('tr', {}, h('td', { colspan: 9, class: 'muted', text: after ? 'no more pending entries' : 'nothing pending' }))));
      const consumerBox = h('input', { list: 'consumer-names', id: 'claim-consumer', 'data-testid': 'claim-consumer', value: d.consumers[0] ? d.consumers[0].name : 'dashboard', 'aria-label': 'consumer to claim to' });
      const claim = (ids) => act(`Claim ${ids.length} pending entr${ids.length === 1 ? 'y' : 'ies'} of ${group} for consumer "${consumerBox.value}"?`, `${base}/claim`, { ids, consumer: consumerBox.value }, (r) => `claimed ${r.claimed.length} for ${consumerBox.value}`);
      const ack = (ids) => act(`Acknowledge ${ids.length} pending entr${ids.length === 1 ? 'y' : 'ies'} of ${group} by hand (marked succeeded)?`, `${base}/ack`, { ids }, (r) => `acknowledged ${r.acked.length}`);
      append(pendSec, h('div', { class: 'card-head' }, h('h2', { text: 'Pending entries' }), h('span', { class: 'muted', text: `${fmtNum(g.pending)} in all · page of ${page.entries.length}` })),
        actions && page.entries.length ? h('div', { class: 'toolbar' },
          h('label', {}, 'claim to ', consumerBox), h('datalist', { id: 'consumer-names' }, d.consumers.map((c) => h('option', { value: c.name }))),
          h('button', { class: 'btn', 'data-testid': 'claim-selected', text: 'Claim selected', onclick: () => { const ids = selected(table); if (ids.length) claim(ids); else toast('select entries first'); } }),
          h('button', { class: 'btn', 'data-testid': 'ack-selected', text: 'Ack selected', onclick: () => { const ids = selected(table); if (ids.length) ack(ids); else toast('select entries first'); } })) : null,
        h('div', { class: 'table-wrap' }, table),
        h('div', { class: 'pager' },
          after ? h('button', { class: 'btn', text: 'First page', onclick: () => api(`${base}/pending`).then((p) => drawPending(p, undefined)).catch((e) => showError(e.message)) }) : null,
          page.next ? h('button', { class: 'btn', 'data-testid': 'pending-next', text: 'Next page', onclick: () => { clearTimeout(timer); api(`${base}/pending?after=${enc(page.next)}`).then((p) => drawPending(p, page.next)).catch((e) => showError(e.message)); } }) : null));
    };
    drawPending(d.pending, undefined);
    append(view, pendSec);

    // Retries waiting.
    const retrySec = h('section', { class: 'card', 'data-testid': 'retries' });
    const drawRetries = (page) => {
      clear(retrySec);
      append(retrySec, h('div', { class: 'card-head' }, h('h2', { text: 'Retries waiting' }), h('span', { class: 'muted', text: `${fmtNum(page.total)} in all` })),
        page.entries.length === 0 ? h('p', { class: 'muted', text: 'no retries waiting' }) : h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, ['event', laned ? 'lane' : null, 'attempts so far', 'next attempt', 'payload'].filter((c) => c !== null).map((c) => h('th', { text: c })))),
          h('tbody', {}, page.entries.map((r) => h('tr', {},
            h('td', {}, link(`#/e/${enc(home)}/${enc(r.eventId)}`, r.eventId, { class: 'mono' })),
            laned ? h('td', { text: r.priority }) : null,
            h('td', { class: 'num', text: fmtNum(r.attemptsSoFar) }),
            h('td', { class: 'nowrap', text: fmtWhen(r.nextAttemptAt, d.now) }),
            h('td', { class: 'preview mono', text: r.preview })))))),
        page.next !== null ? h('button', { class: 'btn', text: 'Next page', onclick: () => { clearTimeout(timer); api(`${base}/retries?offset=${page.next}`).then(drawRetries).catch((e) => showError(e.message)); } }) : null);
    };
    drawRetries(d.retries);
    append(view, retrySec);

    // Dead letters.
    const deadSec = h('section', { class: 'card', 'data-testid': 'dead-letters' });
    const drawDead = (page, after) => {
      clear(deadSec);
      const table = h('table', {},
        h('thead', {}, h('tr', {}, actions ? h('th', {}, h('input', { type: 'checkbox', 'aria-label': 'select all', onchange: (e) => table.querySelectorAll('input[data-id]').forEach((c) => { c.checked = e.target.checked; }) })) : null,
          ['dead letter', laned ? 'lane' : null, 'event', 'reason', 'attempts', 'died', 'error'].filter((c) => c !== null).map((c) => h('th', { text: c })), actions ? h('th', { text: '' }) : null)),
        h('tbody', {}, page.entries.length ? page.entries.map((x) => h('tr', { 'data-id': x.deadLetterId },
          actions ? h('td', {}, h('input', { type: 'checkbox', 'data-id': x.deadLetterId, 'aria-label': `select ${x.deadLetterId}` })) : null,
          h('td', { class: 'mono', text: x.deadLetterId }),
          laned ? h('td', { 'data-k': 'lane', text: x.priority }) : null,
          h('td', {}, link(`#/e/${enc(home)}/${enc(x.eventId)}`, x.eventId, { class: 'mono' })),
          h('td', { text: x.reason }),
          h('td', { class: 'num', text: fmtNum(x.attempts) }),
          h('td', { class: 'nowrap', text: fmtWhen(x.deadAt, d.now) }),
          h('td', { class: 'error', text: x.error }),
          actions ? h('td', { class: 'row-actions' },
            h('button', { class: 'btn small', 'data-action': 'replay', text: 'Replay', onclick: () => replay({ ids: [x.deadLetterId] }, '1 dead letter') }),
            h('button', { class: 'btn small danger', 'data-action': 'purge', text: 'Purge', onclick: () => purge({ ids: [x.deadLetterId] }, '1 dead letter') })) : null))
          : h('tr', {}, h('td', { colspan: 9, class: 'muted', text: 'no dead letters' }))));
      const replay = (sel, what) => act(`Replay ${what} of ${group}? ${group} gets ${sel.all ? 'them' : 'it'} again, with attempts reset; other groups are not touched.`, `${base}/dead-letters/replay`, sel, (r) => `replayed ${r.replayed}`);
      const purge = (sel, what) => act(`Purge ${what} of ${group}? They are deleted for good.`, `${base}/dead-letters/purge`, sel, (r) => `purged ${r.purged}`);
      const pick = (fn) => () => { const ids = selected(table); if (ids.length) fn({ ids }, `${ids.length} selected dead letter${ids.length === 1 ? '' : 's'}`); else toast('select dead letters first'); };
      append(deadSec, h('div', { class: 'card-head' }, h('h2', { text: 'Dead letters' }), h('span', { class: 'muted', 'data-testid': 'dead-total', text: `${fmtNum(page.total)} in all` })),
        actions && page.entries.length ? h('div', { class: 'toolbar' },
          h('button', { class: 'btn', 'data-testid': 'replay-selected', text: 'Replay selected', onclick: pick(replay) }),
          h('button', { class: 'btn danger', 'data-testid': 'purge-selected', text: 'Purge selected', onclick: pick(purge) }),
          h('button', { class: 'btn', 'data-testid': 'replay-all', text: 'Replay all', onclick: () => replay({ all: true }, `all ${page.total} dead letters`) }),
          h('button', { class: 'btn danger', 'data-testid': 'purge-all', text: 'Purge all', onclick: () => purge({ all: true }, `all ${page.total} dead letters`) })) : null,
        h('div', { class: 'table-wrap' }, table),
        h('div', { class: 'pager' },
          after ? h('button', { class: 'btn', text: 'First page', onclick: () => api(`${base}/dead-letters`).then((p) => drawDead(p, undefined)).catch((e) => showError(e.message)) }) : null,
          page.next ? h('button', { class: 'btn', 'data-testid': 'dead-next', text: 'Next page', onclick: () => { clearTimeout(timer); api(`${base}/dead-letters?after=${enc(page.next)}`).then((p) => drawDead(p, page.next)).catch((e) => showError(e.message)); } }) : null));
    };
    drawDead(d.deadLetters, undefined);
    append(view, deadSec);
    if (!meta.allowActions) append(view, h('p', { class: 'muted', 'data-testid': 'read-only-note', text: 'Read-only: start the dashboard with --allow-actions to claim, ack, replay or purge.' }));

    // Live: the figures refresh; the tables stay as they are while someone may be selecting rows.
    const refresh = async () => {
      if (seq !== routeSeq) return;
      try {
        const n = await api(base);
        if (seq !== routeSeq) return;
        const box = document.getElementById('group-stats');
        const vals = { consumers: fmtNum(n.group.consumers), lag: fmtLag(n.group), pending: fmtNum(n.group.pending), 'oldest pending': fmtDur(n.group.oldestPendingAgeMs), retrying: fmtNum(n.group.retrying), 'dead letters': fmtNum(n.group.deadLetters) };
        for (const [k, v] of Object.entries(vals)) { const b = box && box.querySelector(`[data-stat="${k}"] b`); if (b) b.textContent = v; }
      } catch (err) { showError(err.message); }
      schedule(refresh);
    };
    schedule(refresh);
  }

  // ---------- event ----------
  async function drawEvent(seq, home, id) {
    const d = await api(`topics/${enc(home)}/events/${enc(id)}`);
    if (seq !== routeSeq) return;
    clear(view);
    append(view, h('div', { class: 'page-head' }, h('h1', { class: 'mono', 'data-testid': 'event-title', text: d.partitionedId || d.laneId || d.id }), h('span', { class: 'muted', text: `in ${d.home}` })));
    append(view, h('section', { class: 'card' }, h('div', { class: 'kv' },
      h('span', { class: 'k', text: 'published' }), h('span', { text: d.publishedAt ? fmtTime(d.publishedAt) : '–' }),
      h('span', { class: 'k', text: 'in stream' }), h('span', { text: d.inStream ? 'yes' : 'no' }),
      h('span', { class: 'k', text: 'payload from' }), h('span', { text: d.payloadFrom || 'unavailable' }),
      d.priority ? [h('span', { class: 'k', text: 'lane' }), h('span', { 'data-testid': 'event-lane', text: d.priority })] : null,
      d.delayedId ? [h('span', { class: 'k', text: 'delayed id' }), h('code', { text: d.delayedId })] : null,
      d.dueAt ? [h('span', { class: 'k', text: 'due' }), h('span', { text: fmtTime(d.dueAt) })] : null,
      traceRows(d.trace))));
    const groups = Object.keys(d.status).sort();
    append(view, h('section', { class: 'card' }, h('h2', { text: 'Status in every group' }), h('div', { class: 'table-wrap' }, h('table', { 'data-testid': 'event-status' },
      h('thead', {}, h('tr', {}, ['group', 'state', 'attempts', 'consumer', 'updated', 'next attempt', 'error'].map((c) => h('th', { text: c })))),
      h('tbody', {}, groups.length ? groups.map((g) => { const s = d.status[g]; return h('tr', { 'data-group-status': g },
        h('td', {}, link(`#/g/${enc(d.home)}/${enc(g)}`, g)),
        h('td', {}, stateChip(s.state)),
        h('td', { class: 'num', text: fmtNum(s.attempts) }),
        h('td', { class: 'mono', text: s.consumer || '' }),
        h('td', { class: 'nowrap', text: s.updatedAt ? fmtWhen(s.updatedAt) : '' }),
        h('td', { class: 'nowrap', text: s.nextAttemptAt ? fmtWhen(s.nextAttemptAt) : '' }),
        h('td', { class: 'error', text: s.error || '' })); }) : h('tr', {}, h('td', { colspan: 7, class: 'muted', text: 'no group' })))))));
    append(view, h('div', { class: 'cards two' },
      h('section', { class: 'card' }, h('h2', { text: 'Payload' }), h('pre', { class: 'json', 'data-testid': 'payload', text: pretty(d.payload) })),
      h('section', { class: 'card' }, h('h2', { text: 'Headers' }), h('pre', { class: 'json', 'data-testid': 'headers', text: pretty(d.headers) }))));
    if (d.deadLetters.length) {
      append(view, h('section', { class: 'card', 'data-testid': 'event-dead-letters' }, h('h2', { text: 'Dead letters of this event' }), d.deadLetters.map((x) => h('div', { class: 'dl' },
        h('div', { class: 'kv' },
          h('span', { class: 'k', text: 'group' }), link(`#/g/${enc(d.home)}/${enc(x.group)}`, x.group),
          h('span', { class: 'k', text: 'dead-letter id' }), h('code', { text: x.deadLetterId }),
          h('span', { class: 'k', text: 'reason' }), h('span', { text: x.reason }),
          h('span', { class: 'k', text: 'attempts' }), h('span', { text: fmtNum(x.attempts) }),
          h('span', { class: 'k', text: 'error' }), h('span', { class: 'error', text: x.error }))))));
    }
    schedule(() => { if (seq === routeSeq) render(); });
  }

  /** The event's trace (W3C traceparent header): its trace id (linked when the dashboard has a traceUrl), span, sampled flag. */
  function traceRows(t) {
    if (!t) return null;
    if (t.invalid) return [h('span', { class: 'k', text: 'traceparent' }), h('span', { 'data-testid': 'trace-invalid', class: 'error', text: `malformed (${t.invalid}): ${t.raw}` })];
    const id = meta.traceUrl && /^[0-9a-f]{32}$/.test(t.traceId)
      ? link(meta.traceUrl.split('{traceId}').join(t.traceId), t.traceId, { class: 'mono', 'data-testid': 'trace-id', target: '_blank', rel: 'noopener noreferrer' })
      : h('code', { 'data-testid': 'trace-id', text: t.traceId });
    return [
      h('span', { class: 'k', text: 'trace id' }), id,
      h('span', { class: 'k', text: 'publish span' }), h('code', { 'data-testid': 'trace-span', text: `${t.spanId}${t.sampled ? ' (sampled)' : ' (not sampled)'}` }),
      t.traceState ? [h('span', { class: 'k', text: 'tracestate' }), h('code', { text: t.traceState })] : null,
    ];
  }

  // ---------- search ----------
  async function drawSearch(seq, q) {
    document.getElementById('search-input').value = q;
    const d = await api(`search?q=${enc(q)}`);
    if (seq !== routeSeq) return;
    clear(view);
    append(view, h('div', { class: 'page-head' }, h('h1', { text: 'Search' }), h('span', { class: 'muted', text: `“${q}”` })));
    append(view, h('section', { class: 'card' }, d.hits.length === 0
      ? h('p', { class: 'empty', 'data-testid': 'no-hits', text: 'Nothing found: no event with that id, no delayed id, no idempotency key in any topic under this prefix.' })
      : h('ul', { class: 'hits', 'data-testid': 'hits' }, d.hits.map((x) => h('li', {},
        link(`#/e/${enc(x.home)}/${enc(x.eventId)}`, `${x.home} · ${x.eventId}`, { class: 'mono', 'data-testid': 'hit' }),
        h('span', { class: 'muted', text: ` (${x.kind === 'idempotency' ? `idempotency key ${x.id}` : x.kind === 'delayed' ? `delayed id ${x.id}` : 'event id'})` }))))));
  }

  // ---------- start ----------
  document.getElementById('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = document.getElementById('search-input').value.trim();
    if (q) location.hash = `#/search/${enc(q)}`;
  });
  window.addEventListener('hashchange', () => render());
  api('meta').then((m) => {
    meta = m;
    const mode = document.getElementById('mode');
    mode.textContent = m.allowActions ? 'actions on' : 'read-only';
    mode.className = `mode ${m.allowActions ? 'actions' : 'ro'}`;
    document.title = `streamfan · ${m.prefix}`;
    connectLive();
    render();
  }).catch((err) => { showError(err.message); document.body.dataset.ready = 'true'; });
})();
