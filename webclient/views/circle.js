// views/circle.js — one circle: its channels (moderators can add one), the open channel's chat, the member
// list, and (for moderators) pending join requests with approve / reject.
import { h, field, fill } from '../dom.js';
import { phaseLabel, countsText } from './directory.js';
import { mountChat } from './chat.js';
import { mountMembers } from './members.js';
import { mountRooms } from './room.js';
import { mountHelp } from './help.js';
import { mountMentorSlots } from './schedule.js';

export function mountCircle(root, ctx, params) {
  const { conn } = ctx;
  const cleanups = [];
  let alive = true;
  const circleId = params.circle;
  let shownStatus = null; // my_status as currently shown

  const header = h('div', { class: 'circle-head' }, h('h1', {}, 'Circle'));
  const body = h('div', { class: 'circle-body' }, h('p', { class: 'muted' }, 'Loading…'));
  root.append(h('section', { class: 'circle' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/circles' }, '← All circles')), header, body));

  // The header's "N members · N online · N experts online" follows presence and membership changes.
  // Events arrive in bursts (one per shared circle, several devices), so re-read the counts at most
  // once per second rather than once per event.
  let countsTimer = null;
  function watchCounts(counts) {
    const refresh = (ev) => {
      if (ev.detail?.circle && ev.detail.circle !== circleId) return;
      if (countsTimer) return;
      countsTimer = setTimeout(async () => {
        countsTimer = null;
        try {
          const fresh = (await conn.request('circle.get', { circle: circleId })).circle;
          if (alive) counts.textContent = countsText(fresh);
        } catch { /* the next event tries again; the member list stays live meanwhile */ }
      }, 1000);
    };
    for (const type of ['presence', 'circle.member_joined', 'circle.member_left', 'circle.role']) {
      conn.addEventListener(type, refresh);
      cleanups.push(() => conn.removeEventListener(type, refresh));
    }
    cleanups.push(() => { clearTimeout(countsTimer); countsTimer = null; });
  }

  async function load() {
    let circle;
    try {
      circle = (await conn.request('circle.get', { circle: circleId })).circle;
    } catch (err) {
      if (alive) fill(body, h('p', { class: 'form-error', role: 'alert' }, `Could not open this circle: ${ctx.describeError(err)}`));
      return;
    }
    if (!alive) return;
    shownStatus = circle.my_status;
    const moderator = circle.my_role === 'moderator' || Boolean(ctx.user?.admin);
    const counts = h('p', { class: 'counts', 'aria-live': 'polite' }, countsText(circle));
    fill(header,
      h('h1', {}, circle.name),
      h('p', { class: 'meta' }, [circle.subject, phaseLabel(circle.phase), circle.moderated ? 'moderated' : 'open'].join(' · ')),
      counts,
      circle.description ? h('p', { class: 'desc' }, circle.description) : null);
    watchCounts(counts);
    if (circle.my_status !== 'member') {
      // Admins act as moderators of every circle without being members: they can still decide requests.
      fill(body, notMember(circle), ctx.user?.admin && circle.moderated ? h('aside', { class: 'channels' }, pendingPanel(circleId)) : null);
      return;
    }
    let channels = [];
    try {
      channels = (await conn.request('channel.list', { circle: circleId })).channels;
    } catch (err) {
      if (alive) fill(body, h('p', { class: 'form-error', role: 'alert' }, `Could not load the channels: ${ctx.describeError(err)}`));
      return;
    }
    if (!alive) return;
    const current = channels.find((c) => c.id === params.channel) || channels[0];
    const channelLink = (c) => h('li', { dataset: { channel: c.id } },
      h('a', {
        href: `#/circle/${encodeURIComponent(circleId)}/${encodeURIComponent(c.id)}`,
        'aria-current': c === current ? 'page' : undefined,
      }, `# ${c.name}`, h('span', { class: 'unread' })));
    const channelList = h('ul', {}, channels.map(channelLink));
    // A channel added by a moderator appears for everyone without a reload.
    const onChannel = (ev) => {
      const ch = ev.detail.channel;
      if (!ch || ch.circle !== circleId || channelList.querySelector(`[data-channel="${CSS.escape(ch.id)}"]`)) return;
      channelList.appendChild(channelLink(ch));
      ctx.announce(`New channel # ${ch.name}`);
    };
    // Messages in the other channels of this circle: "(N new)" next to the channel's name.
    const unread = new Map();
    const onMessage = (ev) => {
      const m = ev.detail.message;
      if (!m || (current && m.channel === current.id) || m.user?.id === conn.user?.id) return;
      const li = channelList.querySelector(`[data-channel="${CSS.escape(String(m.channel))}"]`);
      if (!li) return;
      const n = (unread.get(m.channel) || 0) + 1;
      unread.set(m.channel, n);
      li.querySelector('.unread').textContent = ` (${n} new)`;
    };
    conn.addEventListener('channel.created', onChannel);
    conn.addEventListener('chat.message', onMessage);
    cleanups.push(() => conn.removeEventListener('channel.created', onChannel));
    cleanups.push(() => conn.removeEventListener('chat.message', onMessage));
    const side = h('aside', { class: 'channels', 'aria-label': 'Channels' },
      h('h2', {}, 'Channels'),
      channelList,
      moderator ? addChannelForm(circleId) : null,
      moderator && circle.moderated ? pendingPanel(circleId) : null);
    const chatEl = h('section', { class: 'chat', 'aria-label': current ? `Channel ${current.name}` : 'Chat' });
    const membersEl = h('div', {});
    const roomsEl = h('div', { class: 'rooms-panel' });
    const mentorsEl = h('div', { class: 'mentors-panel' });
    const helpEl = h('div', { class: 'help-area' });
    body.before(helpEl);
    cleanups.push(() => helpEl.remove());
    cleanups.push(mountHelp(helpEl, ctx, { circle }));
    fill(body, side, chatEl, h('aside', { class: 'members', 'aria-label': 'Drop-in rooms and members' }, roomsEl, mentorsEl, membersEl));
    cleanups.push(mountRooms(roomsEl, ctx, { circle }));
    cleanups.push(mountMentorSlots(mentorsEl, ctx, { circle }));
    if (current) cleanups.push(mountChat(chatEl, ctx, { circle, channel: current, moderator }));
    else chatEl.append(h('p', { class: 'muted' }, 'This circle has no channels yet.'));
    cleanups.push(mountMembers(membersEl, ctx, { circle }));
  }

  function notMember(circle) {
    const error = h('p', { class: 'form-error', role: 'alert' });
    if (circle.my_status === 'pending') {
      const withdraw = h('button', { type: 'button', class: 'secondary' }, 'Withdraw request');
      withdraw.addEventListener('click', async () => {
        withdraw.disabled = true;
        try {
          await conn.request('circle.leave', { circle: circle.id });
          reload();
        } catch (err) {
          error.textContent = ctx.describeError(err);
          withdraw.disabled = false;
        }
      });
      return h('div', { class: 'card' }, h('p', {}, '⏳ Your request to join is waiting for a moderator.'), withdraw, error);
    }
    const label = circle.moderated ? 'Request to join' : 'Join this circle';
    const btn = h('button', { type: 'button' }, label);
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await conn.request('circle.join', { circle: circle.id });
        reload();
      } catch (err) {
        error.textContent = ctx.describeError(err);
        btn.disabled = false;
      }
    });
    return h('div', { class: 'card' }, h('p', {}, 'You are not a member of this circle yet.'), btn, error);
  }

  function addChannelForm(cid) {
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

  function pendingPanel(cid) {
    const list = h('ul', { class: 'pending-list', 'aria-label': 'Pending join requests' });
    const status = h('p', { class: 'muted', role: 'status' });
    const refresh = h('button', { type: 'button', class: 'secondary small' }, 'Refresh requests');
    async function loadPending() {
      try {
        const res = await conn.request('circle.pending', { circle: cid });
        if (!alive) return;
        list.replaceChildren(...res.requests.map(requestItem));
        status.textContent = res.requests.length ? '' : 'No pending requests.';
      } catch (err) {
        if (alive) status.textContent = `Could not load requests: ${ctx.describeError(err)}`;
      }
    }
    function requestItem(req) {
      const u = req.user || {};
      const who = u.display_name || u.name || String(u.id || u);
      const uid = u.id || u;
      const error = h('p', { class: 'form-error', role: 'alert' });
      const li = h('li', { class: 'pending', dataset: { user: uid } },
        h('span', { class: 'who' }, who, u.name && u.display_name ? h('span', { class: 'muted' }, ` @${u.name}`) : null));
      const decide = (type, verb) => async () => {
        error.textContent = '';
        try {
          await conn.request(type, { circle: cid, user: uid });
          ctx.announce(`${who} ${verb}`);
          li.remove();
          if (!list.children.length) status.textContent = 'No pending requests.';
        } catch (err) {
          error.textContent = ctx.describeError(err);
        }
      };
      li.append(
        h('span', { class: 'actions' },
          h('button', { type: 'button', class: 'small', 'aria-label': `Approve ${who}`, onclick: decide('circle.approve', 'approved') }, 'Approve'),
          h('button', { type: 'button', class: 'secondary small', 'aria-label': `Reject ${who}`, onclick: decide('circle.reject', 'rejected') }, 'Reject')),
        error);
      return li;
    }
    refresh.addEventListener('click', loadPending);
    const onEvent = (ev) => { if (ev.detail.circle === cid) loadPending(); };
    for (const t of ['circle.join_request', 'circle.member_joined', 'circle.membership']) {
      conn.addEventListener(t, onEvent);
      cleanups.push(() => conn.removeEventListener(t, onEvent));
    }
    loadPending();
    return h('section', { class: 'pending-panel', 'aria-label': 'Join requests' },
      h('h2', {}, 'Join requests'), status, list, refresh);
  }

  function reload() {
    for (const c of cleanups.splice(0)) c();
    fill(body, h('p', { class: 'muted' }, 'Loading…'));
    load();
  }

  // Our own membership changed (approved, removed): show the circle as it now is.
  const onMembership = (ev) => {
    const d = ev.detail;
    if (d.circle === circleId && d.user === conn.user?.id && d.status !== shownStatus) reload();
  };
  conn.addEventListener('circle.membership', onMembership);
  load();

  return () => {
    alive = false;
    conn.removeEventListener('circle.membership', onMembership);
    for (const c of cleanups.splice(0)) c();
  };
}
