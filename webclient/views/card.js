// views/card.js — the profile card shown when a member or a message's author is clicked (like Slack's):
// avatar, display name and @user name, role badges in every circle we share (circle.shared), school and subjects, their local time
// (their profile's time zone), presence and on-duty, and buttons: Message (an @mention of them in this
// channel's composer — the protocol has no direct messages), Call, Book a session (mentors), and for the
// circle's moderators their role (circle.set_role). The full profile comes from profile.get; what only the
// circle knows (role, presence, duty) from the member list on screen (ctx.members, views/members.js).
//
// One card at a time; it is a non-modal dialog: Escape or Close closes it and focus goes back to what
// opened it. Must not: keep anything after it is closed.
import { h, fill, avatar } from '../dom.js';
import { PRESENCE } from './members.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';
let current = null; // { box, opener, close }

// Opens the card of `user` ({id, name?, display_name?}), next to `opener` (the clicked element).
export function showProfileCard(ctx, user, opener) {
  current?.close(false);
  const { conn } = ctx;
  const me = user.id === conn.user?.id;
  const member = ctx.members?.get(user.id) || null; // { role, presence, on_duty } in the circle on screen
  const close = h('button', { type: 'button', class: 'secondary small card-close' }, 'Close');
  const body = h('div', { class: 'card-body' }, h('p', { class: 'muted' }, 'Loading the profile…'));
  const box = h('section', { class: 'profile-card card', role: 'dialog', 'aria-label': `Profile of ${nameOf(user)}`, tabindex: '-1',
    dataset: { user: user.id } }, body, close);
  document.body.append(box);
  place(box, opener);

  function shut(restoreFocus = true) {
    if (current?.box !== box) return;
    current = null;
    box.remove();
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('pointerdown', onOutside, true);
    if (restoreFocus && opener?.isConnected) opener.focus();
  }
  const onKey = (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); shut(); } };
  const onOutside = (ev) => { if (!box.contains(ev.target) && ev.target !== opener) shut(false); };
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('pointerdown', onOutside, true);
  close.addEventListener('click', () => shut());
  current = { box, opener, close: shut };

  let shared = null; // [{id, name, role}] once circle.shared answered
  let shown = user;
  render(user);
  box.focus();
  conn.request('circle.shared', { user: user.id }).then((res) => {
    if (current?.box !== box) return;
    shared = res.circles;
    render(shown);
  }).catch(() => { /* the role in this circle (member list) is still shown */ });
  conn.request('profile.get', { user: user.id }).then((res) => {
    if (current?.box !== box) return;
    ctx.users?.set(user.id, { ...ctx.users.get(user.id), ...res.user });
    shown = res.user;
    render(res.user);
  }).catch((err) => {
    if (current?.box === box) body.append(h('p', { class: 'form-error', role: 'alert' }, `Could not load the profile: ${ctx.describeError(err)}`));
  });

  function render(u) {
    const tz = u.tz;
    const time = tz ? localTime(tz) : null;
    const presence = member?.presence && PRESENCE[member.presence];
    const actions = h('div', { class: 'actions' });
    if (!me) {
      const composer = document.querySelector('.composer-input');
      if (composer && u.name) {
        actions.append(h('button', { type: 'button', class: 'small', onclick: () => {
          const at = `@${u.name} `;
          if (!composer.value.includes(at)) composer.value = `${at}${composer.value}`;
          shut(false);
          composer.focus();
          composer.setSelectionRange(composer.value.length, composer.value.length);
        } }, 'Message'));
      }
      actions.append(h('button', { type: 'button', class: 'small secondary', onclick: () => { shut(false); ctx.calls?.start(u); } }, 'Call'));
      if (member?.role === 'mentor') actions.append(h('a', { class: 'button small secondary', href: `#/book/${u.id}`, onclick: () => shut(false) }, 'Book a session'));
    }
    fill(body,
      h('div', { class: 'card-head' }, avatar(u, { size: 'l' }),
        h('div', {}, h('h2', {}, nameOf(u)), u.name ? h('p', { class: 'username muted' }, `@${u.name}`) : null)),
      h('ul', { class: 'card-facts' },
        ...roleLines(ctx, member, shared),
        presence ? h('li', {}, h('span', { 'aria-hidden': 'true' }, presence.symbol), ` ${presence.label}`,
          member.on_duty ? h('span', { class: 'on-duty' }, ' · on duty for help') : null) : null,
        time ? h('li', { class: 'local-time' }, `Local time ${time} (${tz})`) : null,
        u.school ? h('li', {}, u.school) : null,
        u.subjects?.length ? h('li', { class: 'subjects' }, `Teaches ${u.subjects.join(', ')}`) : null,
        u.bio ? h('li', { class: 'bio' }, u.bio) : null),
      actions,
      !me && ctx.members?.moderator && member ? roleControl(ctx, u, member) : null);
  }
}

// One line per circle we share: "EXPERT in Statistics evenings" (members have no badge); before
// circle.shared answers (or if it fails), the role in the circle on screen.
function roleLines(ctx, member, shared) {
  const list = shared || (member ? [{ id: ctx.members.circle, name: ctx.members.circleName, role: member.role }] : []);
  return list.map((c) => h('li', { class: 'card-circle', dataset: { circle: c.id } },
    c.role !== 'member' ? h('span', { class: `role role-${c.role}` }, c.role) : 'member', ` in ${c.name}`));
}

// A moderator's role select for the member (circle.set_role); the list redraws on the circle.role event.
function roleControl(ctx, u, member) {
  const error = h('p', { class: 'form-error', role: 'alert' });
  const select = h('select', { name: 'card-role' },
    ['member', 'expert', 'mentor', 'moderator'].map((r) => h('option', { value: r, selected: r === member.role }, r)));
  select.addEventListener('change', async () => {
    error.textContent = '';
    try {
      await ctx.conn.request('circle.set_role', { circle: ctx.members.circle, user: u.id, role: select.value });
      member.role = select.value;
      ctx.toast(`${nameOf(u)} is now ${select.value === 'expert' ? 'an' : 'a'} ${select.value}.`);
    } catch (err) {
      select.value = member.role;
      error.textContent = ctx.describeError(err);
    }
  });
  return h('div', { class: 'card-role' }, h('label', {}, 'Role in this circle ', select), error);
}

function localTime(tz) {
  try {
    return new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', weekday: 'short', timeZone: tz }).format(new Date());
  } catch { return null; }
}

// Next to the opener on a wide screen; a sheet at the bottom on a phone (CSS decides by width).
function place(box, opener) {
  if (window.innerWidth <= 760 || !opener) return;
  const r = opener.getBoundingClientRect();
  const w = 320;
  const left = Math.max(8, Math.min(window.innerWidth - w - 8, r.left));
  const top = Math.max(8, Math.min(window.innerHeight - 360, r.bottom + 6));
  box.style.left = `${left}px`;
  box.style.top = `${top}px`;
}
