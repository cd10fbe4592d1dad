// app.js — the Staffroom web client: the connection, the signed-in user, routing by location.hash,
// the header (presence, sign out), the connection banner and error display. Views live in views/.
//
// Routes: #/signin  #/signup  #/circles  #/circle/<cid>[/<channel id>]  #/profile
//         #/sessions[/notes/<uid>]  #/book/<mentor uid>  (views/schedule.js)
//         #/circle/<cid>/<channel id>/<message id> (a message in context)  #/search[/<query>]  (views/search.js)
//         #/videos  (views/media.js)  #/media/<id>  (views/player.js)  #/mentoring[/<mentorship id> (its history)]  (views/goals.js)
//         #/circle/<cid>/library  (views/library.js)
import { Connection } from './protocol.js';
import { describeError } from './errors.js';
import { h, fill } from './dom.js';
import { mountAuth } from './views/auth.js';
import { mountDirectory } from './views/directory.js';
import { mountCircle } from './views/circle.js';
import { mountProfile } from './views/profile.js';
import { mountCalls } from './views/calls.js';
import { mountHelpOffers } from './views/help.js';
import { mountSessions, mountBook, mountReminders } from './views/schedule.js';
import { mountMentions } from './views/mentions.js';
import { mountSearch } from './views/search.js';
import { mountMedia } from './views/media.js';
import { mountPlayer } from './views/player.js';
import { mountLibrary } from './views/library.js';
import { toast } from './toast.js';
import { mountNotify } from './notify.js';
import { mountGoals, mountMentoringHistory } from './views/goals.js';

const $ = (id) => document.getElementById(id);
const conn = new Connection();

const ctx = {
  conn,
  get user() { return conn.user; },
  // The status this user chose on this tab; a new connection starts "online", so it is re-sent after a
  // reconnect or a reload.
  get presence() { return sessionStorage.getItem('staffroom.presence') || 'online'; },
  set presence(v) { sessionStorage.setItem('staffroom.presence', v); },
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  // Shows an error in words as a toast that goes away by itself (forms show theirs next to the form too).
  showError(err) {
    toast(typeof err === 'string' ? err : describeError(err), { kind: 'error' });
  },
  // A short piece of news ("Role changed") as a toast.
  toast,
  // A short polite announcement for screen readers (status changes).
  announce(text) {
    const a = $('announcer');
    a.textContent = '';
    requestAnimationFrame(() => { a.textContent = text; });
  },
  describeError,
  // Users shown in the UI, by id (filled from members and messages), for names in presence and typing.
  users: new Map(),
};

let unmount = null;
let started = false;

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', args: parts.slice(1) };
}

function route() {
  if (!started) return;
  const { name, args } = parseHash();
  const signedIn = Boolean(conn.user);
  if (!signedIn && name !== 'signin' && name !== 'signup') {
    location.replace('#/signin');
    return;
  }
  if (signedIn && (name === 'signin' || name === 'signup' || name === '')) {
    location.replace('#/circles');
    return;
  }
  if (unmount) { try { unmount(); } catch (e) { console.error(e); } }
  unmount = null;
  const view = $('view');
  fill(view);
  updateHeader();
  switch (name) {
    case 'signin': case 'signup': unmount = mountAuth(view, ctx, { mode: name }); break;
    case 'circles': unmount = mountDirectory(view, ctx); break;
    case 'circle':
      if (args[1] === 'library') { unmount = mountLibrary(view, ctx, { circle: args[0] }); break; }
      unmount = mountCircle(view, ctx, { circle: args[0], channel: args[1], message: args[2] }); break;
    case 'search': unmount = mountSearch(view, ctx, { query: args[0] }); break;
    case 'profile': unmount = mountProfile(view, ctx); break;
    case 'sessions': unmount = mountSessions(view, ctx, { args }); break;
    case 'book': unmount = mountBook(view, ctx, { mentor: args[0], booking: args[1] }); break;
    case 'videos': unmount = mountMedia(view, ctx); break;
    case 'media': unmount = mountPlayer(view, ctx, { media: args[0] }); break;
    case 'mentoring':
      unmount = args[0] ? mountMentoringHistory(view, ctx, { mentorship: args[0] }) : mountGoals(view, ctx); break;
    default:
      fill(view, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '#/circles' }, 'Back to the circles')));
  }
  document.title = `${view.querySelector('h1')?.textContent || 'Staffroom'} — Staffroom`;
}

