// dockmap element details: the side panel's content for one element, from what /api/element
// answers. Shared by the page (app.js) and the offline viewer of an exported file (offline.js),
// so both show the same facts the same way. Every engine or kernel string goes in with
// textContent, never as markup.
//
// Globals: defines window.dockmapDetails; uses none.
'use strict';

window.dockmapDetails = (() => {
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function valueNode(v) {
    if (v === null || v === undefined) return el('span', '—', 'muted');
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) {
      if (v.length === 0) return el('span', 'none', 'muted');
      const d = el('div');
      for (const x of v.slice(0, 60)) d.appendChild(el('div', x));
      if (v.length > 60) d.appendChild(el('div', `… ${v.length - 60} more`, 'muted'));
      return d;
    }
    if (typeof v === 'object') {
      const text = JSON.stringify(v, null, 1);
      return el('pre', text.length > 6000 ? text.slice(0, 6000) + '\n…' : text);
    }
    return el('span', v);
  }

  function interfaceBox(i, ref) {
    const box = el('div', null, 'iface');
    const head = el('div', null, 'iface-head');
    head.appendChild(ref(i.id, i.name));
    head.appendChild(el('span', ` ${i.type} · ${i.state || '?'} · mtu ${i.mtu ?? '?'}`, 'muted'));
    box.appendChild(head);
    if (i.addresses.length) box.appendChild(el('div', i.addresses.join(', '), 'addr'));
    if (i.mac) box.appendChild(el('div', i.mac, 'mac'));
    if (i.master) {
      const m = el('div', 'port of ');
      m.appendChild(ref(i.master.id, i.master.label));
      box.appendChild(m);
    }
    if (i.peer) {
      const p = el('div', 'veth peer ', 'peer');
      p.appendChild(ref(i.peer.id, i.peer.name));
      if (i.peer.netns) {
        p.appendChild(document.createTextNode(' in '));
        p.appendChild(ref(i.peer.netns.id, i.peer.netns.label));
      }
      if (i.peer.bridge) {
        p.appendChild(document.createTextNode(' on '));
        p.appendChild(ref(i.peer.bridge.id, i.peer.bridge.label));
      }
      box.appendChild(p);
    }
    return box;
  }

  /**
   * Fill `body` with the details `d` of one element. `ref(id, text)` makes a link to another
   * element; `afterHeader(body)`, if given, adds controls under the title (the page's fold button).
   */
  function render(body, d, ref, afterHeader) {
    const section = (title) => {
      const s = el('section');
      s.appendChild(el('h3', title));
      body.appendChild(s);
      return s;
    };
    const e = d.element;
    body.textContent = '';
    body.appendChild(el('h2', e.label));
    body.appendChild(el('p', `${e.kind}${d.host ? ' on ' + d.host : ''}`, 'kind'));
    body.appendChild(el('p', e.id, 'id'));
    if (afterHeader) afterHeader(body);
    if (d.findings.length) {
      const s = section('Findings');
      for (const f of d.findings) s.appendChild(el('p', `${f.severity}: ${f.message}`, 'finding ' + f.severity));
    }
    if (d.interfaces.length) {
      const s = section('Interfaces');
      for (const i of d.interfaces) s.appendChild(interfaceBox(i, ref));
    }
    const attrs = section('Attributes');
    const dl = el('dl');
    for (const [k, v] of Object.entries(e.attrs)) {
      if (k === 'firewall_rules') continue;
      dl.appendChild(el('dt', k));
      const dd = el('dd');
      dd.appendChild(valueNode(v));
      dl.appendChild(dd);
    }
    attrs.appendChild(dl);
    if (d.firewall_rules.length) {
      const s = section(`Firewall rules naming it (${d.firewall_rules.length})`);
      s.appendChild(el('pre', d.firewall_rules.join('\n')));
    }
    if (d.relations.length) {
      const s = section(`Relations (${d.relations.length + d.relations_left_out})`);
      const ul = el('ul', null, 'rel');
      for (const r of d.relations) {
        const li = el('li');
        li.appendChild(el('span', `${r.kind} ${r.dir === 'out' ? '→' : '←'} `, 'muted'));
        li.appendChild(ref(r.other, r.other_label));
        const extra = Object.entries(r.attrs || {})
          .filter(([, v]) => typeof v !== 'object')
          .map(([k, v]) => `${k} ${v}`)
          .join(', ');
        if (extra) li.appendChild(el('span', ` (${extra})`, 'muted'));
        ul.appendChild(li);
      }
      if (d.relations_left_out) ul.appendChild(el('li', `… ${d.relations_left_out} more`, 'muted'));
      s.appendChild(ul);
    }
  }

  return { el, valueNode, render };
})();
