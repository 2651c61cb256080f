// dockmap login: the token goes in a POST body (never a URL), the server answers with an
// HttpOnly session cookie, and the page goes where it was asked for.
//
// Globals: defines none; uses none.
'use strict';

(() => {
  const form = document.querySelector('#login');
  if (!form) return;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = document.querySelector('#login-result');
    const token = document.querySelector('#token');
    out.textContent = 'Logging in…';
    out.classList.remove('error');
    try {
      const r = await fetch('/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: token.value, next: document.body.dataset.next || '/' }),
      });
      let j = {};
      try { j = await r.json(); } catch (_) { /* not JSON */ }
      if (!r.ok) throw new Error(j.error || `the server answered ${r.status}`);
      token.value = '';
      location.assign(j.next || '/');
    } catch (e) {
      out.textContent = `Not logged in: ${e.message}`;
      out.classList.add('error');
    }
  });
})();