function updateHeader() {
  const u = conn.user;
  $('nav').hidden = !u;
  $('me').hidden = !u;
  if (u) {
    $('me-name').textContent = u.display_name || u.name;
    $('presence-select').value = ctx.presence;
  }
  for (const a of $('nav').querySelectorAll('a')) {
    const current = location.hash.startsWith(a.getAttribute('href').replace(/s$/, ''));
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

// Called by auth view after sign-in / sign-up, and by profile after an update.
ctx.signedIn = () => {
  ctx.presence = 'online';
  ctx.navigate('#/circles');
};
ctx.userChanged = () => updateHeader();

$('signout').addEventListener('click', async () => {
  try {
    await conn.logout();
  } catch (err) {
    // The token is forgotten locally either way; tell the user if the server could not revoke it.
    if (err.code !== 'unauthorized') ctx.showError(err);
  }
  ctx.navigate('#/signin');
});

$('presence-select').addEventListener('change', async (ev) => {
  const status = ev.target.value;
  const before = ctx.presence;
  try {
    await conn.request('presence.set', { status });
    ctx.presence = status;
    ctx.announce(`Your status is now ${status}`);
  } catch (err) {
    ev.target.value = before;
    ctx.showError(err);
  }
});

// Connection banner: "Reconnecting…" while the socket is down after having been up.
conn.addEventListener('state', (ev) => {
  const { state } = ev.detail;
  const banner = $('conn-banner');
  if (state === 'open') {
    if (!banner.hidden) {
      banner.textContent = 'Connected again.';
      banner.dataset.state = 'open';
      setTimeout(() => { if (conn.state === 'open') banner.hidden = true; }, 1500);
    }
    document.body.dataset.conn = 'open';
  } else {
    banner.hidden = false;
    banner.dataset.state = state;
    banner.textContent = state === 'reconnecting'
      ? 'Connection lost — reconnecting…'
      : 'Connecting to Staffroom…';
    document.body.dataset.conn = state;
  }
});

conn.addEventListener('resumed', async (ev) => {
  // After a reload or a reconnect: restore the chosen presence (a new connection starts "online").
  if (ev.detail.user && ctx.presence !== 'online') {
    conn.request('presence.set', { status: ctx.presence }).catch((err) => ctx.showError(err));
  }
  if (!started) { start(); return; }
  updateHeader();
});

conn.addEventListener('signedout', (ev) => {
  ctx.room?.leave(false);
  const reason = ev.detail?.reason;
  const suspended = reason?.type === 'auth.suspended' || reason?.code === 'suspended';
  const wasStarted = started;
  if (!started) start();
  else route();
  if (suspended) {
    ctx.showError(`Your account has been suspended by an administrator${reason.reason ? `: ${reason.reason}` : ''}.`);
  } else if (wasStarted) ctx.showError('Your session has ended. Please sign in again.');
});

conn.addEventListener('server-error', (ev) => ctx.showError(ev.detail));

function start() {
  started = true;
  ctx.calls ||= mountCalls(ctx);
  ctx.helpOffers ||= (mountHelpOffers(ctx), true);
  ctx.reminders ||= (mountReminders(ctx), true);
  ctx.mentions ||= (mountMentions(ctx), true);
  ctx.notify ||= mountNotify(ctx);
  route();
}

window.addEventListener('hashchange', route);
conn.start();
// Without a stored token there is nothing to resume: show the sign-in page at once.
if (!conn.token) start();
