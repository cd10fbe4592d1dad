// views/chat.js — one channel's live chat: history with scroll-back, live messages (grouped by author and
// day, with avatars), the "New messages" marker at the first unread one, "Jump to latest" when scrolled up,
// the typing indicator, edit / delete (own messages; moderators remove any: shown as "removed by a
// moderator"), reporting a message to the moderators, @mention autocomplete, read markers (channel.read
// once the newest message has been seen), and catching up after a reconnect with chat.history { after: last
// id } so nothing is missed or shown twice.
import { helpStatusText } from './help.js';
import { h, field, fill, formatTime, avatar, userZone } from '../dom.js';
import { compareIds } from '../protocol.js';
import { mentionsMe, attachMentionAutocomplete } from './mentions.js';
import { showProfileCard } from './card.js';

const PAGE = 50;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_SHOW_MS = 5000;
const GROUP_GAP_MS = 5 * 60 * 1000; // a pause this long starts a new group even from the same author

// "Today", "Yesterday" or the date, in the user's zone.
function dayLabel(ms, tz) {
  const key = (t) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(t));
  const day = key(ms);
  if (day === key(Date.now())) return 'Today';
  if (day === key(Date.now() - 86400000)) return 'Yesterday';
  return new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(ms));
}

export function mountChat(el, ctx, { circle, channel, moderator, focus }) {
  const { conn } = ctx;
  let alive = true;
  const byId = new Map(); // message id -> { msg, li }
  let hasMore = false;

  const title = h('h2', {}, `# ${channel.name}`);
  const topic = channel.topic ? h('p', { class: 'muted topic' }, channel.topic) : null;
  const tz = userZone(conn.user);
  const older = h('button', { type: 'button', class: 'secondary small older', hidden: true }, 'Load older messages');
  const empty = h('p', { class: 'muted empty' }, 'No messages yet. Say hello!');
  // The scroller carries role="log"; the list inside keeps its list semantics.
  const list = h('ol', { class: 'messages', 'aria-label': `Messages in #${channel.name}` });
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': `Messages in #${channel.name}`, tabindex: '0' },
    older, empty, list);
  const jump = h('button', { type: 'button', class: 'small jump-latest', hidden: true }, 'Jump to latest ↓');
  // The reader's read marker when the channel was opened: messages after it (not mine) are "new".
  let lastRead = channel.last_read || null;
  let readSent = lastRead;
  const typing = h('p', { class: 'typing', 'aria-live': 'polite' });
  const composerError = h('p', { class: 'form-error', role: 'alert' });
  const input = field(`Message #${channel.name}`, 'textarea', {
    name: 'text', rows: 2, maxlength: 4000, placeholder: `Message #${channel.name} (Enter sends, Shift+Enter for a new line)`,
    class: 'composer-input',
  });
  input.wrap.querySelector('label').classList.add('visually-hidden');
  const send = h('button', { type: 'submit' }, 'Send');
  const composer = h('form', { class: 'composer', 'aria-label': 'Send a message' }, input.wrap, send);

  fill(el, h('div', { class: 'chat-head' }, title, topic), log, jump, typing, composerError, composer);
  const detachMentions = attachMentionAutocomplete(input.input, ctx, { circle });

  // History pages and the answers to chat.send/chat.edit are snapshots of messages; chat.updated and
  // chat.deleted events travel another way (Redis pub/sub) and can overtake them: a page taken just before
  // a message was edited or deleted can arrive after that event, and would bring back the old text or the
  // deleted message (the event found nothing to change yet, or changed what the page then overwrote).
  // `live` keeps what those events said, per message id — the newest version, 'author' (deleted) or
  // 'moderator' (removed) — and a snapshot never undoes it. Events come in order, so the last one wins.
  const live = new Map();
  function putSnapshot(msg, opts) {
    const l = live.get(msg.id);
    if (l === 'author') return;
    if (l === 'moderator') put({ ...msg, text: '', removed: 'moderator' }, opts);
    else put(l || msg, opts);
  }

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
      existing.li.classList.toggle('msg-removed', Boolean(msg.removed));
      decorate();
      return;
    }
    const stick = nearBottom();
    const li = h('li', { class: msg.removed ? 'msg msg-removed' : 'msg', dataset: { id: msg.id, user: msg.user?.id || '' } }, ...rowContent(msg));
    byId.set(msg.id, { msg, li });
    // Insert in id order (an event can overtake a history page).
    let before = null;
    for (const other of list.querySelectorAll('li.msg')) {
      if (compareIds(other.dataset.id, msg.id) > 0) { before = other; break; }
    }
    list.insertBefore(li, before);
    empty.hidden = true;
    decorate();
    if (scroll && stick && !before) log.scrollTop = log.scrollHeight;
    else if (scroll && !before && msg.user?.id !== conn.user?.id) jump.hidden = false;
  }

  // Groups (author, day, pauses), day separators and the "New messages" marker, recomputed over the whole
  // list after every change: a few hundred rows at most, and it keeps the rules in one place.
  function decorate() {
    for (const sep of list.querySelectorAll('li.day-sep, li.unread-sep')) sep.remove();
    let prev = null;
    let prevDay = null;
    let unreadPlaced = false;
    for (const li of [...list.querySelectorAll('li.msg')]) {
      const m = byId.get(li.dataset.id)?.msg;
      if (!m) continue;
      const day = Number.isFinite(m.ts) ? dayLabel(m.ts, tz) : prevDay;
      if (day !== prevDay) li.before(h('li', { class: 'day-sep' }, day));
      const isNew = !unreadPlaced && lastRead && compareIds(m.id, lastRead) > 0 && m.user?.id !== conn.user?.id;
      if (isNew) { li.before(h('li', { class: 'unread-sep' }, 'New messages')); unreadPlaced = true; }
      const first = !prev || day !== prevDay || isNew || prev.user?.id !== m.user?.id || !(m.ts - prev.ts < GROUP_GAP_MS) || Boolean(m.help) || Boolean(m.removed);
      li.classList.toggle('first', first);
      prev = m;
      prevDay = day;
    }
  }

  function remove(id) {
    const e = byId.get(id);
    if (!e) return;
    e.li.remove();
    byId.delete(id);
    empty.hidden = byId.size > 0;
    decorate();
  }

  // One message: avatar, author and time (shown on the first of a group, kept for screen readers on the
  // others), the text, and its actions.
  function rowContent(msg) {
    const mine = msg.user?.id === conn.user?.id;
    const when = new Date(msg.ts);
    const head = h('div', { class: 'msg-head' },
      msg.user?.id ? h('button', { type: 'button', class: 'link author person', 'aria-haspopup': 'dialog',
        onclick: (ev) => showProfileCard(ctx, msg.user, ev.currentTarget) }, nameOf(msg.user)) : h('span', { class: 'author' }, nameOf(msg.user)),
      ' ',
      h('time', { datetime: Number.isFinite(msg.ts) ? when.toISOString() : undefined }, Number.isFinite(msg.ts) ? formatTime(msg.ts, tz) : ''),
      msg.edited ? h('span', { class: 'muted edited' }, ' (edited)') : null);
    if (msg.removed) {
      return [avatar(msg.user), head, h('p', { class: 'msg-text removed' }, msg.removed === 'moderator' ? 'Message removed by a moderator.' : 'Message removed.')];
    }
    const forMe = !mine && mentionsMe(msg.text, conn.user?.name);
    const text = h('p', { class: forMe ? 'msg-text mentions-me' : 'msg-text' },
      forMe ? h('span', { class: 'badge' }, 'mentions you ') : null, msg.text);
    const helpLine = msg.help ? h('p', { class: 'help-status', dataset: { status: msg.help.status } }, helpStatusText(msg.help)) : null;
    const actions = h('div', { class: 'msg-actions' });
    if (mine) actions.append(h('button', { type: 'button', class: 'link', 'aria-label': 'Edit your message', onclick: () => startEdit(msg) }, 'Edit'));
    if (mine || moderator) actions.append(h('button', { type: 'button', class: 'link', 'aria-label': `Delete message by ${nameOf(msg.user)}`, onclick: (ev) => askDelete(msg, ev.currentTarget) }, 'Delete'));
    if (!mine) actions.append(h('button', { type: 'button', class: 'link', 'aria-label': `Report message by ${nameOf(msg.user)}`, onclick: () => startReport(msg) }, 'Report'));
    return [avatar(msg.user), head, helpLine, text, actions.children.length ? actions : null];
  }

  // Reporting a message to the circle's moderators, with a reason (chat.report).
  function startReport(msg) {
    const e = byId.get(msg.id);
    if (!e) return;
    const reason = field('Why should a moderator look at this?', 'input', { maxlength: 500, required: true });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const restore = () => { fill(e.li, ...rowContent(e.msg)); decorate(); };
    const form = h('form', { class: 'report-form', 'aria-label': 'Report message' }, reason.wrap,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'small' }, 'Send report'),
        h('button', { type: 'button', class: 'secondary small', onclick: restore }, 'Cancel')), error);
    reason.input.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') restore(); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = reason.input.value.trim();
      if (!text) { error.textContent = 'Please give a reason.'; return; }
      try {
        await conn.request('chat.report', { channel: channel.id, message: msg.id, reason: text });
        restore();
        ctx.toast('Thank you. The moderators will look at it.');
      } catch (err) {
        error.textContent = err.code === 'conflict' ? 'You have already reported this message.' : ctx.describeError(err);
      }
    });
    e.li.append(form);
    reason.input.focus();
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
        if (typeof live.get(msg.id) !== 'string') live.set(msg.id, res.message); // newer than any earlier event
        putSnapshot(res.message);
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
        if (msg.user?.id !== conn.user?.id) put({ ...msg, text: '', removed: 'moderator' });
        else remove(msg.id);
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
      for (const m of res.messages) putSnapshot(m, { scroll: false });
      hasMore = Boolean(res.has_more);
      older.hidden = !hasMore;
      const marker = list.querySelector('li.unread-sep');
      if (marker && marker.offsetTop > log.clientHeight / 2) log.scrollTop = marker.offsetTop - 40; // start at the first new one
      else log.scrollTop = log.scrollHeight;
      markRead();
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
      for (const m of res.messages) putSnapshot(m, { scroll: false });
      hasMore = Boolean(res.has_more);
      older.hidden = !hasMore;
      log.scrollTop += log.scrollHeight - oldHeight; // keep the reader's place
    } catch (err) {
      composerError.textContent = ctx.describeError(err);
    } finally {
      older.disabled = false;
    }
  });

  // Opened on one message (a search result: #/circle/<cid>/<channel>/<message id>): the messages around it,
  // it highlighted in the middle of the log. Newer ones beyond the page leave a gap that "Jump to latest"
  // closes by loading the latest page instead.
  let gap = false;
  async function loadAround(id) {
    log.setAttribute('aria-busy', 'true');
    try {
      const prev = await conn.request('chat.history', { channel: channel.id, before: id, limit: PAGE / 2 });
      const from = prev.messages.length ? prev.messages[prev.messages.length - 1].id : '0-0';
      const next = await conn.request('chat.history', { channel: channel.id, after: from, limit: PAGE / 2 });
      if (!alive) return;
      for (const m of [...prev.messages, ...next.messages]) putSnapshot(m, { scroll: false });
      hasMore = Boolean(prev.has_more);
      older.hidden = !hasMore;
      gap = Boolean(next.has_more);
      jump.hidden = !gap;
      const hit = byId.get(id);
      if (hit) {
        hit.li.classList.add('msg-focus');
        hit.li.setAttribute('aria-current', 'true');
        hit.li.scrollIntoView({ block: 'center' });
      } else composerError.textContent = 'That message is no longer here.';
    } catch (err) {
      if (alive) composerError.textContent = `Could not load messages: ${ctx.describeError(err)}`;
    } finally {
      log.removeAttribute('aria-busy');
      empty.hidden = byId.size > 0;
    }
  }

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
      for (const m of res.messages) putSnapshot(m);
      if (!res.has_more || res.messages.length === 0) break;
      cursor = res.messages[res.messages.length - 1].id;
    }
    composerError.textContent = '';
  }

  // ----- read markers and "jump to latest" -----
  // The newest message counts as read once it is on screen while the tab is visible; channel.read is sent
  // for it (never for an older one: the server keeps the marker from moving back anyway).
  let readTimer = null;
  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      const newest = lastId();
      if (!alive || !newest || document.visibilityState !== 'visible' || !nearBottom()) return;
      if (readSent && compareIds(newest, readSent) <= 0) return;
      readSent = newest;
      conn.request('channel.read', { channel: channel.id, message: newest }).catch(() => { readSent = null; });
    }, 300);
  }
  log.addEventListener('scroll', () => {
    if (nearBottom() && !gap) { jump.hidden = true; markRead(); }
  });
  jump.addEventListener('click', () => {
    if (gap) { // opened on an older message: the latest page replaces the context
      gap = false;
      byId.clear();
      list.replaceChildren();
      jump.hidden = true;
      loadLatest();
      return;
    }
    log.scrollTop = log.scrollHeight;
    jump.hidden = true;
    markRead();
    input.input.focus();
  });
  const onVisible = () => { if (document.visibilityState === 'visible') markRead(); };
  document.addEventListener('visibilitychange', onVisible);

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
      putSnapshot(res.message);
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
      markRead();
    },
    'chat.updated': (ev) => {
      const m = ev.detail.message;
      if (!m || m.channel !== channel.id || typeof live.get(m.id) === 'string') return; // deleted stays deleted
      live.set(m.id, m);
      if (byId.has(m.id)) put(m);
    },
    'chat.deleted': (ev) => {
      if (ev.detail.channel !== channel.id) return;
      live.set(ev.detail.message, ev.detail.by === 'moderator' ? 'moderator' : 'author');
      const e = byId.get(ev.detail.message);
      if (ev.detail.by === 'moderator' && e) put({ ...e.msg, text: '', removed: 'moderator' });
      else remove(ev.detail.message);
    },
    'chat.typing': (ev) => {
      const { channel: ch, user } = ev.detail;
      if (ch !== channel.id || !user || user.id === conn.user?.id) return;
      typers.set(user.id, { name: nameOf(user), until: Date.now() + TYPING_SHOW_MS });
      renderTyping();
    },
    resumed: () => catchUp(),
  };
  for (const [t, fn] of Object.entries(handlers)) conn.addEventListener(t, fn);
  if (focus) loadAround(focus);
  else loadLatest();
  input.input.focus();

  return () => {
    alive = false;
    clearTimeout(typingTimer);
    clearTimeout(readTimer);
    detachMentions();
    document.removeEventListener('visibilitychange', onVisible);
    for (const [t, fn] of Object.entries(handlers)) conn.removeEventListener(t, fn);
  };
}
