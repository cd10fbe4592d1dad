// views/circle.js — one circle as an app: the left rail (views/rail.js: my circles, the channels, the drop-in
// rooms), the conversation in the middle (the circle's header, the help panel, the open channel's chat),
// and on the right the members panel (collapsible: the members with roles and actions, mentoring, and for
// moderators the join requests and the moderation queue). On a phone (≤ 760 px wide) the rail is a drawer
// opened by "Menu" and the members panel a sheet opened by "Members".
import { h, fill } from '../dom.js';
import { phaseLabel, countsText } from './directory.js';
import { mountChat } from './chat.js';
import { mountMembers } from './members.js';
import { mountHelp } from './help.js';
import { mountMentorSlots } from './schedule.js';
import { mountRail } from './rail.js';
import { mountModeration } from './moderation.js';

const PHONE = '(max-width: 760px)';

export function mountCircle(root, ctx, params) {
  const { conn } = ctx;
  const cleanups = [];      // what load() mounted (undone by reload)
  const shellCleanups = []; // the shell's own listeners (undone on leaving the page)
  let alive = true;
  const circleId = params.circle;
  let shownStatus = null; // my_status as currently shown
  const phone = window.matchMedia(PHONE);

  // Drawer (rail) and members panel: buttons with aria-expanded; the state is a class on the shell.
  const menuBtn = h('button', { type: 'button', class: 'secondary small menu-toggle', 'aria-expanded': 'false', 'aria-controls': `rail-${circleId}` }, '☰ Menu');
  const membersBtn = h('button', { type: 'button', class: 'secondary small members-toggle', 'aria-controls': `members-panel-${circleId}` }, 'Members');
  const header = h('div', { class: 'circle-head' }, h('h1', {}, 'Circle'));
  const rail = h('nav', { class: 'rail', id: `rail-${circleId}`, 'aria-label': 'Circles, channels and rooms' });
  const body = h('div', { class: 'conversation' }, h('p', { class: 'muted' }, 'Loading…'));
  const side = h('aside', { class: 'members', id: `members-panel-${circleId}`, 'aria-label': 'Members and mentoring' });
  const shell = h('section', { class: 'circle app-shell' }, rail, h('div', { class: 'middle' }, header, body), side);
  root.append(shell);
  root.classList.add('app-view');
  shellCleanups.push(() => root.classList.remove('app-view'));

  function setNav(open) {
    shell.classList.toggle('nav-open', open);
    menuBtn.setAttribute('aria-expanded', String(open));
    if (open) rail.querySelector('a, button')?.focus();
  }
  function setMembers(open) {
    shell.classList.toggle('members-closed', !open);
    membersBtn.setAttribute('aria-expanded', String(open));
    membersBtn.textContent = open ? 'Hide members' : 'Members';
    if (open && phone.matches) side.querySelector('button, a')?.focus(); // the sheet opened: focus goes into it
  }
  menuBtn.addEventListener('click', () => setNav(!shell.classList.contains('nav-open')));
  membersBtn.addEventListener('click', () => {
    const open = shell.classList.contains('members-closed');
    setMembers(open);
    // On a laptop the choice is kept (every channel change mounts this view again); a phone's sheet starts closed.
    if (!phone.matches) localStorage.setItem('staffroom.members', open ? 'open' : 'closed');
  });
  // A link followed in the drawer closes it; Escape closes the drawer or the sheet.
  rail.addEventListener('click', (ev) => { if (ev.target.closest('a') && phone.matches) setNav(false); });
  const onKey = (ev) => {
    if (ev.key !== 'Escape' || !phone.matches) return;
    if (shell.classList.contains('nav-open')) { setNav(false); menuBtn.focus(); }
    else if (!shell.classList.contains('members-closed')) { setMembers(false); membersBtn.focus(); }
  };
  document.addEventListener('keydown', onKey);
  shellCleanups.push(() => document.removeEventListener('keydown', onKey));
  const sheetClose = h('button', { type: 'button', class: 'secondary small sheet-close', onclick: () => { setMembers(false); membersBtn.focus(); } }, 'Close members');
  const drawerClose = h('button', { type: 'button', class: 'secondary small drawer-close', onclick: () => { setNav(false); menuBtn.focus(); } }, 'Close menu');
  setNav(false);
  setMembers(!phone.matches && localStorage.getItem('staffroom.members') !== 'closed');

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
    for (const type of ['presence', 'circle.member_joined', 'circle.member_left', 'circle.role', 'help.duty']) {
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
    const counts = h('span', { class: 'counts', 'aria-live': 'polite' }, countsText(circle));
    fill(header,
      h('div', { class: 'head-row' }, menuBtn, h('h1', {}, circle.name), membersBtn),
      h('p', { class: 'meta' }, [circle.subject, phaseLabel(circle.phase), circle.moderated ? 'moderated' : 'open'].join(' · '),
        ' · ', counts,
        // the circle's library of good practice (views/library.js): clips, files and links its members share
        circle.my_status === 'member' ? [' · ', h('a', { href: `#/circle/${encodeURIComponent(circle.id)}/library` }, 'Library')] : null),
      circle.description ? h('p', { class: 'desc' }, circle.description) : null);
    watchCounts(counts);
    if (circle.my_status !== 'member') {
      shell.classList.add('not-member');
      // Admins act as moderators of every circle without being members: they can still decide requests.
      fill(body, notMember(circle));
      fill(side, ctx.user?.admin && circle.moderated ? pendingPanel(circleId) : null);
      fill(rail, h('p', { class: 'crumbs' }, h('a', { href: '#/circles' }, '← All circles')));
      return;
    }
    shell.classList.remove('not-member');
    let channels = [];
    // The help panel (mounted once the channels are here) starts from circle.get's on-duty count: an expert
    // going on or off duty while the channels load is taken into it, not missed.
    const dutyMeanwhile = (ev) => {
      if (ev.detail.circle === circleId && Number.isFinite(ev.detail.experts_on_duty)) circle.experts_on_duty = ev.detail.experts_on_duty;
    };
    conn.addEventListener('help.duty', dutyMeanwhile);
    try {
      channels = (await conn.request('channel.list', { circle: circleId })).channels;
    } catch (err) {
      if (alive) fill(body, h('p', { class: 'form-error', role: 'alert' }, `Could not load the channels: ${ctx.describeError(err)}`));
      return;
    } finally {
      conn.removeEventListener('help.duty', dutyMeanwhile);
    }
    if (!alive) return;
    const current = channels.find((c) => c.id === params.channel) || channels[0];
    cleanups.push(mountRail(rail, ctx, { circle, channels, current, moderator }));
    rail.prepend(drawerClose);

    const chatEl = h('section', { class: 'chat', 'aria-label': current ? `Channel ${current.name}` : 'Chat' });
    const helpEl = h('div', { class: 'help-area' });
    fill(body, helpEl, chatEl);
    cleanups.push(mountHelp(helpEl, ctx, { circle, channels }));
    if (current) cleanups.push(mountChat(chatEl, ctx, { circle, channel: current, moderator, focus: current.id === params.channel ? params.message : undefined }));
    else chatEl.append(h('p', { class: 'muted' }, 'This circle has no channels yet.'));

    const membersEl = h('div', { class: 'members-list-panel' });
    const mentorsEl = h('div', { class: 'mentors-panel' });
    const modEl = h('div', { class: 'moderation-panel' });
    fill(side, sheetClose, moderator && circle.moderated ? pendingPanel(circleId) : null, modEl, membersEl, mentorsEl);
    cleanups.push(mountModeration(modEl, ctx, { circle, moderator }));
    cleanups.push(mountMembers(membersEl, ctx, { circle, moderator }));
    cleanups.push(mountMentorSlots(mentorsEl, ctx, { circle }));
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
    fill(rail);
    fill(side);
    load();
  }

  // Our own membership changed (approved, removed): show the circle as it now is.
  const onMembership = (ev) => {
    const d = ev.detail;
    if (d.circle !== circleId || d.user !== conn.user?.id || d.status === shownStatus) return;
    if (shownStatus === 'member' && d.status === 'none') {
      ctx.showError(d.reason === 'removed' ? 'A moderator removed you from this circle.' : 'You are no longer a member of this circle.');
    }
    reload();
  };
  conn.addEventListener('circle.membership', onMembership);
  load();

  return () => {
    alive = false;
    conn.removeEventListener('circle.membership', onMembership);
    for (const c of cleanups.splice(0)) c();
    for (const c of shellCleanups.splice(0)) c();
  };
}
