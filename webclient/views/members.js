// views/members.js — a circle's member list: avatar, display name and @user name, role badge, live presence
// (text + symbol, never colour alone), call / book buttons. For moderators each row also has the member's
// role (circle.set_role: member, expert, mentor, moderator) and "Remove from circle" (circle.remove, with a
// confirmation); for admins "Suspend account" (admin.suspend). Refreshes on membership events; presence
// events update one row.
import { h, fill, avatar } from '../dom.js';
import { circleMembers } from '../protocol.js';
import { showProfileCard } from './card.js';

export const PRESENCE = {
  online: { symbol: '●', label: 'online' },
  away: { symbol: '◐', label: 'away' },
  busy: { symbol: '⊘', label: 'busy' },
  in_call: { symbol: '☎', label: 'in a call' },
  offline: { symbol: '○', label: 'offline' },
};
const ROLE_ORDER = { moderator: 0, mentor: 1, expert: 2, member: 3 };

export function presenceBadge(status) {
  const p = PRESENCE[status] || PRESENCE.offline;
  return h('span', { class: `presence presence-${status || 'offline'}`, dataset: { presence: status || 'offline' } },
    h('span', { 'aria-hidden': 'true' }, p.symbol), ` ${p.label}`);
}

export function mountMembers(el, ctx, { circle, moderator = false }) {
  const { conn } = ctx;
  let alive = true;
  let members = [];
  const count = h('p', { class: 'muted', role: 'status' });
  const list = h('ul', { class: 'member-list' });
  fill(el, h('h2', { id: `members-${circle.id}` }, 'Members'), count, list);
  list.setAttribute('aria-labelledby', `members-${circle.id}`);
  // what the profile cards (views/card.js) know of a member of the circle on screen
  const shared = { circle: circle.id, circleName: circle.name, moderator, get: (uid) => members.find((x) => x.user.id === uid) };
  ctx.members = shared;

  function render() {
    members.sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9)
      || (a.presence === 'offline') - (b.presence === 'offline')
      || nameOf(a).localeCompare(nameOf(b)));
    list.replaceChildren(...members.map(row));
    const online = members.filter((m) => m.presence && m.presence !== 'offline').length;
    count.textContent = `${members.length} ${members.length === 1 ? 'member' : 'members'}, ${online} online`;
  }

  function row(m) {
    const me = m.user.id === conn.user?.id;
    return h('li', { class: 'member', dataset: { user: m.user.id, name: m.user.name } },
      avatar(m.user, { size: 's' }),
      h('span', { class: 'who' }, h('button', { type: 'button', class: 'link person', 'aria-haspopup': 'dialog',
        onclick: (ev) => showProfileCard(ctx, m.user, ev.currentTarget) }, nameOf(m)), me ? h('span', { class: 'muted' }, ' (you)') : null,
        h('span', { class: 'username muted' }, ` @${m.user.name}`)),
      m.role !== 'member' ? h('span', { class: `role role-${m.role}` }, m.role) : null,
      presenceBadge(m.presence),
      m.on_duty ? h('span', { class: 'on-duty' }, ' · on duty') : null,
      m.role === 'mentor' && !me ? h('a', { class: 'book', href: `#/book/${m.user.id}` }, 'Book a session') : null,
      me ? null : callButton(m),
      moderator && !me ? manage(m) : null);
  }

  // A moderator's controls for one member, folded away so the list stays calm.
  function manage(m) {
    const who = nameOf(m);
    const error = h('p', { class: 'form-error', role: 'alert' });
    const role = h('select', { 'aria-label': `Role of ${who}`, name: 'role' },
      ['member', 'expert', 'mentor', 'moderator'].map((r) => h('option', { value: r, selected: r === m.role }, r)));
    role.addEventListener('change', async () => {
      error.textContent = '';
      try {
        await conn.request('circle.set_role', { circle: circle.id, user: m.user.id, role: role.value });
        ctx.toast(`${who} is now ${role.value === 'expert' ? 'an' : 'a'} ${role.value}.`);
      } catch (err) {
        role.value = m.role;
        error.textContent = ctx.describeError(err);
      }
    });
    const remove = h('button', { type: 'button', class: 'danger small' }, 'Remove from circle');
    remove.addEventListener('click', () => {
      const yes = h('button', { type: 'button', class: 'danger small' }, `Yes, remove ${who}`);
      const no = h('button', { type: 'button', class: 'secondary small' }, 'Keep');
      const box = remove.parentElement;
      const restore = [...box.childNodes];
      no.addEventListener('click', () => { box.replaceChildren(...restore); remove.focus(); });
      yes.addEventListener('click', async () => {
        try {
          await conn.request('circle.remove', { circle: circle.id, user: m.user.id });
          ctx.toast(`${who} was removed from the circle.`);
        } catch (err) {
          error.textContent = err.code === 'conflict' ? 'That cannot be done: a circle keeps at least one moderator.' : ctx.describeError(err);
          box.replaceChildren(...restore);
        }
      });
      box.replaceChildren(yes, no);
      yes.focus();
    });
    const actions = h('div', { class: 'actions' }, remove);
    if (ctx.user?.admin) {
      actions.append(h('button', { type: 'button', class: 'secondary small', onclick: async () => {
        try {
          await conn.request('admin.suspend', { user: m.user.id });
          ctx.toast(`${who}'s account is suspended.`);
        } catch (err) { error.textContent = ctx.describeError(err); }
      } }, 'Suspend account'));
    }
    return h('details', { class: 'manage' }, h('summary', { 'aria-label': `Manage ${who}` }, 'Manage'),
      h('label', {}, 'Role ', role), actions, error);
  }

  // Experts and mentors get a prominent call button: they are who people come to call.
  function callButton(m) {
    const prominent = m.role === 'expert' || m.role === 'mentor';
    return h('button', {
      type: 'button', class: prominent ? 'call-button prominent' : 'call-button secondary',
      'aria-label': `Call ${nameOf(m)}`, onclick: () => ctx.calls?.start(m.user),
    }, prominent ? '📞 Call' : 'Call');
  }

  // circle.members answers with a snapshot, and live presence and help.duty events can overtake it: the
  // answer travels on the request's way, the events through Redis pub/sub, so someone who signs in just
  // after the snapshot was taken can be shown online by the event and then offline again by the older
  // answer, until their next change. So each load keeps, while it is on its way, what those events said
  // (`overlays`: user id → { presence, on_duty }) and applies it on top of its answer; the events carry the
  // whole state, not a change, so applying one the snapshot already includes changes nothing.
  // Answers may also come in a different order than the requests (PROTOCOL.md): a full load started later
  // wins over an earlier one still on its way (`loadSeq`).
  const overlays = new Set();
  let loadSeq = 0;
  function remember(user, fields) {
    for (const o of overlays) o.set(user, { ...o.get(user), ...fields });
  }

  // Up to 2000 members at first (10 pages); a very big circle offers "Show more members" for the rest.
  let next = null;
  const more = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Show more members');
  el.append(more);
  async function load(from = '0') {
    const mine = from === '0' ? ++loadSeq : loadSeq;
    const overlay = new Map();
    overlays.add(overlay);
    try {
      const res = await circleMembers(conn, circle.id, { cursor: from });
      if (!alive || mine !== loadSeq) return;
      if (from === '0') members = [];
      const known = new Set(members.map((m) => m.user.id));
      members.push(...res.members.filter((m) => !known.has(m.user.id)));
      for (const m of members) if (overlay.has(m.user.id)) Object.assign(m, overlay.get(m.user.id));
      next = res.next;
      more.hidden = next === null;
      for (const m of members) ctx.users.set(m.user.id, m.user);
      render();
    } catch (err) {
      if (alive && mine === loadSeq) count.textContent = `Could not load members: ${ctx.describeError(err)}`;
    } finally {
      overlays.delete(overlay);
    }
  }
  more.addEventListener('click', () => { if (next !== null) load(next); });

  const onPresence = (ev) => {
    const { user, status } = ev.detail;
    const live = { presence: status };
    // on_duty is per circle: a user in two circles gets one presence event for each
    if (typeof ev.detail.on_duty === 'boolean' && (!ev.detail.circle || ev.detail.circle === circle.id)) live.on_duty = ev.detail.on_duty;
    if (status === 'offline') live.on_duty = false; // duty ends with the device
    remember(user, live);
    const m = members.find((x) => x.user.id === user);
    if (!m || (m.presence === status && (live.on_duty === undefined || m.on_duty === live.on_duty))) return;
    Object.assign(m, live);
    render();
  };
  const onChange = (ev) => { if (ev.detail.circle === circle.id) load(); };
  const reload = () => load();
  const types = ['circle.member_joined', 'circle.member_left', 'circle.role'];
  conn.addEventListener('presence', onPresence);
  for (const t of types) conn.addEventListener(t, onChange);
  conn.addEventListener('resumed', reload);
  const onDuty = (ev) => {
    if (ev.detail.circle !== circle.id) return;
    remember(ev.detail.user, { on_duty: ev.detail.on_duty });
    const m = members.find((x) => x.user.id === ev.detail.user);
    if (m) { m.on_duty = ev.detail.on_duty; render(); }
  };
  conn.addEventListener('help.duty', onDuty);
  load();
  return () => {
    alive = false;
    if (ctx.members === shared) ctx.members = null;
    conn.removeEventListener('presence', onPresence);
    for (const t of types) conn.removeEventListener(t, onChange);
    conn.removeEventListener('resumed', reload);
    conn.removeEventListener('help.duty', onDuty);
  };
}

function nameOf(m) {
  return m.user.display_name || m.user.name || m.user.id;
}
