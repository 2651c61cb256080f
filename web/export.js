// The main page's "HTML" buttons: download the current view as one self-contained HTML file
// (GET /export.html with the view, the saved snapshot shown, and on request pseudonymized).
'use strict';

(() => {
  function exportUrl(anon) {
    const here = new URLSearchParams(location.search);
    const p = new URLSearchParams();
    for (const k of ['open', 'shut', 'hide', 'sel']) for (const v of here.getAll(k)) p.append(k, v);
    if (!here.has('hide') && document.body.dataset.hide !== undefined && document.body.dataset.view) {
      for (const [k, v] of new URLSearchParams(document.body.dataset.view)) if (!p.has(k)) p.append(k, v);
    }
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
