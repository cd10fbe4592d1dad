// dom.js — tiny helpers to build DOM safely. User text only ever goes through textContent
// (strings passed as children become text nodes); nothing here uses innerHTML.

// h('button', { class: 'x', onclick: fn, 'aria-label': 'Close' }, 'text', childNode, [more])
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'required') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Replaces el's children.
export function fill(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let uid = 0;
// A unique id for label/for and aria-describedby pairs.
export function newId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled form field: returns { wrap, input }. `control` is 'input', 'select' or 'textarea'.
export function field(label, control = 'input', attrs = {}, options = []) {
  const id = newId('fld');
  const input = h(control, { id, ...attrs });
  for (const o of options) {
    const opt = typeof o === 'string' ? { value: o, label: o } : o;
    input.appendChild(h('option', { value: opt.value, selected: opt.selected }, opt.label));
  }
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input);
  return { wrap, input };
}

// Formats a unix-ms time in the given IANA zone (falls back to the browser's zone).
export function formatTime(ms, tz) {
  const d = new Date(ms);
  const opts = { hour: '2-digit', minute: '2-digit' };
  const sameDay = new Date().toDateString() === d.toDateString();
  if (!sameDay) Object.assign(opts, { day: 'numeric', month: 'short' });
  try {
    return new Intl.DateTimeFormat(undefined, tz ? { ...opts, timeZone: tz } : opts).format(d);
  } catch {
    return new Intl.DateTimeFormat(undefined, opts).format(d);
  }
}

// Initials of a person's name for an avatar: "Ada Lovelace" → "AL", "bob" → "B".
export function initials(u) {
  const words = String(u?.display_name || u?.name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[words.length - 1][0] : (words[0] || '?')[0];
  return letters.toUpperCase();
}

// Eight colours (style.css .avatar.c0–.c7, dark enough for white initials at AA contrast). A class, not a
// style attribute: the server's Content-Security-Policy (style-src 'self') refuses inline styles.
const AVATAR_COLOURS = 8;

// A round avatar with the person's initials, its colour fixed by the user id. Decorative (aria-hidden): the
// name is always written next to it.
export function avatar(u, { size = 'm' } = {}) {
  const key = String(u?.id || u?.name || '');
  let hash = 0;
  for (const ch of key) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return h('span', { class: `avatar avatar-${size} c${hash % AVATAR_COLOURS}`, 'aria-hidden': 'true' },
    initials(u));
}

// The signed-in user's time zone (profile), else the browser's: every time in the app is shown in it.
export function userZone(user) {
  return user?.tz || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
