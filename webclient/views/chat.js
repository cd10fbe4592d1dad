// views/chat.js — one channel's live chat: history with scroll-back, live messages, typing indicator,
// edit / delete (own messages; moderators delete any), and catching up after a reconnect with
// chat.history { after: last id } so nothing is missed or shown twice.
import { helpStatusText } from './help.js';
import { h, field, fill, formatTime } from '../dom.js';
import { compareIds } from '../protocol.js';
import { mentionsMe } from './mentions.js';

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 5000;

export function mountChat(el, ctx, { circle, channel, moderator }) {
  const { conn } = ctx;
  let alive = true;
  const byId = new Map(); // message id -> { msg, li }
  let hasMore = false;

  const title = h('h2', {}, `# ${channel.name}`);
  const topic = channel.topic ? h('p', { class: 'muted topic' }, channel.topic) : null;
  const older = h('button', { type: 'button', class: 'secondary small older', hidden: true }, 'Load older messages');
  const log = h('ol', { class: 'messages', role: 'log', 'aria-live': 'polite', 'aria-label': `Messages in #${channel.name}`, tabindex: '0' });
  const empty = h('p', { class: 'muted empty' }, 'No messages yet. Say hello!');
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const composerError = h('p', { class: 'form-error', role: 'alert' });
  const input = field(`Message #${channel.name}`, 'textarea', {
    name: 'text', rows: 2, maxlength: 4000, placeholder: `Message #${channel.name} (Enter sends, Shift+Enter for a new line)`,
    class: 'composer-input',
  });
  input.wrap.querySelector('label').classList.add('visually-hidden');
  const send = h('button', { type: 'submit' }, 'Send');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' }, input.wrap, send);

  fill(el, h('div', { class: 'chat-head' }, title, topic), older, empty, log, typing, composerError, composer);

  // ----- rendering -----
  const nameOf = (u) => (u && (u.display_name || u.name)) || 'someone';
  const sortedIds = () => [...byId.keys()].sort(compareIds);
  const lastId = () => { const ids = sortedIds(); return ids[ids.length - 1] || null; };
  const firstId = () => sortedIds()[0] || null;

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function put(msg, { scroll = true } = {}) {
    if (msg.channel && msg.channel !== channel.id) return;
    if (msg.user) ctx.users.set(msg.user.id, msg.user);
    const existing = byId.get(msg.id);
    if (existing) {
      existing.msg = msg;
      fill(existing.li, ...rowContent(msg));
      return;
    }
    const stick = nearBottom();
    const li = h('li', { class: 'msg', dataset: { id: msg.id, user: msg.user?.id || '' } }, ...rowContent(msg));
    byId.set(msg.id, { msg, li });
    // Insert in id order (an event can overtake a history page).
    let before = null;
    for (const other of log.children) {
      if (compareIds(other.dataset.id, msg.id) > 0) { before = other; break; }
    }
    log.insertBefore(li, before);
    empty.hidden = true;
    if (scroll && stick && !before) log.scrollTop = log.scrollHeight;
  }

  function remove(id) {
    const e = byId.get(id);
    if (!e) return;
    e.li.remove();
    byId.delete(id);
    empty.hidden = byId.size > 0;
  }

  function rowContent(msg) {
    const mine = msg.user?.id === conn.user?.id;
    const when = new Date(msg.ts);
    const head = h('div', { class: 'msg-head' },
      h('span', { class: 'author' }, nameOf(msg.user)),
      ' ',
      h('time', { datetime: Number.isFinite(msg.ts) ? when.toISOString() : undefined }, Number.isFinite(msg.ts) ? formatTime(msg.ts, conn.user?.tz) : ''),
      msg.edited ? h('span', { class: 'muted edited' }, ' (edited)') : null);
    const forMe = !mine && mentionsMe(msg.text, conn.user?.name);
    const text = h('p', { class: forMe ? 'msg-text mentions-me' : 'msg-text' },
      forMe ? h('span', { class: 'badge' }, 'mentions you ') : null, msg.text);
    const helpLine = msg.help ? h('p', { class: 'help-status', dataset: { status: msg.help.status } }, helpStatusText(msg.help)) : null;
    const actions = h('div', { class: 'msg-actions' });
    if (mine) actions.append(h('button', { type: 'button', class: 'link', 'aria-label': 'Edit your message', onclick: () => startEdit(msg) }, 'Edit'));
    if (mine || moderator) actions.append(h('button', { type: 'button', class: 'link', 'aria-label': `Delete message by ${nameOf(msg.user)}`, onclick: (ev) => askDelete(msg, ev.currentTarget) }, 'Delete'));
    return [head, helpLine, text, actions.children.length ? actions : null];
  }

  function startEdit(msg) {
    const e = byId.get(msg.id);
    if (!e) return;
    const edit = field('Edit message', 'textarea', { rows: 2, maxlength: 4000, value: msg.text });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { class: 'edit-form', 'aria-label': 'Edit message' }, edit.wrap,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'small' }, 'Save'),
        h('button', { type: 'button', class: 'secondary small', onclick: () => fill(e.li, ...rowContent(e.msg)) }, 'Cancel')),
      error);
    edit.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') fill(e.li, ...rowContent(e.msg));
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = edit.input.value.trim();
      if (!text) { error.textContent = 'A message cannot be empty.'; return; }
      try {
        const res = await conn.request('chat.edit', { channel: channel.id, message: msg.id, text });
        put(res.message);
      } catch (err) {
        error.textContent = ctx.describeError(err);
      }
    });
    fill(e.li, form);
    edit.input.focus();
  }

  function askDelete(msg, button) {
    const actions = button.parentElement;
    const restore = [...actions.childNodes];
    const yes = h('button', { type: 'button', class: 'link danger' }, 'Confirm delete');
    const no = h('button', { type: 'button', class: 'link' }, 'Keep');
    no.addEventListener('click', () => { actions.replaceChildren(...restore); button.focus(); });
    yes.addEventListener('click', async () => {
      try {
        await conn.request('chat.delete', { channel: channel.id, message: msg.id });
        remove(msg.id);
        ctx.announce('Message deleted');
      } catch (err) {
        composerError.textContent = ctx.describeError(err);
        actions.replaceChildren(...restore);
      }
    });
    actions.replaceChildren(yes, no);
    yes.focus();
  }

  // ----- history -----
  async function loadLatest() {
    log.setAttribute('aria-busy', 'true');
    try {
      const res = await conn.request('chat.history', { channel: channel.id, limit: PAGE });
      if (!alive) return;
      for (const m of res.messages) put(m, { scroll: false });
      hasMore = Boolean(res.has_more);
      older.hidden = !hasMore;
      log.scrollTop = log.scrollHeight;
    } catch (err) {
      if (alive) composerError.textContent = `Could not load messages: ${ctx.describeError(err)}`;
    } finally {
      log.removeAttribute('aria-busy');
      empty.hidden = byId.size > 0;
    }
  }

  older.addEventListener('click', async () => {
    const first = firstId();
    if (!first) return;
    older.disabled = true;
    const oldHeight = log.scrollHeight;
    try {
      const res = await conn.request('chat.history', { channel: channel.id, before: first, limit: PAGE });
      for (const m of res.messages) put(m, { scroll: false });
      hasMore = Boolean(res.has_more);
      older.hidden = !hasMore;
      log.scrollTop += log.scrollHeight - oldHeight; // keep the reader's place
    } catch (err) {
      composerError.textContent = ctx.describeError(err);
    } finally {
      older.disabled = false;
    }
  });

  // After a reconnect: everything after the last message we have, page by page.
  async function catchUp() {
    const after = lastId();
    if (!after) { await loadLatest(); return; }
    let cursor = after;
    for (let pages = 0; pages < 20 && alive; pages++) {
      let res;
      try {
        res = await conn.request('chat.history', { channel: channel.id, after: cursor, limit: 100 });
      } catch (err) {
        composerError.textContent = `Could not catch up: ${ctx.describeError(err)}`;
        return;
      }
      for (const m of res.messages) put(m);
      if (!res.has_more || res.messages.length === 0) break;
      cursor = res.messages[res.messages.length - 1].id;
    }
    composerError.textContent = '';
  }

  // ----- typing -----
  const typers = new Map(); // user id -> { name, until }
  let typingTimer = null;
  function renderTyping() {
    const now = Date.now();
    for (const [id, t] of typers) if (t.until <= now) typers.delete(id);
    const names = [...typers.values()].map((t) => t.name);
    typing.textContent = names.length === 0 ? ''
      : names.length === 1 ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…`
          : 'Several people are typing…';
    clearTimeout(typingTimer);
    if (typers.size) typingTimer = setTimeout(renderTyping, 1000);
  }
  let lastTypingSent = 0;
  input.input.addEventListener('input', () => {
    const now = Date.now();
    if (!input.input.value.trim() || now - lastTypingSent < TYPING_SEND_EVERY_MS) return;
    lastTypingSent = now;
    conn.request('chat.typing', { channel: channel.id }).catch(() => { /* a hint only */ });
  });

  // ----- sending -----
  input.input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  composer.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = input.input.value.trim();
    if (!text) return;
    composerError.textContent = '';
    send.disabled = true;
    try {
      const res = await conn.request('chat.send', { channel: channel.id, text });
      if (input.input.value.trim() === text) input.input.value = '';
      lastTypingSent = 0;
      put(res.message);
      log.scrollTop = log.scrollHeight;
    } catch (err) {
      composerError.textContent = err.code === 'disconnected'
        ? 'The connection dropped before the server confirmed your message. It will appear here if it was saved; otherwise send it again.'
        : ctx.describeError(err);
    } finally {
      send.disabled = false;
      input.input.focus();
    }
  });

  // ----- events -----
  const handlers = {
    'chat.message': (ev) => {
      const m = ev.detail.message;
      if (!m || m.channel !== channel.id) return;
      put(m);
      if (m.user && typers.delete(m.user.id)) renderTyping();
    },
    'chat.updated': (ev) => { const m = ev.detail.message; if (m && m.channel === channel.id && byId.has(m.id)) put(m); },
    'chat.deleted': (ev) => { if (ev.detail.channel === channel.id) remove(ev.detail.message); },
    'chat.typing': (ev) => {
      const { channel: ch, user } = ev.detail;
      if (ch !== channel.id || !user || user.id === conn.user?.id) return;
      typers.set(user.id, { name: nameOf(user), until: Date.now() + TYPING_SHOW_MS });
      renderTyping();
    },
    resumed: () => catchUp(),
  };
  for (const [t, fn] of Object.entries(handlers)) conn.addEventListener(t, fn);
  loadLatest();
  input.input.focus();

  return () => {
    alive = false;
    clearTimeout(typingTimer);
    for (const [t, fn] of Object.entries(handlers)) conn.removeEventListener(t, fn);
  };
}
