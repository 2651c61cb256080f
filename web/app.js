// dockmap front end: pan and zoom, select, search, fold, filters, export, status.
// The server lays out and draws; this only moves the picture and asks for more.
// Every engine or kernel string is put in the page with textContent, never as markup.
//
// Globals: defines window.dockmap, window.dockmapReady, window.dockmapDrawn; uses window.dockmapPanZoom, window.dockmapDetails.
'use strict';

(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const $ = (s) => document.querySelector(s);
  const page = document.body;
  const stage = $('#stage');
  const world = $('#world');
  const panel = $('#panel');
  const panelBody = $('#panel-body');

  /** What the server is asked to draw, mirrored in the URL: changed through show() (the
   *  selection, which needs no new drawing, also by select() and clearSelection()). */
  const view = { all: false, open: new Set(), shut: new Set(), hide: null, sel: null, aspect: null };
  let svg = null;
  let W = 1;
  let H = 1;
  /** The drawn elements by id, and the edges at each end: see nodesMap() and adjacency(). */
  let nodes = null;
  let adj = null;

  /** The drawn elements (`g.n`) by id. */
  function nodesMap() {
    if (!nodes) {
      nodes = new Map();
      if (svg) for (const g of svg.querySelectorAll('.n[data-id]')) nodes.set(g.dataset.id, g);
    }
    return nodes;
  }

  /** The drawn edges at each element id. */
  function adjacency() {
    if (!adj) {
      adj = new Map();
      if (svg) {
        for (const e of svg.querySelectorAll('.e')) {
          for (const end of [e.dataset.s, e.dataset.t]) {
            let list = adj.get(end);
            if (!list) adj.set(end, (list = []));
            list.push(e);
          }
        }
      }
    }
    return adj;
  }
  let generation = Number(page.dataset.generation) || 0;
  /** The saved snapshot this page shows (permalink `/s/ID`); empty: the live one. */
  const SNAP = page.dataset.snap || '';
  let panelToken = 0;

  // ---- view <-> query string -------------------------------------------------

  /** An API address about the snapshot this page shows. */
  function apiUrl(path, params) {
    const p = new URLSearchParams(params || '');
    if (SNAP) p.set('snap', SNAP);
    const q = p.toString();
    return q ? `${path}?${q}` : path;
  }

  function adoptQuery(q) {
    const p = new URLSearchParams(q);
    view.all = false;
    view.open = new Set();
    view.shut = new Set();
    for (const v of p.getAll('open')) {
      if (v === '*') view.all = true;
      else view.open.add(v);
    }
    for (const v of p.getAll('shut')) view.shut.add(v);
    view.hide = p.has('hide') ? p.getAll('hide').join(',').split(',').filter(Boolean) : null;
    view.sel = p.get('sel');
    view.aspect = p.get('aspect');
  }

  function viewQuery(withSel) {
    const p = new URLSearchParams();
    if (view.all) p.append('open', '*');
    for (const v of [...view.open].sort()) p.append('open', v);
    for (const v of [...view.shut].sort()) p.append('shut', v);
    if (view.hide !== null) p.append('hide', view.hide.join(','));
    if (withSel && view.sel) p.append('sel', view.sel);
    if (view.aspect) p.append('aspect', view.aspect);
    return p;
  }

  /** Parameters other scripts keep in the URL (path.js: the path shown). */
  let urlExtra = new URLSearchParams();
  let urlTimer = 0;
  /** A saved snapshot opened as `/?snap=ID` (not `/s/ID`): the query names it, so it must stay. */
  const snapInQuery = new URLSearchParams(location.search).get('snap');
  function writeUrl() {
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const p = viewQuery(true);
      if (snapInQuery) p.set('snap', snapInQuery);
      for (const [k, v] of urlExtra) p.append(k, v);
      if (paused) p.set('live', 'paused');
      const tf = pz.transform();
      p.append('v', [Math.round(tf.x), Math.round(tf.y), Number(tf.k.toFixed(4))].join(','));
      history.replaceState(null, '', '?' + p.toString());
    }, 150);
  }

  // ---- the drawing -------------------------------------------------------------

  function setup(el) {
    svg = el;
    W = Number(svg.dataset.w) || 1;
    H = Number(svg.dataset.h) || 1;
    // Until now CSS fitted the whole picture in the stage through its viewBox; from here on the
    // SVG keeps its natural size and the world around it moves. A CSS transform on an HTML box
    // never makes the browser lay out the SVG's thousands of nodes again, as an SVG transform would.
    stage.classList.add('live');
    // The indexes of the drawing are built when first asked for (a click, a hover, a search):
    // walking tens of thousands of elements would only delay the first drawing.
    nodes = null;
    adj = null;
    fullLabels = new Map();
    const dark = document.documentElement.classList.contains('dark');
    svg.classList.toggle('dark', dark);
    if (view.sel && nodesMap().has(view.sel)) nodesMap().get(view.sel).classList.add('sel');
    document.dispatchEvent(new CustomEvent('dockmap:drawn'));
  }

  const pz = window.dockmapPanZoom({
    stages: [stage],
    worlds: [world],
    size: () => (svg ? { W, H } : null),
    moved: () => writeUrl(),
    keys: {
      '/': (ev) => {
        ev.preventDefault();
        q.focus();
        q.select();
      },
      Escape: () => clearSelection(),
    },
  });
  const fit = pz.fit;

  const boxOf = (id) => window.dockmapPanZoom.box(nodesMap().get(id));

  function center(id) {
    const b = boxOf(id);
    if (!b) return;
    const r = stage.getBoundingClientRect();
    pz.centerOn(b, r.width * 0.4, r.height / 2);
  }

  /** Bring these elements into view together, left of the side panel when it is open. */
  function frame(ids) {
    const boxes = ids.map(boxOf).filter(Boolean);
    if (!boxes.length) return;
    const x0 = Math.min(...boxes.map((b) => b.x));
    const y0 = Math.min(...boxes.map((b) => b.y));
    const w = Math.max(1, Math.max(...boxes.map((b) => b.x + b.w)) - x0);
    const h = Math.max(1, Math.max(...boxes.map((b) => b.y + b.h)) - y0);
    const r = stage.getBoundingClientRect();
    const free = r.width - (panel.hidden ? 0 : panel.getBoundingClientRect().width);
    const k = Math.max(0.02, Math.min(1.5, (free - 80) / w, (r.height - 80) / h));
    pz.set({ k, x: (free - w * k) / 2 - x0 * k, y: (r.height - h * k) / 2 - y0 * k }, false);
  }

  /** The token of the drawing asked for last, and how to call off the request before it. */
  let drawToken = 0;
  let drawAbort = null;
  /** The drawing on the page: its generation and the view query it was asked with (a live
   *  update asks the server for the change from it: `/scene.patch`). */
  let drawnGen = generation;
  let drawnQuery = location.search.replace(/^\?/, '');

  /**
   * The one way the drawn view changes: `edit()` (if given) changes `view`, then the URL is
   * written and the server asked for the drawing, keeping `anchor` where it was on screen. Only
   * the answer to the last request is drawn: an older one is called off, and dropped if it
   * arrives anyway, so a slow answer never puts back a view the user has left. With `patch`, the
   * server is asked only for what changed since the drawing on the page, which is changed in
   * place (the whole drawing when the server or the patch says so). Resolves to whether this
   * request's drawing is the one on the page.
   */
  async function show(edit, anchor, patch) {
    if (edit) edit();
    writeUrl();
    const token = ++drawToken;
    if (drawAbort) drawAbort.abort();
    const abort = new AbortController();
    drawAbort = abort;
    const before = anchor ? boxOf(anchor) : null;
    setBusy(true);
    try {
      const query = viewQuery(true);
      const asked = query.toString();
      let url = apiUrl('/scene.svg', query);
      if (patch && svg) {
        query.set('since', String(drawnGen));
        if (asked !== drawnQuery) query.set('base', drawnQuery);
        url = apiUrl('/scene.patch', query);
      }
      const r = await fetch(url, { signal: abort.signal });
      if (!r.ok) throw new Error(`the server answered ${r.status}`);
      const whole = !url.startsWith('/scene.patch') || r.headers.get('x-dockmap-patch') === 'whole';
      const body = whole ? await r.text() : await r.json();
      if (token !== drawToken) return false;
      const resolved = r.headers.get('x-dockmap-view');
      if (resolved !== null) adoptQuery(resolved);
      syncFilters(r.headers.get('x-dockmap-hide') || '');
      generation = Number(r.headers.get('x-dockmap-generation')) || generation;
      if (whole) {
        const doc = new DOMParser().parseFromString(body, 'image/svg+xml');
        const el = document.importNode(doc.documentElement, true);
        if (svg) svg.replaceWith(el);
        else world.appendChild(el);
        setup(el);
      } else if (!patched(body)) {
        // The page's drawing is not the one the patch starts from: ask for the whole one.
        return show(null, anchor);
      }
      drawnGen = generation;
      drawnQuery = asked;
      const after = anchor ? boxOf(anchor) : null;
      if (before && after) {
        const tf = pz.transform();
        pz.set({ k: tf.k, x: tf.x + (before.x - after.x) * tf.k, y: tf.y + (before.y - after.y) * tf.k }, false);
      }
      writeUrl();
      return true;
    } catch (err) {
      if (token !== drawToken) return false;
      showError(`Could not draw: ${err.message}`);
      return false;
    } finally {
      if (token === drawToken) {
        drawAbort = null;
        setBusy(false);
      }
    }
  }

  /** A coordinate attribute's value moved by (dx, dy), as server/web/patch.rs moves it: `x`, `y`,
   *  `points` pairs, and a path's absolute M, L, C pairs, H and V (relative commands stay). */
  function moved(name, value, dx, dy) {
    let cmd = 'M';
    let count = 0;
    return value.replace(/[A-Za-z]|-?\d+/g, (t) => {
      if (/^[A-Za-z]$/.test(t)) {
        cmd = t;
        count = 0;
        return t;
      }
      const odd = count++ % 2 === 1;
      let onX;
      if (name === 'x' || name === 'y') onX = name === 'x';
      else if (name === 'points' || 'MLC'.includes(cmd)) onX = !odd;
      else if (cmd === 'H' || cmd === 'V') onX = cmd === 'H';
      else return t;
      return String(Number(t) + (onX ? dx : dy));
    });
  }

  /**
   * Change the drawing on the page as a `/scene.patch` answer says (server/web/patch.rs): the
   * root's changed attributes, then each layer's children walked in order, kept, removed,
   * inserted from the patch's markup, moved, or given new attribute values. What the page added (the selection, the live
   * marks) stays on what is kept or moved. False (throws when half way) when the drawing on the
   * page is not the one the patch starts from.
   */
  function applyPatch(p) {
    const layers = svg.querySelectorAll(':scope > g > g');
    if (layers.length !== p.layers.length || p.had.some((n, i) => layers[i].childElementCount !== n)) return false;
    let pool = [];
    if (p.markup) {
      const doc = new DOMParser().parseFromString(`<svg xmlns="${SVGNS}">${p.markup}</svg>`, 'image/svg+xml');
      if (doc.querySelector('parsererror')) return false;
      pool = [...doc.documentElement.children];
    }
    unlight();
    let next = 0;
    layers.forEach((layer, i) => {
      let at = layer.firstElementChild;
      const step = () => {
        if (!at) throw new Error('the patch runs past the drawing');
        const was = at;
        at = at.nextElementSibling;
        return was;
      };
      for (const [op, n, dy] of p.layers[i]) {
        if (op === 'k') for (let k = 0; k < n; k++) step();
        else if (op === 'r') for (let k = 0; k < n; k++) step().remove();
        else if (op === 'i') for (let k = 0; k < n; k++) layer.insertBefore(pool[next++], at);
        else if (op === 'a') {
          const g = step();
          for (const [name, value] of n) g.setAttribute(name, value);
        } else if (op === 'm') {
          const g = step();
          for (const x of [g, ...g.querySelectorAll('*')]) {
            for (const name of ['x', 'y', 'points', 'd']) {
              const v = x.getAttribute(name);
              if (v !== null) x.setAttribute(name, moved(name, v, n, dy));
            }
          }
        }
      }
    });
    for (const [name, value] of p.root) svg.setAttribute(name, value);
    if (!p.has.every((n, i) => layers[i].childElementCount === n)) return false;
    setup(svg);
    return true;
  }

  /** Whether the patch was applied whole (a patch that does not fit may have changed part). */
  function patched(p) {
    try {
      return applyPatch(p);
    } catch (_) {
      return false;
    }
  }

  /** For show(): these elements drawn open. */
  function openIds(ids) {
    for (const id of ids) {
      view.shut.delete(id);
      view.open.add(id);
    }
  }

  function unfold(id) {
    return show(() => openIds([id]), id);
  }

  function fold(id) {
    return show(() => {
      view.open.delete(id);
      view.shut.add(id);
    }, id);
  }

  // ---- selection and the side panel ------------------------------------------

  function select(id, opts) {
    if (view.sel && nodesMap().has(view.sel)) nodesMap().get(view.sel).classList.remove('sel');
    view.sel = id;
    const g = nodesMap().get(id);
    if (g) g.classList.add('sel');
    if (opts && opts.center) center(id);
    writeUrl();
    showPanel(id);
  }

  function clearSelection() {
    if (view.sel && nodesMap().has(view.sel)) nodesMap().get(view.sel).classList.remove('sel');
    view.sel = null;
    panel.hidden = true;
    writeUrl();
  }

  /** Go to an element that may be folded away: the server unfolds what hides it. */
  async function goTo(id) {
    if (!nodesMap().has(id) && !(await show(() => (view.sel = id)))) return;
    select(id, { center: true });
  }

  const { el } = window.dockmapDetails;

  function link(id, text) {
    const a = el('a', text, 'ref');
    a.href = '#';
    a.dataset.goto = id;
    return a;
  }

  async function showPanel(id) {
    const token = ++panelToken;
    panel.hidden = false;
    panelBody.textContent = '';
    panelBody.appendChild(el('h2', id));
    let d;
    try {
      const r = await fetch(apiUrl('/api/element', { id }));
      if (!r.ok) throw new Error(r.status === 404 ? 'not in this snapshot' : `status ${r.status}`);
      d = await r.json();
    } catch (err) {
      if (token === panelToken) panelBody.appendChild(el('p', `No details: ${err.message}`, 'error'));
      return;
    }
    if (token !== panelToken) return;
    renderPanel(d);
    document.dispatchEvent(new CustomEvent('dockmap:panel', { detail: { id } }));
  }

  function renderPanel(d) {
    window.dockmapDetails.render(panelBody, d, link, (body) => {
      const g = nodesMap().get(d.element.id);
      if (!d.foldable || !g) return;
      const folded = g.classList.contains('folded');
      const b = el('button', folded ? 'Unfold' : 'Fold', 'act');
      b.type = 'button';
      b.dataset.act = folded ? 'open' : 'shut';
      b.dataset.id = d.element.id;
      body.appendChild(b);
    });
  }

  // ---- hover: light up the neighbours ----------------------------------------

  let lit = [];
  function unlight() {
    for (const x of lit) x.classList.remove('hl');
    lit = [];
    if (svg) svg.classList.remove('dim');
  }
  function light(id) {
    unlight();
    const edges = adjacency().get(id);
    if (!edges) return;
    const g = nodesMap().get(id);
    if (g) lit.push(g);
    for (const e of edges) {
      lit.push(e);
      const other = e.dataset.s === id ? e.dataset.t : e.dataset.s;
      const o = nodesMap().get(other);
      if (o) lit.push(o);
    }
    for (const x of lit) x.classList.add('hl');
    svg.classList.add('dim');
  }

  // ---- hover: the whole name of what is under the pointer ---------------------

  const hoverLabel = $('#hover-label');
  /** Full labels fetched for this drawing (the server cuts long ones to fit their shape). */
  let fullLabels = new Map();
  let hoverTimer = 0;
  let hoverToken = 0;

  function putHoverLabel(text) {
    hoverLabel.textContent = text;
    hoverLabel.title = text;
  }

  /** Show the hovered element's whole label in the status bar and as its tooltip. A label
   *  drawn whole is read from the drawing; a cut one (ending in …) is asked of the server once. */
  function showFull(g) {
    clearTimeout(hoverTimer);
    const token = ++hoverToken;
    if (!g) {
      putHoverLabel('');
      return;
    }
    const id = g.dataset.id;
    const drawn = (g.querySelector(':scope > text') || {}).textContent || '';
    const known = fullLabels.get(id);
    if (known !== undefined || !drawn.endsWith('…')) {
      putHoverLabel(known ?? drawn);
      return;
    }
    putHoverLabel(drawn);
    // Only when the pointer rests: sweeping across a thousand shapes asks nothing.
    hoverTimer = setTimeout(async () => {
      let label;
      try {
        const r = await fetch(apiUrl('/api/element', { id }));
        if (r.ok) label = (await r.json()).element.label;
      } catch (_) {
        return; // the cut label stays
      }
      if (typeof label !== 'string') return;
      fullLabels.set(id, label);
      if (!g.querySelector(':scope > title')) {
        const t = document.createElementNS(SVGNS, 'title');
        t.textContent = label;
        g.insertBefore(t, g.firstChild);
      }
      if (token === hoverToken) putHoverLabel(label);
    }, 120);
  }

  // ---- search ------------------------------------------------------------------

  const q = $('#q');
  const hitsList = $('#hits');
  let hits = [];
  let active = -1;
  let searchTimer = 0;
  let searchToken = 0;

  async function runSearch() {
    const text = q.value.trim();
    const token = ++searchToken;
    if (!text) {
      hitsList.hidden = true;
      hits = [];
      return;
    }
    const p = viewQuery(false);
    p.set('q', text);
    const r = await fetch(apiUrl('/api/search', p));
    if (!r.ok || token !== searchToken) return;
    hits = (await r.json()).hits;
    // What is named exactly as typed comes first: a service's name is also a label on each of
    // its containers, and the server ranks containers first.
    const want = text.toLowerCase();
    const named = (h) => (h.label.toLowerCase() === want ? 0 : 1);
    hits = hits.map((h, i) => [h, i]).sort((a, b) => named(a[0]) - named(b[0]) || a[1] - b[1]).map(([h]) => h);
    active = hits.length ? 0 : -1;
    renderHits();
  }

  /** The filter tokens in force (the checkboxes follow what the server last drew). */
  function activeHide() {
    return new Set([...hideForm.querySelectorAll('input:checked')].map((b) => b.name));
  }

  /** The filter tokens that hide a search hit: the server's `hidden_by` when it names them,
   *  else what /api/search's rules imply (an interface: `loopback` for lo, else `down`; any
   *  other element: its kind's token). */
  function tokensHiding(h) {
    if (!h.filtered) return [];
    const by = h.hidden_by;
    if (Array.isArray(by) && by.length) return by;
    if (typeof by === 'string' && by) return [by];
    if (h.kind !== 'interface') return [h.kind];
    const on = activeHide();
    if (h.label === 'lo' && on.has('loopback')) return ['loopback'];
    return on.has('down') ? ['down'] : ['loopback'];
  }

  /** What the filter menu calls a token ("hide loopbacks"). */
  function filterName(token) {
    const box = hideForm.querySelector(`input[name="${CSS.escape(token)}"]`);
    return box ? box.parentElement.textContent.trim() : `hide ${token}`;
  }

  function renderHits() {
    hitsList.textContent = '';
    if (!hits.length) {
      hitsList.appendChild(el('li', 'nothing found', 'muted'));
    }
    hits.forEach((h, i) => {
      const li = el('li', null, i === active ? 'active' : '');
      li.dataset.index = String(i);
      // Many hits share a label (every namespace has its lo): the id says which one.
      li.title = h.id;
      li.appendChild(el('b', h.label));
      li.appendChild(el('span', ` ${h.kind}`, 'muted'));
      // A match on the name says nothing the title does not; the id says where it is.
      li.appendChild(el('div', h.matched === `name: ${h.label}` ? h.id : h.matched, 'matched'));
      const hiding = tokensHiding(h);
      if (hiding.length) {
        const names = hiding.map((t) => `“${filterName(t)}”`).join(', ');
        li.appendChild(el('div', `hidden by ${names}: picking it shows it`, 'filtered'));
      }
      hitsList.appendChild(li);
    });
    hitsList.hidden = false;
  }

  async function pick(h) {
    hitsList.hidden = true;
    q.blur();
    // A hit the filters hide would be selected but never drawn: turn off what hides it.
    const hiding = tokensHiding(h);
    if (h.reveal.length || hiding.length || !nodesMap().has(h.id)) {
      const drawn = await show(() => {
        openIds(h.reveal);
        if (hiding.length) view.hide = [...activeHide()].filter((t) => !hiding.includes(t));
        view.sel = h.id;
      });
      if (!drawn) return;
    }
    // Some elements are drawn as another (a remote underlay address as the node interface that
    // holds it): select what is on screen.
    const shown = !nodesMap().has(h.id) && h.drawn_as && nodesMap().has(h.drawn_as) ? h.drawn_as : h.id;
    select(shown, { center: true });
  }

  q.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 120);
  });
  q.addEventListener('keydown', async (ev) => {
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      if (!hits.length) return;
      active = (active + (ev.key === 'ArrowDown' ? 1 : hits.length - 1)) % hits.length;
      renderHits();
    } else if (ev.key === 'Enter') {
      ev.preventDefault();
      clearTimeout(searchTimer);
      if (!hits.length || hitsList.hidden) await runSearch();
      if (hits.length) pick(hits[Math.max(0, active)]);
    } else if (ev.key === 'Escape') {
      hitsList.hidden = true;
      q.blur();
    }
  });
  hitsList.addEventListener('mousedown', (ev) => {
    const li = ev.target.closest('li[data-index]');
    if (li) {
      ev.preventDefault();
      pick(hits[Number(li.dataset.index)]);
    }
  });
  q.addEventListener('blur', () => setTimeout(() => (hitsList.hidden = true), 150));

  // ---- filters -----------------------------------------------------------------

  const hideForm = $('#hide');
  function syncFilters(tokens) {
    const set = new Set(tokens.split(',').filter(Boolean));
    for (const box of hideForm.querySelectorAll('input[type=checkbox]')) box.checked = set.has(box.name);
  }
  hideForm.addEventListener('change', () => {
    show(() => (view.hide = [...hideForm.querySelectorAll('input:checked')].map((b) => b.name)), view.sel);
  });

  // ---- pan, zoom, click, keys -----------------------------------------------


  stage.addEventListener('click', (ev) => {
    if (stage.dataset.justPanned) return;
    const tog = ev.target.closest('.tog');
    const g = ev.target.closest('.n[data-id]');
    if (tog && g) {
      if (tog.dataset.act === 'open') unfold(g.dataset.id);
      else fold(g.dataset.id);
      return;
    }
    if (!g) {
      if (!ev.target.closest('.e')) clearSelection();
      return;
    }
    const id = g.dataset.id;
    if (g.classList.contains('k-host') && g.classList.contains('folded')) {
      show(() => {
        view.sel = id;
        openIds([id]);
      }, id);
      showPanel(id);
      return;
    }
    select(id);
  });
  stage.addEventListener('dblclick', (ev) => {
    const g = ev.target.closest('.n.folded[data-id]');
    if (g) unfold(g.dataset.id);
  });
  let hoverFrame = 0;
  stage.addEventListener('mouseover', (ev) => {
    const g = ev.target.closest('.n[data-id]');
    cancelAnimationFrame(hoverFrame);
    hoverFrame = requestAnimationFrame(() => {
      if (g && !g.classList.contains('box')) light(g.dataset.id);
      else unlight();
    });
    showFull(g);
  });
  stage.addEventListener('mouseleave', () => {
    unlight();
    showFull(null);
  });

  panelBody.addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-goto]');
    if (a) {
      ev.preventDefault();
      goTo(a.dataset.goto);
      return;
    }
    const b = ev.target.closest('button[data-act]');
    if (b) {
      if (b.dataset.act === 'open') unfold(b.dataset.id);
      else fold(b.dataset.id);
    }
  });
  $('#panel-close').addEventListener('click', clearSelection);

  $('#unfold-all').addEventListener('click', async () => {
    const drawn = await show(() => {
      view.all = true;
      view.shut.clear();
    });
    if (drawn) fit();
  });
  $('#fold-default').addEventListener('click', async () => {
    const drawn = await show(() => {
      view.all = false;
      view.open.clear();
      view.shut.clear();
    });
    if (drawn) fit();
  });

  // ---- theme -------------------------------------------------------------------

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

  // ---- export ------------------------------------------------------------------

  /** The current view as an SVG document of its own. `forImage`: styles as presentation
   *  attributes, since an SVG drawn into a canvas runs under this page's CSP (no inline style). */
  async function standaloneSvg(forImage) {
    const r = stage.getBoundingClientRect();
    const tf = pz.transform();
    const clone = svg.cloneNode(true);
    const x0 = -tf.x / tf.k;
    const y0 = -tf.y / tf.k;
    clone.setAttribute('viewBox', `${x0} ${y0} ${r.width / tf.k} ${r.height / tf.k}`);
    clone.setAttribute('width', String(Math.round(r.width)));
    clone.setAttribute('height', String(Math.round(r.height)));
    clone.classList.remove('dim');
    for (const x of clone.querySelectorAll('.hl')) x.classList.remove('hl');
    const vpg = clone.querySelector('#vp');
    const bg = document.createElementNS(SVGNS, 'rect');
    bg.setAttribute('class', 'page-bg');
    bg.setAttribute('x', String(x0));
    bg.setAttribute('y', String(y0));
    bg.setAttribute('width', String(r.width / tf.k));
    bg.setAttribute('height', String(r.height / tf.k));
    if (forImage) {
      bg.setAttribute('fill', getComputedStyle(svg).getPropertyValue('--bg').trim() || '#fff');
      const live = svg.querySelectorAll('*');
      const copy = clone.querySelectorAll('*');
      const props = ['fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'opacity', 'font-size', 'font-weight', 'font-family'];
      for (let i = 0; i < live.length && i < copy.length; i++) {
        const cs = getComputedStyle(live[i]);
        for (const p of props) {
          const v = cs.getPropertyValue(p);
          if (v && v !== 'none' && v !== 'normal') copy[i].setAttribute(p, v);
          else if (p === 'fill' || p === 'stroke') copy[i].setAttribute(p, v || 'none');
        }
      }
    } else {
      const css = await (await fetch('/static/map.css')).text();
      const style = document.createElementNS(SVGNS, 'style');
      style.textContent = css;
      clone.insertBefore(style, clone.firstChild);
    }
    vpg.insertBefore(bg, vpg.firstChild);
    return { text: new XMLSerializer().serializeToString(clone), w: r.width, h: r.height };
  }

  function download(blob, name) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  $('#export-svg').addEventListener('click', async () => {
    const s = await standaloneSvg();
    download(new Blob([s.text], { type: 'image/svg+xml' }), 'dockmap.svg');
  });
  async function pngBlob() {
    const s = await standaloneSvg(true);
    const url = URL.createObjectURL(new Blob([s.text], { type: 'image/svg+xml' }));
    try {
      const img = new Image();
      img.src = url;
      await img.decode();
      const scale = 2;
      const c = document.createElement('canvas');
      c.width = Math.round(s.w * scale);
      c.height = Math.round(s.h * scale);
      const ctx = c.getContext('2d');
      ctx.scale(scale, scale);
      ctx.drawImage(img, 0, 0, s.w, s.h);
      return await new Promise((resolve, reject) =>
        c.toBlob((b) => (b ? resolve(b) : reject(new Error('empty image'))), 'image/png'),
      );
    } finally {
      URL.revokeObjectURL(url);
    }
  }

  $('#export-png').addEventListener('click', async () => {
    try {
      download(await pngBlob(), 'dockmap.png');
    } catch (err) {
      showError(`PNG export failed: ${err.message}`);
    }
  });

  // ---- status, progress, refresh -----------------------------------------------

  const statusText = $('#status-text');
  const sourcesEl = $('#sources');
  const progress = $('#progress');
  const progressIn = $('#progress-in');

  function setBusy(on) {
    page.classList.toggle('busy', on);
  }

  function showError(msg) {
    statusText.textContent = msg;
    statusText.classList.add('error');
  }

  function renderStatus(s) {
    statusText.classList.remove('error');
    serverLive = s.live || '';
    pauseBtn.hidden = SNAP !== '' || serverLive === '';
    if (!SNAP) showLive(...liveText());
    const running = s.state === 'collecting' || s.state === 'refreshing';
    progress.hidden = !running;
    if (running) {
      const secs = ((s.running_ms || 0) / 1000).toFixed(1);
      if (s.last_ms) {
        const pct = Math.min(95, (100 * (s.running_ms || 0)) / s.last_ms);
        progressIn.style.width = pct.toFixed(0) + '%';
        progress.classList.remove('indeterminate');
      } else {
        progress.classList.add('indeterminate');
      }
      statusText.textContent = `Collecting… ${secs} s` + (s.taken_at ? ` · showing the snapshot of ${s.taken_at}` : '');
    } else if (s.state === 'failed') {
      showError(`Collection failed: ${s.error || 'unknown error'}` + (s.taken_at ? ` · showing ${s.taken_at}` : ''));
    } else {
      statusText.textContent = `Snapshot ${s.taken_at} · ${s.elements} elements · ${s.edges} edges`;
    }
    sourcesEl.textContent = '';
    for (const x of s.sources) {
      const where = x.namespace ? ` (${x.namespace})` : '';
      const on = x.nodes.length > 2 ? `${x.nodes.length} nodes` : x.nodes.join(', ');
      const span = el('span', `${x.source}${where} ${x.state} on ${on}: ${x.message}`, 'src ' + x.state);
      span.title = x.nodes.join(', ');
      sourcesEl.appendChild(span);
    }
    page.dataset.state = s.state;
  }

  async function pollStatus() {
    let s;
    try {
      s = await (await fetch('/api/status', { cache: 'no-store' })).json();
    } catch (err) {
      showError(`Server unreachable: ${err.message}`);
      setTimeout(pollStatus, 2000);
      return;
    }
    renderStatus(s);
    const running = s.state === 'collecting' || s.state === 'refreshing';
    if (!running && s.generation && s.generation !== generation) {
      const first = !svg;
      generation = s.generation;
      if ((await show(null, view.sel, !first)) && first) fit();
    }
    if (running) setTimeout(pollStatus, 400);
  }

  $('#refresh').addEventListener('click', async () => {
    try {
      await fetch('/api/refresh', { method: 'POST' });
    } catch (err) {
      showError(`Refresh failed: ${err.message}`);
      return;
    }
    pollStatus();
  });

  // ---- live: the picture follows the node as it changes -----------------------

  /** Frozen by the Pause button (or `live=paused` in the URL): updates are listed, not drawn. */
  let paused = new URLSearchParams(location.search).get('live') === 'paused';
  /** The newest update not drawn yet (while paused, or while a drawing is under way). */
  let queued = null;
  let drawing = false;
  let heldBack = 0;
  /** Elements updates said were removed, since the last drawing (the selection may be one). */
  const goneSince = new Set();
  /** What the server says of its own following (`live`, or what it cannot follow). */
  let serverLive = '';
  const MARK_MS = 4000;
  const KEEP_LISTED = 100;
  const pauseBtn = $('#pause');
  const changesMenu = $('#changes');
  const changesList = $('#changes-list');
  const changesCount = $('#changes-count');
  const liveState = $('#live-state');

  function showLive(text, ok) {
    liveState.textContent = text;
    liveState.classList.toggle('on', text !== '' && ok);
    liveState.classList.toggle('off', text !== '' && !ok);
  }

  /** What the status bar says: nothing where the server follows only refreshes (a saved file). */
  function liveText() {
    if (paused) return [`paused${heldBack ? ` · ${heldBack} updates held back` : ''}`, false];
    return [serverLive, serverLive === 'live'];
  }

  /** Newest first: when, what, and a link that selects it (what went away has none). */
  function listChanges(u) {
    const when = new Date().toLocaleTimeString();
    const add = [];
    for (const c of u.changes) {
      const li = el('li', '', c.change);
      li.appendChild(el('time', when));
      li.appendChild(el('span', `${c.change} ${c.kind} `, 'what'));
      li.appendChild(c.change === 'removed' ? el('span', c.label) : link(c.id, c.label));
      if (c.what) li.appendChild(el('span', ` ${c.what}`, 'muted'));
      li.dataset.id = c.id;
      add.push(li);
      if (c.change === 'removed') goneSince.add(c.id);
      else goneSince.delete(c.id);
    }
    if (u.total > u.changes.length) add.push(el('li', `… and ${u.total - u.changes.length} more`, 'muted'));
    changesList.prepend(...add);
    while (changesList.children.length > KEEP_LISTED) changesList.lastChild.remove();
    changesMenu.hidden = false;
    changesCount.textContent = `(${changesList.children.length})`;
  }

  /** Mark what appeared or changed for a few seconds. */
  function mark(u) {
    for (const c of u.changes) {
      if (c.change === 'removed') continue;
      const g = nodesMap().get(c.id);
      if (!g) continue;
      const cls = 'live-' + c.change;
      g.classList.add(cls);
      setTimeout(() => g.classList.remove(cls), MARK_MS);
    }
  }

  /** Draw the newest update in place: the view, the selection and the open panel stay. */
  async function drawQueued() {
    if (drawing) return;
    drawing = true;
    try {
      while (queued && !paused) {
        const u = queued;
        queued = null;
        if (u.generation <= generation && svg) continue;
        generation = u.generation;
        await show(null, view.sel, true);
        if (view.sel && !panel.hidden) {
          // What went away has no details to ask for: the panel says so and keeps what it showed.
          if (goneSince.has(view.sel)) panelBody.prepend(el('p', `Removed at ${new Date().toLocaleTimeString()}.`, 'error'));
          else showPanel(view.sel);
        }
        goneSince.clear();
        mark(u);
        document.dispatchEvent(new CustomEvent('dockmap:live', { detail: { generation } }));
      }
    } finally {
      drawing = false;
    }
  }

  function onUpdate(u) {
    listChanges(u);
    // Several updates while paused or drawing: the newest one's drawing holds them all; its
    // marks are its own (the list keeps the rest).
    queued = u;
    if (paused) heldBack += 1;
    showLive(...liveText());
    drawQueued();
  }

  function setPaused(on) {
    paused = on;
    pauseBtn.setAttribute('aria-pressed', String(on));
    pauseBtn.textContent = on ? 'Resume' : 'Pause';
    if (!on) heldBack = 0;
    showLive(...liveText());
    writeUrl();
    if (!on) drawQueued();
  }

  function follow() {
    setPaused(paused);
    const es = new EventSource('/api/live');
    es.addEventListener('update', (e) => {
      let u;
      try {
        u = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      onUpdate(u);
    });
    // Too far behind to list what changed: draw the newest state.
    es.addEventListener('resync', () => pollStatus());
    // On (re)connecting, an update sent before may have been missed: ask for the generation.
    es.addEventListener('open', () => {
      showLive(...liveText());
      pollStatus();
    });
    es.addEventListener('error', () => showLive('not live: the server stream is lost, reconnecting', false));
    // A page kept in the back-forward cache kept its stream, and a browser opens six connections
    // to a server: five pages on, every request of the page waited. Closed on leaving, opened on return.
    window.addEventListener('pagehide', () => {
      es.close();
      window.addEventListener('pageshow', (ev) => ev.persisted && follow(), { once: true });
    }, { once: true });
  }

  pauseBtn.addEventListener('click', () => setPaused(!paused));
  changesList.addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-goto]');
    if (!a) return;
    ev.preventDefault();
    changesMenu.open = false;
    goTo(a.dataset.goto);
    showPanel(a.dataset.goto);
  });

  // ---- start -------------------------------------------------------------------

  /** The stage's shape the server lays out for when the URL names none (layout/view.rs). */
  const DEFAULT_ASPECT = 2.0;

  /** Hosts are wrapped into rows to match the stage's shape: when the page opens fitted on a
   *  screen shaped far from the one the server assumed, ask for the layout made for this one. */
  async function fitLayoutToStage() {
    if (view.aspect || svg.querySelectorAll('.k-host').length < 2) return;
    const r = stage.getBoundingClientRect();
    const aspect = r.width / Math.max(1, r.height);
    if (Math.abs(aspect - DEFAULT_ASPECT) / DEFAULT_ASPECT < 0.2) return;
    if (await show(() => (view.aspect = aspect.toFixed(1)))) fit();
  }

  function start() {
    let theme = null;
    try {
      theme = localStorage.getItem('dockmap-theme');
    } catch (_) {
      /* no storage: follow the system */
    }
    const dark = theme ? theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    document.documentElement.classList.toggle('dark', dark);
    adoptQuery(page.dataset.view || '');
    const url = new URLSearchParams(location.search);
    const first = world.querySelector('svg');
    if (first) {
      setup(first);
      const v = (url.get('v') || '').split(',').map(Number);
      if (v.length === 3 && v.every(Number.isFinite) && v[2] > 0) {
        pz.set({ x: v[0], y: v[1], k: v[2] }, false);
      } else if (view.sel && nodesMap().has(view.sel)) {
        fit();
        center(view.sel);
      } else {
        fit();
        fitLayoutToStage();
      }
      if (view.sel) showPanel(view.sel);
    }
    // A saved snapshot never changes: only the live page follows collection.
    if (SNAP) $('#refresh').hidden = true;
    else {
      follow();
      if (page.dataset.state === 'collecting' || page.dataset.state === 'refreshing' || !first) pollStatus();
    }
    // For tests and the benchmark: bring an element to the middle of the stage.
    window.dockmap = {
      center, frame, select, standaloneSvg, pngBlob, apiUrl, showPanel, nodes: () => nodesMap(),
      // For path.js: the view's parameters, unfolding several elements at once, the side panel
      // and the URL parameters it keeps.
      viewQuery: () => viewQuery(false),
      generation: () => generation,
      // For tests: the generation and view of the drawing on the page.
      drawn: () => ({ generation: drawnGen, query: drawnQuery }),
      open: (ids) => show(() => openIds(ids)),
      panel: () => { panel.hidden = false; panelToken++; panelBody.textContent = ''; return panelBody; },
      setUrlExtra: (params) => { urlExtra = new URLSearchParams(params); writeUrl(); },
    };
    requestAnimationFrame(() => {
      window.dockmapReady = performance.now();
      document.dispatchEvent(new CustomEvent('dockmap:ready'));
      // The first frame with the drawing must be rasterized before the browser starts a third
      // one: the third frame's start is when the drawing is on screen ("first drawing").
      requestAnimationFrame(() =>
        requestAnimationFrame(() => (window.dockmapDrawn = performance.now())),
      );
    });
  }

  start();
})();
