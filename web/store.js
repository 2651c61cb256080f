// dockmap snapshot store in the page: "Save" on the map, the upload form on the list page.
// Server answers are shown with textContent (a label or a reason is never markup).
//
// Globals: defines window.dockmapStoreReady; uses none.
'use strict';

(() => {
  const $ = (s) => document.querySelector(s);

  /** The server's reason for a refusal, in words. */
  async function reasonOf(r) {
    try {
      const j = await r.json();
      if (j && j.error) return j.error;
    } catch (_) { /* not JSON: fall through */ }
    return `the server answered ${r.status}`;
  }

  function show(out, text, ok, link) {
    out.textContent = text;
    out.classList.toggle('error', !ok);
    if (link) {
      const a = document.createElement('a');
      a.href = link;
      a.id = out.id + '-link';
      a.textContent = location.origin + link;
      out.append(' ', a);
    }
  }

  // ---- the list page follows the theme chosen on the map ------------------------
  if (document.body.classList.contains('store-page')) {
    let theme = null;
    try {
      theme = localStorage.getItem('dockmap-theme');
    } catch (_) { /* no storage: follow the system */ }
    const dark = theme ? theme === 'dark' : matchMedia('(prefers-color-scheme: dark)').matches;
    document.documentElement.classList.toggle('dark', dark);
  }

  // ---- a permalink page says which saved snapshot it shows ----------------------
  const snap = document.body.dataset.snap;
  if (snap && $('#status')) {
    fetch(`/api/snapshots/${encodeURIComponent(snap)}/meta`)
      .then((r) => (r.ok ? r.json() : null))
      .then((m) => {
        if (!m) return;
        const tag = document.createElement('span');
        tag.id = 'saved-as';
        tag.className = 'src';
        tag.textContent = `saved ${m.saved_at}${m.label ? ` · “${m.label}”` : ''} (${m.kind})`;
        const live = document.createElement('a');
        live.href = '/';
        live.textContent = 'live view';
        $('#status').append(tag, ' ', live);
        if (document.body.dataset.share === '1') addShare();
      })
      .catch(() => { /* the picture is there; only its name is missing */ });
  }

  /** "Share link": a link that opens this snapshot only, read-only, for someone without a token. */
  function addShare() {
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.id = 'share-link';
    btn.textContent = 'Share link';
    btn.title = 'A link that opens this snapshot only, read-only, without a token';
    const out = document.createElement('input');
    out.id = 'share-link-url';
    out.readOnly = true;
    out.hidden = true;
    out.size = 40;
    btn.addEventListener('click', async () => {
      try {
        const r = await fetch(`/api/snapshots/${encodeURIComponent(snap)}/link`, { cache: 'no-store' });
        if (!r.ok) throw new Error(await reasonOf(r));
        out.value = location.origin + (await r.json()).link;
        out.hidden = false;
        out.select();
      } catch (e) {
        out.hidden = false;
        out.value = `No link: ${e.message}`;
      }
    });
    $('#status').append(' ', btn, ' ', out);
  }

  // ---- the map page: save what is shown ----------------------------------------
  const saveForm = $('#save-form');
  if (saveForm) {
    // A permalink page shows a snapshot that is saved already.
    if (snap) $('#save').hidden = true;
    saveForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const out = $('#save-result');
      const go = $('#save-go');
      go.disabled = true;
      show(out, 'Saving…', true);
      try {
        const r = await fetch('/api/snapshots', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ label: $('#save-label').value }),
        });
        if (!r.ok) throw new Error(await reasonOf(r));
        const s = await r.json();
        show(out, s.created ? 'Saved:' : 'Already saved:', true, s.permalink);
      } catch (e) {
        show(out, `Not saved: ${e.message}`, false);
      } finally {
        go.disabled = false;
      }
    });
  }

  // ---- the list page: upload a file ----------------------------------------------
  const upForm = $('#upload');
  if (upForm) {
    upForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const out = $('#upload-result');
      const file = $('#upload-file').files[0];
      if (!file) {
        show(out, 'Choose a file first.', false);
        return;
      }
      const go = $('#upload-go');
      go.disabled = true;
      show(out, 'Uploading…', true);
      try {
        const label = $('#upload-label').value || file.name;
        const r = await fetch('/api/snapshots/upload?' + new URLSearchParams({ label }), {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: file,
        });
        if (!r.ok) throw new Error(await reasonOf(r));
        const s = await r.json();
        show(out, s.created ? 'Uploaded:' : 'Already saved:', true, s.permalink);
        setTimeout(() => location.reload(), 600);
      } catch (e) {
        show(out, `Refused: ${e.message}`, false);
      } finally {
        go.disabled = false;
      }
    });
  }
  // ---- the list page: delete a snapshot (write access) ------------------------------
  const table = $('#snapshots');
  if (table) {
    table.addEventListener('click', async (ev) => {
      const btn = ev.target.closest('button.delete');
      if (!btn) return;
      const row = btn.closest('tr');
      const id = row.dataset.id;
      if (!confirm(`Delete snapshot ${id.slice(0, 12)}… from the store? Its links stop working.`)) return;
      btn.disabled = true;
      try {
        const r = await fetch(`/api/snapshots/${encodeURIComponent(id)}`, { method: 'DELETE' });
        if (!r.ok) throw new Error(await reasonOf(r));
        row.remove();
      } catch (e) {
        btn.disabled = false;
        btn.textContent = `not deleted: ${e.message}`;
      }
    });
  }
  window.dockmapStoreReady = true;
})();
