// dockmap offline viewer: inlined into an exported HTML file, which it makes interactive with no
// server: pan and zoom, click an element to see its details, search the drawn elements.
// It fetches nothing (the file's own CSP forbids it). Every engine or kernel string goes in with
// textContent, never as markup.
//
// Globals: defines window.dockmap, window.dockmapReady; uses window.dockmapPanZoom, window.dockmapDetails.
'use strict';

(() => {
  const $ = (s) => document.querySelector(s);
  const stage = $('#stage');
  const world = $('#world');
  const panel = $('#panel');
  const panelBody = $('#panel-body');
  const svg = world.querySelector('svg');
  const data = JSON.parse($('#dm-data').textContent);
  const details = data.details || {};
  const W = Number(svg.dataset.w) || 1;
  const H = Number(svg.dataset.h) || 1;
  let sel = null;

  const nodes = new Map();
  for (const g of svg.querySelectorAll('.n[data-id]')) nodes.set(g.dataset.id, g);
  // Folding needs the server: the fold toggles of the drawing do nothing here.
  for (const t of svg.querySelectorAll('.tog')) t.remove();
  stage.classList.add('live');

  const pz = window.dockmapPanZoom({
    stages: [stage],
    worlds: [world],
    size: () => ({ W, H }),
    keys: {
      '/': (ev) => {
        ev.preventDefault();
        q.focus();
      },
      Escape: () => clearSelection(),
    },
  });
  function center(id) {
    const b = window.dockmapPanZoom.box(nodes.get(id));
    if (!b) return;
    const r = stage.getBoundingClientRect();
    pz.centerOn(b, r.width * 0.4, r.height / 2);
  }

  const { el } = window.dockmapDetails;
  function ref(id, text) {
    if (!details[id]) return el('span', text);
    const a = el('a', text, 'ref');
    a.href = '#';
    a.dataset.goto = id;
    return a;
  }

  function select(id, opts) {
    if (sel && nodes.has(sel)) nodes.get(sel).classList.remove('sel');
    sel = id;
    const g = nodes.get(id);
    if (g) g.classList.add('sel');
    if (opts && opts.center) center(id);
    showPanel(id);
  }
  function clearSelection() {
    if (sel && nodes.has(sel)) nodes.get(sel).classList.remove('sel');
    sel = null;
    panel.hidden = true;
  }

  function showPanel(id) {
    const d = details[id];
    panel.hidden = false;
    panelBody.textContent = '';
    if (!d) {
      panelBody.appendChild(el('h2', id));
      panelBody.appendChild(el('p', 'Not drawn in this export.', 'muted'));
      return;
    }
    window.dockmapDetails.render(panelBody, d, ref);
  }

  // ---- search over the embedded details ----------------------------------------

  const index = Object.entries(details).map(([id, d]) => ({
    id,
    label: d.element.label,
    kind: d.element.kind,
    text: (d.element.label + '\n' + id + '\n' + JSON.stringify(d.element.attrs)).toLowerCase(),
  }));
  const q = $('#q');
  const hitsList = $('#hits');
  let hits = [];
  function runSearch() {
    const t = q.value.trim().toLowerCase();
    hitsList.textContent = '';
    if (!t) {
      hitsList.hidden = true;
      hits = [];
      return;
    }
    const score = (x) => (x.label.toLowerCase() === t ? 0 : x.label.toLowerCase().startsWith(t) ? 1 : 2);
    hits = index.filter((x) => x.text.includes(t)).sort((a, b) => score(a) - score(b)).slice(0, 20);
    if (!hits.length) hitsList.appendChild(el('li', 'nothing found', 'muted'));
    hits.forEach((h, i) => {
      const li = el('li', null, i === 0 ? 'active' : '');
      li.dataset.index = String(i);
      li.appendChild(el('b', h.label));
      li.appendChild(el('span', ` ${h.kind}`, 'muted'));
      hitsList.appendChild(li);
    });
    hitsList.hidden = false;
  }
  q.addEventListener('input', runSearch);
  q.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      runSearch();
      if (hits.length) {
        hitsList.hidden = true;
        select(hits[0].id, { center: true });
      }
    } else if (ev.key === 'Escape') {
      hitsList.hidden = true;
      q.blur();
    }
  });
  hitsList.addEventListener('mousedown', (ev) => {
    const li = ev.target.closest('li[data-index]');
    if (li) {
      ev.preventDefault();
      hitsList.hidden = true;
      select(hits[Number(li.dataset.index)].id, { center: true });
    }
  });

  // ---- pan, zoom, click, keys ---------------------------------------------------

  stage.addEventListener('click', (ev) => {
    if (stage.dataset.justPanned) return;
    const g = ev.target.closest('.n[data-id]');
    if (g) select(g.dataset.id);
    else if (!ev.target.closest('.e')) clearSelection();
  });
  panelBody.addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-goto]');
    if (a) {
      ev.preventDefault();
      select(a.dataset.goto, { center: true });
    }
  });
  $('#panel-close').addEventListener('click', clearSelection);
  $('#theme').addEventListener('click', () => {
    const dark = !document.documentElement.classList.contains('dark');
    document.documentElement.classList.toggle('dark', dark);
    svg.classList.toggle('dark', dark);
  });

  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  document.documentElement.classList.toggle('dark', dark);
  svg.classList.toggle('dark', dark);
  pz.fit();
  const first = new URLSearchParams(data.view || '').get('sel');
  if (first && nodes.has(first)) select(first, { center: true });
  // For tests: the same handles the served page gives.
  window.dockmap = { center, select, nodes: () => nodes, details: () => details };
  window.dockmapReady = performance.now();
})();
