// dockmap pan and zoom: one transform {x, y, k} moved by drag and wheel. Shared by the page, the
// diff and compare pages, and the exported file's offline viewer, so all of them move alike.
'use strict';

/**
 * Pan and zoom over `stages` (one element, or several that move together: compare's two panes).
 * `get()` gives the current transform; `set(tf, moving)` stores a new one and redraws (`moving`:
 * the user is moving it). A click that ends a drag finds `data-just-panned` on its stage, so
 * click handlers can ignore it.
 */
window.dockmapPanZoom = (stages, get, set) => {
  const list = Array.isArray(stages) ? stages : [stages];

  function fit(W, H) {
    const r = list[0].getBoundingClientRect();
    const k = Math.min(r.width / W, r.height / H) * 0.97;
    set({ k, x: (r.width - W * k) / 2, y: (r.height - H * k) / 2 }, false);
  }

  function zoomAt(px, py, factor) {
    const tf = get();
    const k = Math.min(8, Math.max(0.01, tf.k * factor));
    set({ k, x: px - (px - tf.x) * (k / tf.k), y: py - (py - tf.y) * (k / tf.k) }, true);
  }

  let drag = null;
  for (const stage of list) {
    stage.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      const tf = get();
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
    set({ k: get().k, x: drag.tx + dx, y: drag.ty + dy }, true);
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

  /** Put `box` ({x, y, w, h}, drawing units) at (cx, cy) of the stage, zooming in when far out. */
  function centerOn(box, cx, cy) {
    const tf = get();
    const k = tf.k < 0.6 ? 1 : tf.k;
    set({ k, x: cx - (box.x + box.w / 2) * k, y: cy - (box.y + box.h / 2) * k }, false);
  }

  /** Zoom about the middle of the (first) stage: the + and − keys and buttons. */
  function zoomCenter(factor) {
    const r = list[0].getBoundingClientRect();
    zoomAt(r.width / 2, r.height / 2, factor);
  }

  /** Wire the toolbar's #fit, #zoom-in and #zoom-out buttons, where the page has them. */
  function bindButtons(fitNow) {
    const actions = [
      ['fit', fitNow],
      ['zoom-in', () => zoomCenter(1.25)],
      ['zoom-out', () => zoomCenter(0.8)],
    ];
    for (const [id, act] of actions) {
      const b = document.getElementById(id);
      if (b) b.addEventListener('click', act);
    }
  }

  return { fit, zoomAt, zoomCenter, centerOn, bindButtons };
};

/** The box of a drawn element's shape (`g`: its `.n` group), in drawing units; null if not drawn. */
window.dockmapPanZoom.box = (g) => {
  const sh = g && g.querySelector('.sh');
  if (!sh) return null;
  const b = sh.getBBox();
  return { x: b.x, y: b.y, w: b.width, h: b.height };
};

/** Moves the drawing's world (an HTML box around the SVG) to transform `tf`. */
window.dockmapPanZoom.place = (world, tf) => {
  world.style.transform = `translate(${tf.x}px, ${tf.y}px) scale(${tf.k})`;
};
