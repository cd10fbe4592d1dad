// toast.js — short messages that go away by themselves. They live in the #alerts strip of index.html, which is
// in the page's flow under the header (never over the composer or a control). Errors stay longer than news;
// every toast can also be dismissed at once, and at most MAX are shown (the oldest goes first).
import { h } from './dom.js';

const MAX = 3;
const INFO_MS = 6000;
const ERROR_MS = 10000;

// toast(text, { kind: 'info'|'error', timeoutMs }) → the element (already shown). kind 'error' is an alert
// for screen readers; 'info' is a polite status.
export function toast(text, { kind = 'info', timeoutMs } = {}) {
  const strip = document.getElementById('alerts');
  if (!strip) return null;
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, text),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss message', onclick: () => el.remove() }, '×'));
  strip.append(el);
  while (strip.children.length > MAX) strip.firstChild.remove();
  setTimeout(() => el.remove(), timeoutMs ?? (kind === 'error' ? ERROR_MS : INFO_MS));
  return el;
}

// The strip the other pop-ups (calls, help offers, mentions, reminders) put their layer in.
export function noticeStrip() {
  return document.getElementById('notices') || document.body;
}
