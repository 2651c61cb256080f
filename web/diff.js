// dockmap diff page: B drawn with what A had put back, the changes marked and listed.
// The server lays out, draws and marks (classes added / removed / changed); this moves the
// picture, lists the changes (from /api/diff) and shows one change's attributes, old → new.
// Every engine or kernel string goes in with textContent, never as markup.
//
// Globals: defines window.dockmap, window.dockmapReady; uses window.dockmapPanZoom, window.dockmapDetails.
'use strict';

(() => {
  const $ = (s) => document.querySelector(s);
  const page = document.body;
  const A = page.dataset.a || '';
  const B = page.dataset.b || '';
  const stage = $('#stage');
  const world = $('#world');
  const list = $('#list');
  const detail = $('#detail');
  const detailBody = $('#detail-body');
  const statusText = $('#status-text');

  let svg = null;
  let W = 1;
  let H = 1;
  let nodes = new Map();
  let diff = null;
  /** Element changes, edge changes and firewall chains by the element id they belong to. */
  let byId = new Map();
  let edgesOf = new Map();
  let chainsOf = new Map();
  let selected = null;

  const base = `/diff/${encodeURIComponent(A)}/${encodeURIComponent(B)}`;

  const { el } = window.dockmapDetails;

  // ---- the drawing ---------------------------------------------------------------

  function setup(s) {
    svg = s;
    W = Number(svg.dataset.w) || 1;
    H = Number(svg.dataset.h) || 1;
    stage.classList.add('live');
    nodes = new Map();
    for (const g of svg.querySelectorAll('.n[data-id]')) nodes.set(g.dataset.id, g);
    svg.classList.toggle('dark', document.documentElement.classList.contains('dark'));
    svg.classList.toggle('fade', $('#fade').checked);
    if (selected && nodes.has(selected)) nodes.get(selected).classList.add('sel');
  }

  const pz = window.dockmapPanZoom({
    stages: [stage],
    worlds: [world],
    size: () => (svg ? { W, H } : null),
    keys: { Escape: () => closeDetail() },
  });

  function center(id) {
    const b = window.dockmapPanZoom.box(nodes.get(id));
    if (!b) return false;
    const r = stage.getBoundingClientRect();
    // The detail floats over the right of the stage: centre in what it leaves visible.
    const covered = detail.hidden ? 0 : Math.min(r.width / 2, detail.getBoundingClientRect().width);
    pz.centerOn(b, (r.width - covered) / 2, r.height / 2);
    return true;
  }

  /** Redraw with `id` unfolded into view (it was folded inside something); `all`: with no
   *  filter either (a loopback, say, is hidden by default). */
  let revealToken = 0;
  async function reveal(id, all) {
    // As the main page's show(): only the drawing asked for last goes on the page, so a slow
    // answer for an element picked before never replaces the one picked after it.
    const token = ++revealToken;
    const p = new URLSearchParams(page.dataset.view || '');
    p.set('sel', id);
    if (all) p.set('hide', '');
    const r = await fetch(`${base}/scene.svg?${p}`);
    if (!r.ok) throw new Error(`the server answered ${r.status}`);
    const text = await r.text();
    if (token !== revealToken) return;
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const fresh = document.importNode(doc.documentElement, true);
    svg.replaceWith(fresh);
    setup(fresh);
  }

  // ---- the list ------------------------------------------------------------------

  const MARK = { added: '+', removed: '−', changed: '~' };

  function entry(id, change, kind, label, extra) {
    const li = el('li', null, `entry ${change}`);
    li.dataset.id = id;
    const row = el('div', null, 'row');
    row.appendChild(el('span', MARK[change] || '·', 'mark'));
    row.appendChild(el('span', kind, 'kind'));
    row.appendChild(el('span', label, 'label'));
    if (extra) row.appendChild(el('span', extra, 'extra'));
    li.appendChild(row);
    li.title = id;
    return li;
  }

  /** Addresses of an element added or removed, to tell it from its siblings at a glance. */
  function brief(e) {
    if (e.change === 'changed') {
      return e.attrs.map((a) => a.name).slice(0, 3).join(', ') + (e.attrs.length > 3 ? ', …' : '');
    }
    const items = [];
    for (const a of e.attrs) {
      if (a.name === 'ips' || a.name === 'addresses' || a.name === 'subnets') {
        for (const v of (a.added || []).concat(a.removed || [])) items.push(String(v));
      }
    }
    return items.join(', ');
  }

  function section(title, count) {
    const s = el('section', null, 'group');
    const h = el('h3');
    h.appendChild(el('span', title));
    h.appendChild(el('span', ` ${count}`, 'count'));
    s.appendChild(h);
    const ul = el('ul', null, 'tree');
    s.appendChild(ul);
    list.appendChild(s);
    return ul;
  }

  function buildList(d) {
    list.textContent = '';
    byId = new Map();
    edgesOf = new Map();
    chainsOf = new Map();
    for (const e of d.elements) byId.set(e.id, e);
    for (const x of d.edges) {
      for (const end of [x.source, x.target]) {
        if (!edgesOf.has(end)) edgesOf.set(end, []);
        edgesOf.get(end).push(x);
      }
    }
    for (const c of d.firewall) {
      if (!chainsOf.has(c.netns)) chainsOf.set(c.netns, []);
      chainsOf.get(c.netns).push(c);
    }
    if (d.equal) {
      list.appendChild(el('p', 'A and B are the same (noise aside).', 'muted'));
      return;
    }
    for (const change of ['added', 'removed', 'changed']) {
      const group = d.elements.filter((e) => e.change === change);
      if (!group.length) continue;
      const ul = section(change[0].toUpperCase() + change.slice(1), group.length);
      const ids = new Set(group.map((e) => e.id));
      const kids = new Map();
      const roots = [];
      for (const e of group) {
        if (e.under && e.under !== e.id && ids.has(e.under)) {
          if (!kids.has(e.under)) kids.set(e.under, []);
          kids.get(e.under).push(e);
        } else roots.push(e);
      }
      const seen = new Set();
      const add = (parent, e) => {
        if (seen.has(e.id)) return;
        seen.add(e.id);
        const li = entry(e.id, e.change, e.kind, e.label, brief(e));
        parent.appendChild(li);
        const sub = kids.get(e.id);
        if (sub) {
          const inner = el('ul', null, 'tree');
          li.appendChild(inner);
          for (const k of sub) add(inner, k);
        }
      };
      for (const r of roots) add(ul, r);
    }
    // Edges whose ends did not come or go with them: a new link between things that were there.
    const loose = d.edges.filter((x) => {
      const s = byId.get(x.source);
      const t = byId.get(x.target);
      return !(s && s.change === x.change) && !(t && t.change === x.change);
    });
    if (loose.length) {
      const ul = section('Connections', loose.length);
      for (const x of loose) {
        const li = entry(x.source, x.change, x.kind, `${x.source} → ${x.target}`);
        li.dataset.edge = x.id;
        ul.appendChild(li);
      }
    }
    if (d.findings.length) {
      const ul = section('Findings', d.findings.length);
      for (const f of d.findings) {
        const li = entry(f.elements[0] || '', f.change, f.severity, f.message);
        li.dataset.finding = f.id;
        ul.appendChild(li);
      }
    }
  }

  function applyFilter() {
    const text = $('#filter').value.trim().toLowerCase();
    for (const li of list.querySelectorAll('li.entry')) {
      const hit = !text || li.textContent.toLowerCase().includes(text) || (li.dataset.id || '').toLowerCase().includes(text);
      li.classList.toggle('nomatch', !hit);
    }
  }

  // ---- one change in detail ------------------------------------------------------

  function valueText(v) {
    if (v === null || v === undefined) return '(none)';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  /** One attribute: `old → new`, or the items a list gained (+) and lost (−). */
  function attrRows(dl, a) {
    dl.appendChild(el('dt', a.name));
    const dd = el('dd');
    if ('old' in a || 'new' in a) {
      const line = el('div', null, 'change');
      line.appendChild(el('span', valueText(a.old), 'old'));
      line.appendChild(el('span', ' → ', 'arrow'));
      line.appendChild(el('span', valueText(a.new), 'new'));
      dd.appendChild(line);
    }
    for (const v of (a.added || []).slice(0, 200)) dd.appendChild(el('div', `+ ${valueText(v)}`, 'plus'));
    for (const v of (a.removed || []).slice(0, 200)) dd.appendChild(el('div', `− ${valueText(v)}`, 'minus'));
    const more = Math.max(0, (a.added || []).length - 200) + Math.max(0, (a.removed || []).length - 200);
    if (more) dd.appendChild(el('div', `… ${more} more`, 'muted'));
    dl.appendChild(dd);
  }

  function showDetail(id) {
    detail.hidden = false;
    detailBody.textContent = '';
    const e = byId.get(id);
    const g = nodes.get(id);
    const label = e ? e.label : g ? (g.querySelector('text') || {}).textContent || id : id;
    detailBody.appendChild(el('h2', label));
    const what = e ? `${e.kind} · ${e.change}` : 'no change between A and B';
    detailBody.appendChild(el('p', what, `kind ${e ? e.change : ''}`));
    detailBody.appendChild(el('p', id, 'id'));
    if (e && e.attrs.length) {
      const title = e.change === 'added' ? 'What it has (in B)' : e.change === 'removed' ? 'What it had (in A)' : 'What changed (A → B)';
      detailBody.appendChild(el('h3', title));
      const dl = el('dl', null, 'attrs');
      for (const a of e.attrs) attrRows(dl, a);
      detailBody.appendChild(dl);
    }
    const chains = chainsOf.get(id) || [];
    if (chains.length) {
      detailBody.appendChild(el('h3', `Firewall (${chains.length} chains)`));
      for (const c of chains) {
        const box = el('div', null, 'chain');
        box.appendChild(el('div', `${c.family} ${c.table} ${c.chain}${c.change === 'changed' ? '' : ' (' + c.change + ' chain)'}`, 'chain-head'));
        if (c.old_policy !== undefined || c.new_policy !== undefined) {
          box.appendChild(el('div', `policy ${c.old_policy || '(none)'} → ${c.new_policy || '(none)'}`));
        }
        for (const r of c.added) box.appendChild(el('div', `+ ${r}`, 'plus rule'));
        for (const r of c.removed) box.appendChild(el('div', `− ${r}`, 'minus rule'));
        if (c.reordered) box.appendChild(el('div', 'the same rules in another order', 'muted'));
        detailBody.appendChild(box);
      }
    }
    const edges = edgesOf.get(id) || [];
    if (edges.length) {
      detailBody.appendChild(el('h3', `Connections (${edges.length})`));
      const ul = el('ul', null, 'rel');
      for (const x of edges) {
        const li = el('li', null, x.change);
        const other = x.source === id ? x.target : x.source;
        li.appendChild(el('span', `${MARK[x.change]} ${x.kind} ${x.source === id ? '→' : '←'} `, 'muted'));
        const a = el('a', other, 'ref');
        a.href = '#';
        a.dataset.goto = other;
        li.appendChild(a);
        if (x.change === 'changed') {
          const dl = el('dl', null, 'attrs');
          for (const at of x.attrs) attrRows(dl, at);
          li.appendChild(dl);
        }
        ul.appendChild(li);
      }
      detailBody.appendChild(ul);
    }
  }

  async function select(id, opts) {
    if (selected && nodes.has(selected)) nodes.get(selected).classList.remove('sel');
    for (const li of list.querySelectorAll('li.entry.active')) li.classList.remove('active');
    selected = id;
    const li = list.querySelector(`li.entry[data-id="${CSS.escape(id)}"]`);
    if (li) {
      li.classList.add('active');
      if (opts && opts.scrollList) li.scrollIntoView({ block: 'nearest' });
    }
    showDetail(id);
    if (!nodes.has(id)) {
      try {
        await reveal(id, false);
        if (!nodes.has(id)) await reveal(id, true);
      } catch (err) {
        statusText.textContent = `Could not draw it: ${err.message}`;
      }
    }
    const g = nodes.get(id);
    if (g) g.classList.add('sel');
    if (opts && opts.center) center(id);
  }

  function closeDetail() {
    if (selected && nodes.has(selected)) nodes.get(selected).classList.remove('sel');
    selected = null;
    detail.hidden = true;
  }

  // ---- events ----------------------------------------------------------------------

  list.addEventListener('click', (ev) => {
    const li = ev.target.closest('li.entry');
    if (!li || !li.dataset.id) return;
    ev.stopPropagation();
    select(li.dataset.id, { center: true });
  });
  detailBody.addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-goto]');
    if (!a) return;
    ev.preventDefault();
    select(a.dataset.goto, { center: true, scrollList: true });
  });
  $('#detail-close').addEventListener('click', closeDetail);
  $('#filter').addEventListener('input', applyFilter);
  $('#fade').addEventListener('change', () => svg && svg.classList.toggle('fade', $('#fade').checked));

  stage.addEventListener('click', (ev) => {
    if (stage.dataset.justPanned) return;
    const g = ev.target.closest('.n[data-id]');
    if (g) select(g.dataset.id, { scrollList: true });
  });

  function setTheme(dark) {
    document.documentElement.classList.toggle('dark', dark);
    if (svg) svg.classList.toggle('dark', dark);
    try {
      localStorage.setItem('dockmap-theme', dark ? 'dark' : 'light');
    } catch (_) {
      /* private mode: the choice lasts this page only */
    }
  }
  $('#theme').addEventListener('click', () => setTheme(!document.documentElement.classList.contains('dark')));

  // ---- start -----------------------------------------------------------------------

  async function start() {
    let theme = null;
    try {
      theme = localStorage.getItem('dockmap-theme');
    } catch (_) {
      /* no storage: follow the system */
    }
    document.documentElement.classList.toggle('dark', theme ? theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches);
    const first = world.querySelector('svg');
    if (first) {
      setup(first);
      pz.fit();
    }
    try {
      const p = new URLSearchParams({ a: A, b: B });
      const r = await fetch(`/api/diff?${p}`);
      if (!r.ok) throw new Error(`the server answered ${r.status}`);
      diff = await r.json();
      buildList(diff);
    } catch (err) {
      list.textContent = '';
      list.appendChild(el('p', `Could not load the changes: ${err.message}`, 'error'));
    }
    // For tests: the page is drawn and the list is built.
    window.dockmap = { center, select, nodes: () => nodes, diff: () => diff };
    window.dockmapReady = performance.now();
    document.dispatchEvent(new CustomEvent('dockmap:ready'));
  }

  start();
})();
