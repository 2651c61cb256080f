// dockmap pan and zoom: one transform {x, y, k} moved by drag, wheel, keys and the toolbar.
// Shared by the page, the diff and compare pages, and the exported file's offline viewer, so
// all of them move alike and none wires it again.
//
// Globals: defines window.dockmapPanZoom; uses none.
'use strict';

/**
 * The moving picture of a page. `opts`:
 * - `stages`: the element(s) the pointer drags and wheels over (compare: both panes);
 * - `worlds`: the HTML box(es) around the SVG, moved by a CSS transform;
 * - `size()`: the drawing's `{W, H}`, or null while there is none;
 * - `moved(tf, moving)` (optional): after every move (`moving`: the user is moving it);
 * - `keys` (optional): more keys than + − f 0 and the arrows, `{key: (ev) => …}`.
 * A click that ends a drag finds `data-just-panned` on its stage, so click handlers can ignore it.
 */
window.dockmapPanZoom = (opts) => {
  /** Text in the drawing is legible from this many CSS pixels. */
  const LEGIBLE_PX = 9;

  /**
   * How far out a scale is, for map.css: `close` where even the 10 px second lines are legible,
   * `near` where the 12 px labels are, `mid` where only the 22 px names are, `far` below (the
   * 30 px host names and host cards).
   */
  function zoomLevel(k) {
    if (10 * k >= LEGIBLE_PX) return 'close';
    if (12 * k >= LEGIBLE_PX) return 'near';
    if (22 * k >= LEGIBLE_PX) return 'mid';
    return 'far';
  }

  const stages = opts.stages;
  let tf = { x: 0, y: 0, k: 1 };
  let settle = 0;

  function set(t, moving) {
    tf = t;
    const level = zoomLevel(tf.k);
    for (const stage of stages) if (stage.dataset.zoom !== level) stage.dataset.zoom = level;
    // A layer of its own while the user moves it (smooth); dropped when still, so text is drawn
    // sharp at the new scale. Not for programmatic moves: the extra repaint would only cost.
    for (const world of opts.worlds) {
      if (moving) world.classList.add('moving');
      world.style.transform = `translate(${tf.x}px, ${tf.y}px) scale(${tf.k})`;
    }
    if (moving) {
      clearTimeout(settle);
      settle = setTimeout(() => {
        for (const world of opts.worlds) world.classList.remove('moving');
      }, 250);
    }
    if (opts.moved) opts.moved(tf, moving);
  }

  function fit() {
    const s = opts.size();
    if (!s) return;
    const r = stages[0].getBoundingClientRect();
    const k = Math.min(r.width / s.W, r.height / s.H) * 0.97;
    set({ k, x: (r.width - s.W * k) / 2, y: (r.height - s.H * k) / 2 }, false);
  }

  function zoomAt(px, py, factor) {
    const k = Math.min(8, Math.max(0.01, tf.k * factor));
    set({ k, x: px - (px - tf.x) * (k / tf.k), y: py - (py - tf.y) * (k / tf.k) }, true);
  }

  /** Zoom about the middle of the (first) stage: the + and − keys and buttons. */
  function zoomCenter(factor) {
    const r = stages[0].getBoundingClientRect();
    zoomAt(r.width / 2, r.height / 2, factor);
  }

  /** Put `box` ({x, y, w, h}, drawing units) at (cx, cy) of the stage, zooming in when far out. */
  function centerOn(box, cx, cy) {
    const k = tf.k < 0.6 ? 1 : tf.k;
    set({ k, x: cx - (box.x + box.w / 2) * k, y: cy - (box.y + box.h / 2) * k }, false);
  }

  function panBy(dx, dy) {
    set({ k: tf.k, x: tf.x + dx, y: tf.y + dy }, true);
  }

  let drag = null;
  for (const stage of stages) {
    stage.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      drag = { stage, x: ev.clientX, y: ev.clientY, tx: tf.x, ty: tf.y, moved: false };
    });
    stage.addEventListener(
      'wheel',
      (ev) => {
        ev.preventDefault();
        const r = stage.getBoundingClientRect();
        const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
        zoomAt(ev.clientX - r.left, ev.clientY - r.top, Math.exp(-dy * 0.0015));
      },
      { passive: false },
    );
  }
  window.addEventListener('pointermove', (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!drag.moved) drag.stage.classList.add('panning');
    drag.moved = true;
    set({ k: tf.k, x: drag.tx + dx, y: drag.ty + dy }, true);
  });
  window.addEventListener('pointerup', () => {
    if (drag && drag.moved) {
      const stage = drag.stage;
      stage.classList.remove('panning');
      stage.dataset.justPanned = '1';
      setTimeout(() => delete stage.dataset.justPanned, 0);
    }
    drag = null;
  });

  const STEP = 80;
  const moves = {
    '+': () => zoomCenter(1.25),
    '=': () => zoomCenter(1.25),
    '-': () => zoomCenter(0.8),
    _: () => zoomCenter(0.8),
    f: fit,
    0: fit,
    ArrowLeft: () => panBy(STEP, 0),
    ArrowRight: () => panBy(-STEP, 0),
    ArrowUp: () => panBy(0, STEP),
    ArrowDown: () => panBy(0, -STEP),
  };
  const keys = opts.keys || {};
  document.addEventListener('keydown', (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (keys[ev.key]) keys[ev.key](ev);
    // Nothing drawn yet: nothing to move.
    else if (moves[ev.key] && opts.size()) moves[ev.key]();
  });
  // The toolbar's buttons, where the page has them.
  for (const [id, act] of [['fit', fit], ['zoom-in', () => zoomCenter(1.25)], ['zoom-out', () => zoomCenter(0.8)]]) {
    const b = document.getElementById(id);
    if (b) b.addEventListener('click', () => opts.size() && act());
  }

  return { fit, zoomAt, zoomCenter, centerOn, set, transform: () => tf };
};

/** The box of a drawn element's shape (`g`: its `.n` group), in drawing units; null if not drawn. */
window.dockmapPanZoom.box = (g) => {
  const sh = g && g.querySelector('.sh');
  if (!sh) return null;
  const b = sh.getBBox();
  return { x: b.x, y: b.y, w: b.width, h: b.height };
};
