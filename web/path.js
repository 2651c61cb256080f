// dockmap packet paths: pick a published port or two ends, ask /api/path, light the path up on
// the drawing hop by hop and list its hops with their evidence in the side panel.
// Every engine or kernel string is put in the page with textContent, never as markup.
//
// Globals: defines window.dockmapPaths; uses window.dockmap, window.dockmapDetails.
'use strict';

(() => {
  const dm = window.dockmap;
  if (!dm) return;
  const $ = (s) => document.querySelector(s);
  const menu = $('#paths');
  const portsBox = $('#path-ports');
  const between = $('#path-between');
  const fromInput = $('#path-from');
  const toInput = $('#path-to');
  const fromList = $('#path-from-list');
  const toList = $('#path-to-list');
  if (!menu || !portsBox || !between) return;

  /** Milliseconds between two hops lighting up. */
  const STEP = 90;
  /** The answer shown (with `reveal`, `filtered`, `edge_ends`), and which of its paths is lit (-1: all). */
  let shown = null;
  let focus = -1;
  let token = 0;
  let timers = [];
  let hitTimer = 0;
  let picked = false;
  /** The question shown (API parameters). */
  let asked = null;
  let askedGen = 0;

  const { el } = window.dockmapDetails;

  // ---- the question <-> the URL ---------------------------------------------------

  /** `port:8080/tcp@node1` (node optional) to API parameters; null when it is not one. */
  function parsePathParam(v) {
    const m = /^port:(\d{1,5})(?:\/([a-z]+))?(?:@(.+))?$/i.exec(v || '');
    if (!m) return null;
    const p = { port: m[1], protocol: (m[2] || 'tcp').toLowerCase() };
    if (m[3]) p.node = m[3];
    return p;
  }

  /** The question as the page URL keeps it. */
  function urlParams(q) {
    if (q.from !== undefined) return { from: q.from, to: q.to };
    return { path: `port:${q.port}/${q.protocol || 'tcp'}${q.node ? '@' + q.node : ''}` };
  }

  function questionWords(q) {
    if (q.kind === 'between') return `${q.from} → ${q.to}`;
    return `${q.port}/${q.protocol}` + (q.node ? ` on ${q.node}` : ' on every node');
  }

  // ---- the pickers ---------------------------------------------------------------

  async function getJson(path, params) {
    const r = await fetch(dm.apiUrl(path, params));
    let body = null;
    try {
      body = await r.json();
    } catch (_) {
      /* not JSON: say the status */
    }
    if (!r.ok) throw new Error((body && body.error) || `the server answered ${r.status}`);
    return body;
  }

  async function loadPickers() {
    if (picked) return;
    picked = true;
    portsBox.textContent = '';
    portsBox.appendChild(el('p', 'Loading…', 'muted'));
    try {
      const [ports, ends] = await Promise.all([getJson('/api/ports'), getJson('/api/path/ends')]);
      renderPorts(ports.ports);
      renderEnds(ends.ends);
    } catch (err) {
      picked = false;
      portsBox.textContent = '';
      portsBox.appendChild(el('p', `Cannot list: ${err.message}`, 'error'));
    }
  }

  function renderPorts(ports) {
    portsBox.textContent = '';
    if (!ports.length) {
      portsBox.appendChild(el('p', 'No published ports.', 'muted'));
      return;
    }
    // A routing-mesh port answers on every node: one button asks for all of them at once.
    const mesh = new Map();
    for (const p of ports) if (p.mode === 'ingress') mesh.set(`${p.port}/${p.protocol}`, p);
    if (mesh.size) {
      const group = el('div', null, 'pp-node');
      group.appendChild(el('h5', 'Routing mesh, every node'));
      const ul = el('ul');
      for (const p of mesh.values()) {
        const li = el('li');
        li.appendChild(portButton(p, false));
        ul.appendChild(li);
      }
      group.appendChild(ul);
      portsBox.appendChild(group);
    }
    const byNode = new Map();
    for (const p of ports) {
      if (!byNode.has(p.node)) byNode.set(p.node, []);
      byNode.get(p.node).push(p);
    }
    for (const [node, list] of byNode) {
      const group = el('div', null, 'pp-node');
      group.appendChild(el('h5', node));
      const ul = el('ul');
      for (const p of list) {
        const li = el('li');
        li.appendChild(portButton(p, true));
        ul.appendChild(li);
      }
      group.appendChild(ul);
      portsBox.appendChild(group);
    }
  }

  function portButton(p, onNode) {
    const b = el('button', null, 'pp-port');
    b.type = 'button';
    b.dataset.port = String(p.port);
    b.dataset.protocol = p.protocol;
    if (onNode) b.dataset.node = p.node;
    b.appendChild(el('b', `${p.port}/${p.protocol}`));
    b.appendChild(el('span', ` → ${p.target}:${p.target_port}`));
    b.appendChild(el('span', ` ${p.mode}`, 'muted'));
    return b;
  }

  function option(value, label) {
    const o = document.createElement('option');
    o.value = value;
    if (label) o.label = label;
    return o;
  }

  function renderEnds(ends) {
    fromList.textContent = '';
    toList.textContent = '';
    toList.appendChild(option('internet', 'the internet (egress)'));
    for (const e of ends) {
      const label = `${e.kind}${e.node ? ' on ' + e.node : ''}${e.ips && e.ips.length ? ' · ' + e.ips.join(', ') : ''}`;
      // A host's uplink is where a client outside comes from (direct access), never a destination.
      if (e.kind === 'container' || e.kind === 'interface') fromList.appendChild(option(e.name, label));
      if (e.kind !== 'interface') toList.appendChild(option(e.name, label));
    }
  }

  menu.addEventListener('toggle', () => {
    if (menu.open) loadPickers();
  });

  portsBox.addEventListener('click', (ev) => {
    const b = ev.target.closest('button.pp-port');
    if (!b) return;
    menu.open = false;
    const q = { port: b.dataset.port, protocol: b.dataset.protocol };
    if (b.dataset.node) q.node = b.dataset.node;
    trace(q);
  });

  between.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const from = fromInput.value.trim();
    const to = toInput.value.trim();
    if (!from || !to) {
      (from ? toInput : fromInput).focus();
      return;
    }
    menu.open = false;
    trace({ from, to });
  });

  // ---- asking and drawing ------------------------------------------------------

  /** Ask and show. `again`: the same question on a new snapshot: keep the panel's place and
   *  the picture where they are until the answer comes. */
  async function trace(q, again) {
    const mine = ++token;
    if (!again) stopWatching('');
    asked = q;
    askedGen = dm.generation();
    // The messages sit in a `.paths` box too: a refresh then knows the panel is the path's.
    const body = again ? null : el('div', null, 'paths');
    if (body) {
      body.appendChild(el('h2', 'Path'));
      body.appendChild(el('p', 'Tracing…', 'muted'));
      dm.panel().appendChild(body);
    }
    const params = dm.viewQuery();
    for (const [k, v] of Object.entries(q)) params.set(k, v);
    let d;
    try {
      d = await getJson('/api/path', params);
    } catch (err) {
      if (mine !== token || !body) return;
      body.textContent = '';
      body.appendChild(el('h2', 'Path'));
      body.appendChild(el('p', `No path: ${err.message}`, 'error'));
      return;
    }
    if (mine !== token) return;
    shown = d;
    focus = -1;
    dm.setUrlExtra(urlParams(q));
    if (d.reveal.length) await dm.open(d.reveal);
    if (mine !== token) return;
    // Asked again after a refresh: the panel is redrawn only if it still shows the path.
    if (!again || document.querySelector('#panel-body .paths')) renderPanel(d);
    light(!again);
    if (!again) frameLit();
  }

  function pathsLit() {
    if (!shown) return [];
    return focus >= 0 ? [shown.paths[focus]] : shown.paths;
  }

  /** Show the lit hops together; a namespace box counts only when nothing smaller is lit. */
  function frameLit() {
    const nodes = dm.nodes();
    const ids = new Set();
    for (const p of pathsLit()) for (const h of p.hops) if (h.element && nodes.has(h.element)) ids.add(h.element);
    const leaves = [...ids].filter((id) => !nodes.get(id).classList.contains('box'));
    dm.frame(leaves.length ? leaves : [...ids]);
  }

  function clearLight() {
    for (const t of timers) clearTimeout(t);
    timers = [];
    const map = document.getElementById('map');
    if (!map) return;
    map.classList.remove('p-dim');
    for (const x of map.querySelectorAll('.p-hop, .p-on, .p-blocked, .p-broken, .p-unknown, .p-end')) {
      x.classList.remove('p-hop', 'p-on', 'p-blocked', 'p-broken', 'p-unknown', 'p-end');
    }
  }

  const VERDICT_CLASS = { blocked: 'p-blocked', broken: 'p-broken', unknown: 'p-unknown' };

  /** Light the paths up: every hop's element, the edges between hops; the rest dimmed.
   *  `animate`: one hop after the other, as the packet goes. */
  function light(animate) {
    clearLight();
    const map = document.getElementById('map');
    if (!map || !shown) return;
    const nodes = dm.nodes();
    const edgesByEnds = new Map();
    for (const e of map.querySelectorAll('.e')) {
      for (const key of [`${e.dataset.s}\n${e.dataset.t}`, `${e.dataset.t}\n${e.dataset.s}`]) {
        if (!edgesByEnds.has(key)) edgesByEnds.set(key, []);
        edgesByEnds.get(key).push(e);
      }
    }
    // Step i lights the i-th hop of every lit path at once.
    const steps = [];
    for (const [pi, p] of shown.paths.entries()) {
      if (focus >= 0 && pi !== focus) continue;
      p.hops.forEach((h, i) => {
        const at = (steps[i] = steps[i] || []);
        // The server says which graph edges join this hop to the previous one.
        for (const [s, t] of shown.links[pi][i]) for (const e of edgesByEnds.get(`${s}\n${t}`) || []) at.push([e, 'p-on']);
        if (h.element && nodes.has(h.element)) {
          const g = nodes.get(h.element);
          at.push([g, 'p-hop']);
          const v = VERDICT_CLASS[h.verdict.verdict];
          if (v) at.push([g, v]);
          if (i === p.hops.length - 1) at.push([g, 'p-end']);
        }
      });
    }
    // Nothing of it is drawn (no path, or every hop filtered): leave the drawing as it is.
    if (!steps.some((s) => s && s.length)) return;
    map.classList.add('p-dim');
    const apply = (list) => {
      for (const [x, cls] of list) x.classList.add(cls);
    };
    if (!animate) {
      for (const s of steps) apply(s || []);
      return;
    }
    steps.forEach((s, i) => timers.push(setTimeout(() => apply(s || []), i * STEP)));
  }

  // A new drawing (unfold, filter): light the path up again, at once. A new snapshot: ask again
  // (its hops may have changed), and list the ports anew when the menu opens.
  document.addEventListener('dockmap:drawn', () => {
    if (!asked) return;
    if (askedGen !== dm.generation()) {
      picked = false;
      trace(asked, true);
    } else if (shown) {
      light(false);
    }
  });

  // ---- the side panel ----------------------------------------------------------

  function verdictWords(v) {
    if (v.verdict === 'pass') return null;
    return `${v.verdict}: ${v.why}`;
  }

  function renderPanel(d) {
    const body = dm.panel();
    const root = el('div', null, 'paths');
    root.appendChild(el('h2', `Path ${questionWords(d.question)}`));
    const n = d.paths.length;
    root.appendChild(el('p', n === 1 ? '1 path' : `${n} paths`, 'kind'));
    const clear = el('button', 'Clear path', 'act');
    clear.type = 'button';
    clear.dataset.pathAct = 'clear';
    root.appendChild(clear);
    const watchBtn = el('button', watching ? 'Stop watching' : 'Watch counters', 'act');
    watchBtn.type = 'button';
    watchBtn.dataset.pathAct = 'watch';
    watchBtn.title = 'Show the kernel\'s packet counters of every hop as they change';
    root.appendChild(watchBtn);
    root.appendChild(el('p', '', 'pp-watch muted'));
    for (const note of d.notes || []) root.appendChild(el('p', note, 'pp-note'));
    if (d.filtered.length) {
      root.appendChild(
        el('p', `${d.filtered.length} hop(s) hidden by the filters in force: turn them off to see every hop.`, 'pp-note'),
      );
    }
    d.paths.forEach((p, i) => {
      const sec = el('section', null, `pp o-${p.outcome}${focus === i ? ' focused' : ''}`);
      sec.dataset.path = String(i);
      const head = el('h3', null, 'pp-title');
      head.title = 'Light up this path alone';
      head.appendChild(el('span', p.outcome, `badge o-${p.outcome}`));
      head.appendChild(el('span', ` ${p.title}`));
      sec.appendChild(head);
      sec.appendChild(el('p', `${p.kind} · ${p.id}`, 'id'));
      sec.appendChild(el('p', '', 'pp-stop'));
      const ol = el('ol', null, 'hops');
      p.hops.forEach((h, hi) => {
        const v = h.verdict.verdict;
        const li = el('li', null, `hop v-${v}`);
        li.dataset.hop = String(hi);
        if (h.element) {
          li.dataset.el = h.element;
          li.title = 'Centre it on the drawing';
        }
        const top = el('div', null, 'hop-head');
        top.appendChild(el('span', h.text, 'hop-text'));
        top.appendChild(el('span', ` ${h.node}`, 'muted'));
        li.appendChild(top);
        if (h.element) li.appendChild(el('div', h.element, 'hop-el'));
        const why = verdictWords(h.verdict);
        if (why) li.appendChild(el('div', why, `verdict v-${v}`));
        for (const ev of h.evidence || []) {
          const box = el('div', null, 'ev');
          box.appendChild(el('div', `${ev.kind} · ${ev.namespace}`, 'ev-kind'));
          box.appendChild(el('pre', ev.text, 'ev-text'));
          li.appendChild(box);
        }
        li.appendChild(el('div', '', 'hop-counters'));
        ol.appendChild(li);
      });
      sec.appendChild(ol);
      root.appendChild(sec);
    });
    body.appendChild(root);
  }

  // ---- watching the counters ---------------------------------------------------

  /** The open counter stream, if any. */
  let watching = null;

  function stopWatching(why) {
    if (watching) watching.close();
    watching = null;
    const btn = document.querySelector('#panel-body .paths [data-path-act="watch"]');
    if (btn) btn.textContent = 'Watch counters';
    const note = document.querySelector('#panel-body .paths .pp-watch');
    if (note) note.textContent = why || '';
  }

  // A page kept in the back-forward cache kept its counter stream, one of the six connections a
  // browser opens to a server (app.js closes the live stream the same way): leaving stops the watch.
  window.addEventListener('pagehide', () => {
    if (watching) stopWatching('Stopped when the page was left: watch again to go on.');
  });

  function counterWords(c) {
    if (c.now.error) return `${c.label}: unreadable (${c.now.error})`;
    const unit = c.kind === 'conntrack' && c.now.packets == null ? 'flows' : 'packets';
    const total = c.kind === 'conntrack' ? c.now.entries : c.now.packets;
    const since = c.since_start == null ? '' : ` ${c.since_start >= 0 ? '+' : ''}${c.since_start} ${unit}`;
    const drops = c.now.dropped ? `, ${c.now.dropped} dropped` : '';
    return `${c.label}:${since} (${total} in all${drops})`;
  }

  function showCounters(u) {
    const root = document.querySelector('#panel-body .paths');
    if (!root) return;
    const byHop = new Map();
    for (const c of u.hops) {
      const k = `${c.path}/${c.hop}`;
      if (!byHop.has(k)) byHop.set(k, []);
      byHop.get(k).push(c);
    }
    for (const sec of root.querySelectorAll('section.pp')) {
      const pi = sec.dataset.path;
      for (const li of sec.querySelectorAll('li.hop')) {
        const box = li.querySelector('.hop-counters');
        if (!box) continue;
        box.textContent = '';
        const cs = byHop.get(`${pi}/${li.dataset.hop}`) || [];
        for (const c of cs) {
          const moved = (c.since_last || 0) > 0;
          box.appendChild(el('div', counterWords(c), `ctr${moved ? ' moved' : ''}${c.now.error ? ' unread' : ''}`));
        }
      }
      const stop = u.stops.find((s) => String(s.path) === pi);
      const line = sec.querySelector('.pp-stop');
      if (line) line.textContent = stop ? stop.text : '';
    }
    const note = root.querySelector('.pp-watch');
    if (note) note.textContent = `Watching: counters read ${Math.round(u.t_ms / 1000)} s after the start. Interface counters count every packet through them, not only this path's.`;
  }

  function startWatching() {
    if (!asked) return;
    stopWatching('');
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(asked)) params.set(k, v);
    const es = new EventSource(`/api/path/watch?${params}`);
    watching = es;
    const btn = document.querySelector('#panel-body .paths [data-path-act="watch"]');
    if (btn) btn.textContent = 'Stop watching';
    const note = document.querySelector('#panel-body .paths .pp-watch');
    if (note) note.textContent = 'Reading counters…';
    es.addEventListener('counters', (ev) => {
      if (watching !== es) return;
      showCounters(JSON.parse(ev.data));
    });
    es.addEventListener('end', (ev) => {
      if (watching !== es) return;
      stopWatching(JSON.parse(ev.data).why);
    });
    es.onerror = async () => {
      if (watching !== es) return;
      // A refused watch (a saved snapshot, nothing to count) closes at once: say why.
      let why = 'the counter stream stopped';
      try {
        const r = await fetch(`/api/path/watch?${params}`, { method: 'HEAD' });
        if (!r.ok) why = `cannot watch: HTTP ${r.status}`;
      } catch (_) { /* keep the plain words */ }
      if (watching === es) stopWatching(why);
    };
  }

  function clearPath() {
    stopWatching('');
    token++;
    shown = null;
    asked = null;
    focus = -1;
    clearLight();
    dm.setUrlExtra({});
    const root = document.querySelector('#panel-body .paths');
    if (root) document.getElementById('panel').hidden = true;
  }

  async function centre(id) {
    if (!dm.nodes().has(id) && shown) await dm.open(shown.reveal);
    const g = dm.nodes().get(id);
    if (!g) return;
    dm.center(id);
    // Its own timer: relighting the path (which clears the path's timers) must not leave it marked.
    clearTimeout(hitTimer);
    for (const x of document.querySelectorAll('#map .n.hit')) x.classList.remove('hit');
    g.classList.add('hit');
    hitTimer = setTimeout(() => g.classList.remove('hit'), 1200);
  }

  document.getElementById('panel-body').addEventListener('click', (ev) => {
    if (!ev.target.closest('.paths')) return;
    if (ev.target.closest('[data-path-act="clear"]')) {
      clearPath();
      return;
    }
    if (ev.target.closest('[data-path-act="watch"]')) {
      if (watching) stopWatching('');
      else startWatching();
      return;
    }
    const hop = ev.target.closest('li.hop[data-el]');
    if (hop) {
      centre(hop.dataset.el);
      return;
    }
    const title = ev.target.closest('.pp-title');
    if (title && shown) {
      const i = Number(title.parentElement.dataset.path);
      focus = focus === i ? -1 : i;
      for (const s of document.querySelectorAll('#panel-body .pp')) {
        s.classList.toggle('focused', Number(s.dataset.path) === focus);
      }
      light(true);
      frameLit();
    }
  });

  // ---- start: a link with a path reopens it ------------------------------------

  const url = new URLSearchParams(location.search);
  const fromUrl = url.get('from');
  const toUrl = url.get('to');
  const port = parsePathParam(url.get('path'));
  if (fromUrl && toUrl) {
    fromInput.value = fromUrl;
    toInput.value = toUrl;
    trace({ from: fromUrl, to: toUrl });
  } else if (port) {
    trace(port);
  }
  window.dockmapPaths = { trace, clear: clearPath, shown: () => shown, watch: startWatching };
})();
