// dockmap compare page: two panes laid out over the same keys, so one pan and zoom moves both.
// Click an element or a listed difference: it is marked in both panes and its facts on each
// side are shown. Engine strings go in with textContent only.
//
// Globals: defines window.dockmapCompare, window.dockmapReady; uses window.dockmapPanZoom, window.dockmapDetails.
'use strict';

(() => {
  const $ = (s) => document.querySelector(s);
  const page = document.body;
  const sides = ['left', 'right'].map((name) => {
    const stage = $(`#stage-${name}`);
    const world = $(`#world-${name}`);
    const svg = world ? world.querySelector('svg') : null;
    const nodes = new Map();
    if (svg) for (const g of svg.querySelectorAll('.n[data-id]')) nodes.set(g.dataset.id, g);
    return { name, stage, world, svg, nodes };
  });
  const drawn = sides.every((s) => s.svg);
  let focus = null;

  // One transform for both panes: pan or zoom either and both move.
  const shown = sides.filter((s) => s.stage && s.svg);
  const pz = window.dockmapPanZoom({
    stages: shown.map((s) => s.stage),
    worlds: shown.map((s) => s.world),
    size: () => (drawn ? { W: Number(sides[0].svg.dataset.w) || 1, H: Number(sides[0].svg.dataset.h) || 1 } : null),
  });
  /** The element's box in whichever pane draws it (both panes share one layout). */
  function boxOf(id) {
    for (const s of sides) {
      const b = window.dockmapPanZoom.box(s.nodes.get(id));
      if (b) return b;
    }
    return null;
  }
  function center(id) {
    const b = boxOf(id);
    if (!b) return;
    const r = sides[0].stage.getBoundingClientRect();
    pz.centerOn(b, r.width / 2, r.height / 2);
  }

  const { el } = window.dockmapDetails;

  const info = $('#info');
  const list = $('#diff-list');
  function mark(id, opts) {
    for (const s of sides) {
      if (focus && s.nodes.has(focus)) s.nodes.get(focus).classList.remove('cmp-focus');
      if (s.nodes.has(id)) s.nodes.get(id).classList.add('cmp-focus');
    }
    focus = id;
    if (list) {
      for (const li of list.querySelectorAll('li.active')) li.classList.remove('active');
      for (const li of list.querySelectorAll('li[data-key]')) if (li.dataset.key === id) li.classList.add('active');
    }
    if (opts && opts.center) center(id);
    if (!info) return;
    info.hidden = false;
    info.textContent = '';
    info.appendChild(el('b', id));
    for (const s of sides) {
      const g = s.nodes.get(id);
      const where = page.dataset[s.name] || s.name;
      let state = 'not drawn';
      if (g) {
        if (g.classList.contains('cmp-gap')) state = 'missing';
        else if (g.classList.contains('cmp-only')) state = 'only here';
        else if (g.classList.contains('cmp-changed')) state = 'differs';
        else state = 'same';
      }
      const texts = g ? [...g.querySelectorAll(':scope > text:not(.far)')].map((t) => t.textContent).filter(Boolean) : [];
      info.appendChild(el('div', `${where}: ${state}${texts.length ? ' · ' + texts.join(' · ') : ''}`));
    }
  }

  for (const s of sides) {
    if (!s.stage || !s.svg) continue;
    s.stage.classList.add('live');
    s.stage.addEventListener('click', (ev) => {
      if (s.stage.dataset.justPanned) return;
      const g = ev.target.closest('.n[data-id]');
      const tog = ev.target.closest('.tog');
      if (g && tog) {
        // Folding is the server's: ask for both panes again with this element opened or shut.
        const p = new URLSearchParams(location.search);
        const act = tog.dataset.act === 'open' ? 'open' : 'shut';
        const other = act === 'open' ? 'shut' : 'open';
        const keep = p.getAll(other).filter((v) => v !== g.dataset.id);
        p.delete(other);
        for (const v of keep) p.append(other, v);
        p.append(act, g.dataset.id);
        location.href = '/compare?' + p.toString();
        return;
      }
      if (g) mark(g.dataset.id);
    });
  }
  if (list) {
    list.addEventListener('click', (ev) => {
      const li = ev.target.closest('li[data-key]');
      if (li) mark(li.dataset.key, { center: true });
    });
  }

  function withView(extra) {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(extra)) {
      p.delete(k);
      if (v !== null) p.set(k, v);
    }
    return '/compare?' + p.toString();
  }
  const form = $('#pick');
  if (form) {
    // The CSP allows no form submission: navigate instead.
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      location.href = withView({ left: f.get('left') || '', right: f.get('right') || '' });
    });
  }
  $('#unfold-all').addEventListener('click', () => {
    location.href = withView({ open: '*' });
  });

  pz.fit();
  // For tests: the shared transform and the marking.
  window.dockmapCompare = { mark, center, transform: () => ({ ...pz.transform() }), zoomAt: pz.zoomAt };
  window.dockmapReady = performance.now();
})();
