// views/mentions.js — @mentions: whether a message names the signed-in user (chat.js marks those), and
// the banner an incoming chat.mention shows on every view (who, where, the start of the message, a link
// to the channel). The server sends chat.mention only to members of the circle, and keeps it for a user
// who was offline until the next sign-in. Mounted once (app.js).
import { h } from '../dom.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';

// True if text has @name (any case) as a whole word.
export function mentionsMe(text, name) {
  if (!text || !name) return false;
  const esc = name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`(^|[^\\w.-])@${esc}(?![\\w-]|\\.[\\w])`, 'i').test(text);
}

export function mountMentions(ctx) {
  const { conn } = ctx;
  const layer = h('div', { class: 'mentions', role: 'region', 'aria-label': 'Mentions' });
  document.body.append(layer);
  conn.addEventListener('chat.mention', (ev) => {
    const { circle, channel, message, by } = ev.detail;
    if (!message?.id || layer.querySelector(`[data-message="${message.id}"]`)) return;
    const text = message.text.length > 140 ? `${message.text.slice(0, 140)}…` : message.text;
    const open = h('a', { class: 'button small', href: `#/circle/${encodeURIComponent(circle)}/${encodeURIComponent(channel)}` }, 'Open');
    const dismiss = h('button', { type: 'button', class: 'secondary small' }, 'Dismiss');
    const el = h('div', { class: 'mention card', role: 'alert', dataset: { message: message.id } },
      h('p', {}, h('strong', {}, `${nameOf(by)} mentioned you`), `: “${text}”`),
      h('div', { class: 'actions' }, open, dismiss));
    open.addEventListener('click', () => el.remove());
    dismiss.addEventListener('click', () => el.remove());
    layer.append(el);
    while (layer.children.length > 3) layer.firstChild.remove(); // the latest few, not a wall
  });
}

// The one-line text of a notification history item (notifications.list), whatever its kind.
export function mentionText(n) {
  const m = n.event;
  return `${nameOf(m.by)} mentioned you: “${m.message.text.slice(0, 100)}”`;
}
