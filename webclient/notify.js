// notify.js — telling someone who is looking at another tab: a browser notification (Notification API) and a
// short chime for an incoming call, a help offer and a mention, only while this tab is hidden and only when
// the user allowed notifications (asked from a button, never on load: browsers ignore or punish that).
// A visible tab already shows, rings and announces these itself (calls.js, help.js, mentions.js).
// Mounted once (app.js); returns { button() } — an "Allow notifications" control for the rail.
import { h } from './dom.js';
import { chime } from './ring.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';

export function mountNotify(ctx) {
  const { conn } = ctx;
  const supported = typeof Notification !== 'undefined';

  function notify(title, body, tag, hash) {
    if (!supported || Notification.permission !== 'granted' || document.visibilityState !== 'hidden') return false;
    try {
      const n = new Notification(title, { body, tag });
      n.onclick = () => { window.focus(); if (hash) location.hash = hash; n.close(); };
    } catch { return false; }
    chime();
    return true;
  }
  // window.staffroomNotified: what was notified, for the browser tests (they cannot see OS notifications).
  const seen = (window.staffroomNotified = []);
  const record = (kind) => (ok) => { if (ok) seen.push(kind); };

  conn.addEventListener('call.incoming', (ev) => record('call')(notify(`${nameOf(ev.detail.from)} is calling you`,
    'Open Staffroom to answer.', `call-${ev.detail.call}`)));
  conn.addEventListener('help.offer', (ev) => record('help')(notify(`${nameOf(ev.detail.request?.requester)} needs help`,
    ev.detail.request?.topic || '', `help-${ev.detail.request?.id}`)));
  conn.addEventListener('help.nudge', (ev) => record('nudge')(notify(`${nameOf(ev.detail.by)} is looking for help`,
    ev.detail.topic || '', `nudge-${ev.detail.request}`, `#/circle/${encodeURIComponent(ev.detail.circle)}`)));
  conn.addEventListener('chat.mention', (ev) => {
    const { circle, channel, message, by } = ev.detail;
    record('mention')(notify(`${nameOf(by)} mentioned you`, (message?.text || '').slice(0, 140), `mention-${message?.id}`,
      `#/circle/${encodeURIComponent(circle)}/${encodeURIComponent(channel)}`));
  });

  // The control that asks for permission (a click is a user gesture). Hidden once decided.
  function button() {
    if (!supported || Notification.permission !== 'default') return null;
    const b = h('button', { type: 'button', class: 'secondary small notify-ask' }, 'Allow notifications');
    b.addEventListener('click', async () => {
      const p = await Notification.requestPermission().catch(() => 'denied');
      b.remove();
      ctx.toast(p === 'granted' ? 'Notifications are on for calls, help requests and mentions while this tab is in the background.'
        : 'Notifications stay off. You can allow them in the browser’s site settings.');
    });
    return b;
  }
  return { button };
}
