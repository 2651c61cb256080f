// The main page's "HTML" buttons: download the current view as one self-contained HTML file
// (GET /export.html with the view, the saved snapshot shown, and on request pseudonymized).
//
// Globals: defines window.dockmapExport; uses none.
'use strict';

(() => {
  function exportUrl(anon) {
    // The page keeps its view in the address (app.js); before any change, the server's view.
    const keys = ['open', 'shut', 'hide', 'sel', 'aspect'];
    const here = new URLSearchParams(location.search);
    const from = keys.some((k) => here.has(k)) ? here : new URLSearchParams(document.body.dataset.view || '');
    const p = new URLSearchParams();
    for (const k of keys) for (const v of from.getAll(k)) p.append(k, v);
    const snap = document.body.dataset.snap;
    if (snap) p.set('snap', snap);
    if (anon) p.set('pseudonymize', '1');
    return '/export.html?' + p.toString();
  }
  function go(anon) {
    const a = document.createElement('a');
    a.href = exportUrl(anon);
    a.download = '';
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  const plain = document.getElementById('export-html');
  const anon = document.getElementById('export-html-anon');
  if (plain) plain.addEventListener('click', () => go(false));
  if (anon) anon.addEventListener('click', () => go(true));
  window.dockmapExport = { exportUrl };
})();
