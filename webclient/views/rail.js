// views/rail.js — the left rail of a circle's page: my circles (unread counts and how many experts are on
// duty), this circle's channels (unread counts; moderators add one), and its drop-in rooms with the faces
// of who is inside (views/room.js). On a phone the rail is a drawer (circle.js opens and closes it).
//
// Unread counts come from the server (unread.counts: read markers are stored per user and channel, so
// another device sees the same) and then follow live events: a message in a channel that is not open adds
// one; channel.read (from any of my devices) clears that channel. Without unread.counts (an older server)
// the counts start at zero and follow the live events only.
import { h, field, fill } from '../dom.js';
import { compareIds } from '../protocol.js';
import { mountRooms } from './room.js';

const CAP = 99; // the server caps at 100 per channel; "99+" past this
const SNAPSHOT_TRIES = 4; // an answer overtaken by a live event is asked for again at most this often

export function unreadText(n) {
  return n > CAP ? `${CAP}+` : String(n);
}

// mountRail(el, ctx, { circle, channels, current, moderator }) → cleanup.
export function mountRail(el, ctx, { circle, channels, current, moderator }) {
  const { conn } = ctx;
  let alive = true;
  const cleanups = [];
  const channelUnread = new Map(); // channel id → { unread, mentions }
  const circleUnread = new Map();  // circle id → { unread, mentions }, other circles than this one

  // ----- my circles -----
  const circleList = h('ul', { class: 'rail-circles', 'aria-label': 'Your circles' });
  let mine = [];
  function renderCircles() {
    circleList.replaceChildren(...mine.map((c) => {
      const here = c.id === circle.id;
      const u = here ? sumChannels() : circleUnread.get(c.id) || { unread: 0, mentions: 0 };
      const badge = u.unread > 0 ? h('span', { class: 'count-badge', dataset: { mentions: u.mentions > 0 ? 'yes' : 'no' } },
        unreadText(u.unread), h('span', { class: 'visually-hidden' }, ` unread${u.mentions ? `, ${u.mentions} mentioning you` : ''}`)) : null;
      return h('li', { dataset: { circle: c.id } },
        h('a', { href: `#/circle/${encodeURIComponent(c.id)}`, 'aria-current': here ? 'page' : undefined },
          h('span', { class: 'rail-name' }, c.name), badge),
        h('span', { class: 'rail-duty muted' }, c.experts_on_duty > 0
          ? `${c.experts_on_duty} ${c.experts_on_duty === 1 ? 'expert' : 'experts'} on duty`
          : `${c.experts_online || 0} ${c.experts_online === 1 ? 'expert' : 'experts'} online`));
    }));
  }
  // circle.list is a snapshot too: a help.duty event that overtakes it (see loadUnread below) would be
  // undone by it, so an answer taken while such an event arrived is asked for again (a few times at most).
  let dutyChanges = 0;
  async function listCircles() {
    try {
      return await conn.request('circle.list', { mine: true, limit: 100 });
    } catch (err) {
      if (err.code !== 'bad_request') throw err;
      return conn.request('circle.list', { limit: 100 }); // a server without `mine`
    }
  }
  async function loadCircles() {
    try {
      for (let tries = 0; tries < SNAPSHOT_TRIES; tries++) {
        const seen = dutyChanges;
        const res = await listCircles();
        if (!alive) return;
        if (seen !== dutyChanges && tries < SNAPSHOT_TRIES - 1) continue;
        mine = res.circles.filter((c) => c.my_status === 'member');
        if (!mine.some((c) => c.id === circle.id)) mine.unshift(circle);
        renderCircles();
        return;
      }
    } catch { /* the rail keeps what it shows; the circle itself still works */ }
  }

  // ----- channels -----
  const channelLink = (c) => h('li', { dataset: { channel: c.id } },
    h('a', {
      href: `#/circle/${encodeURIComponent(circle.id)}/${encodeURIComponent(c.id)}`,
      'aria-current': c === current ? 'page' : undefined,
    }, `# ${c.name}`, h('span', { class: 'unread' })));
  const channelList = h('ul', { class: 'rail-channels' }, channels.map(channelLink));
  function renderUnread(channelId) {
    const li = channelList.querySelector(`[data-channel="${CSS.escape(String(channelId))}"]`);
    if (!li) return;
    const n = channelId === current?.id ? 0 : channelUnread.get(channelId)?.unread || 0;
    li.querySelector('.unread').textContent = n > 0 ? ` (${unreadText(n)} new)` : '';
    li.classList.toggle('has-unread', n > 0);
  }
  function sumChannels() {
    let unread = 0; let mentions = 0;
    for (const [id, u] of channelUnread) if (id !== current?.id) { unread += u.unread; mentions += u.mentions; }
    return { unread, mentions };
  }
  function renderAllUnread() {
    for (const c of channels) renderUnread(c.id);
    renderCircles();
  }

  // unread.counts is a snapshot, and live chat.message events travel another way (Redis pub/sub): an
  // event can arrive before the answer that already counted its message, or after. Each channel's answer
  // names the newest message it counted (`newest`); a live message after it is counted on top, one at or
  // before it is in the counts already (`counted`: channel id → that id). Messages that arrived while the
  // request was on its way are kept (`pending.live`) and added to the answer where it did not count them.
  // A read marker that moved meanwhile (channel.read) may or may not be in the answer: then it is asked
  // again (a few times at most; a channel too busy for that keeps its live counts).
  const counted = new Map();
  let pending = null; // { live: [{channel, circle, id}], reads, again } while an answer is on its way
  async function loadUnread() {
    if (pending) { pending.again = true; return; }
    try {
      for (let tries = 0; tries < SNAPSHOT_TRIES; tries++) {
        pending = { live: [], reads: false, again: false };
        const res = await conn.request('unread.counts', {});
        if (!alive) return;
        if (!pending.reads && !pending.again) { applySnapshot(res, pending.live); return; }
      }
    } catch { /* an older server: live counts only */ } finally {
      pending = null;
    }
  }
  function applySnapshot(res, live) {
    const after = (ch) => live.filter((m) => m.channel === ch.channel && (!ch.newest || compareIds(m.id, ch.newest) > 0)).length;
    for (const c of res.circles || []) {
      let extra = 0;
      for (const ch of c.channels || []) {
        const more = after(ch);
        extra += more;
        if (ch.newest) counted.set(ch.channel, ch.newest);
        if (c.circle === circle.id) channelUnread.set(ch.channel, { unread: ch.unread + more, mentions: ch.mentions || 0 });
      }
      if (c.circle !== circle.id) circleUnread.set(c.circle, { unread: c.unread + extra, mentions: c.mentions || 0 });
    }
    renderAllUnread();
  }
  // Seed from channel.list's unread (when the server gives it) before unread.counts answers.
  for (const c of channels) if (Number.isFinite(c.unread)) channelUnread.set(c.id, { unread: c.unread, mentions: 0 });

  const onMessage = (ev) => {
    const m = ev.detail.message;
    if (!m || m.user?.id === conn.user?.id) return;
    const upTo = counted.get(m.channel);
    if (upTo && compareIds(m.id, upTo) <= 0) return; // the last answer counted it already
    pending?.live.push({ channel: m.channel, circle: ev.detail.circle, id: m.id });
    if (channels.some((c) => c.id === m.channel)) {
      if (m.channel === current?.id) return;
      const u = channelUnread.get(m.channel) || { unread: 0, mentions: 0 };
      u.unread += 1;
      channelUnread.set(m.channel, u);
      renderUnread(m.channel);
      renderCircles();
    } else if (ev.detail.circle && ev.detail.circle !== circle.id) {
      const u = circleUnread.get(ev.detail.circle) || { unread: 0, mentions: 0 };
      u.unread += 1;
      circleUnread.set(ev.detail.circle, u);
      renderCircles();
    }
  };
  const onRead = (ev) => {
    const { circle: cid, channel } = ev.detail;
    if (pending) pending.reads = true;
    if (cid === circle.id || channels.some((c) => c.id === channel)) {
      channelUnread.set(channel, { unread: 0, mentions: 0 });
      renderUnread(channel);
      renderCircles();
    } else if (cid) {
      loadUnread(); // another circle: its total is not known channel by channel here
    }
  };
  // A channel added by a moderator appears for everyone without a reload.
  const onChannel = (ev) => {
    const ch = ev.detail.channel;
    if (!ch || ch.circle !== circle.id || channelList.querySelector(`[data-channel="${CSS.escape(ch.id)}"]`)) return;
    channels.push(ch);
    channelList.appendChild(channelLink(ch));
    ctx.announce(`New channel # ${ch.name}`);
  };
  const onDuty = (ev) => {
    dutyChanges += 1;
    const c = mine.find((x) => x.id === ev.detail.circle);
    if (c && Number.isFinite(ev.detail.experts_on_duty)) { c.experts_on_duty = ev.detail.experts_on_duty; renderCircles(); }
  };
  const onMembership = (ev) => { if (ev.detail.user === conn.user?.id) loadCircles(); };
  const onResumed = () => { loadCircles(); loadUnread(); };
  const handlers = { 'chat.message': onMessage, 'channel.read': onRead, 'channel.created': onChannel,
    'help.duty': onDuty, 'circle.membership': onMembership, resumed: onResumed };
  for (const [t, f] of Object.entries(handlers)) conn.addEventListener(t, f);
  cleanups.push(() => { for (const [t, f] of Object.entries(handlers)) conn.removeEventListener(t, f); });

  const roomsEl = h('div', { class: 'rooms-panel' });
  fill(el,
    h('p', { class: 'crumbs' }, h('a', { href: '#/circles' }, '← All circles')),
    h('h2', { class: 'rail-title' }, 'Your circles'), circleList,
    h('h2', { class: 'rail-title' }, 'Channels'), channelList,
    moderator ? addChannelForm(ctx, circle.id) : null,
    roomsEl,
    ctx.notify?.button?.() || null);
  cleanups.push(mountRooms(roomsEl, ctx, { circle }));
  renderCircles();
  loadCircles();
  loadUnread();

  return () => {
    alive = false;
    for (const c of cleanups.splice(0)) c();
  };
}

function addChannelForm(ctx, cid) {
  const { conn } = ctx;
  const name = field('New channel name', 'input', { name: 'name', required: true, maxlength: 32 });
  const topic = field('Topic (optional)', 'input', { name: 'topic', maxlength: 200 });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'add-channel', 'aria-label': 'Add a channel' },
    name.wrap, topic.wrap, error, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add channel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      const fields = { circle: cid, name: name.input.value.trim() };
      if (topic.input.value.trim()) fields.topic = topic.input.value.trim();
      const res = await conn.request('channel.create', fields);
      ctx.navigate(`#/circle/${encodeURIComponent(cid)}/${encodeURIComponent(res.channel.id)}`);
    } catch (err) {
      error.textContent = ctx.describeError(err);
    }
  });
  return h('details', { class: 'admin-panel' }, h('summary', {}, 'Add a channel'), form);
}
