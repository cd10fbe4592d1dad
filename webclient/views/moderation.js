// views/moderation.js — roles and moderation in a circle's members panel (contract: the issue-11 protocol,
// signalling/PROTOCOL.md).
//   Every member who is not yet one: "Ask to become an expert / a mentor" (circle.role_request, with a note);
//   the answer arrives as circle.role_decided and is shown as a toast.
//   Moderators: the queue — role requests (approve / decline: circle.role_decide) and reported messages
//   (remove the message / dismiss: moderation.resolve), live from circle.role_request and moderation.report
//   events — and the audit log (moderation.audit, newest first, paged by `before`), where an admin can lift
//   a suspension (admin.unsuspend).
// mountModeration(el, ctx, { circle, moderator }) → cleanup.
import { h, field, fill, formatTime, userZone } from '../dom.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';
const ROLE_WORD = { expert: 'an expert', mentor: 'a mentor', moderator: 'a moderator', member: 'a member' };

const AUDIT_TEXT = {
  role_set: 'set a role',
  role_request_decided: 'decided a role request',
  member_removed: 'removed a member',
  message_removed: 'removed a message',
  report_resolved: 'resolved a report',
  member_approved: 'approved a member',
  member_rejected: 'rejected a join request',
  user_suspended: 'suspended an account',
  user_unsuspended: 'lifted a suspension',
};

export function mountModeration(el, ctx, { circle, moderator }) {
  const { conn } = ctx;
  let alive = true;
  const cleanups = [];
  const on = (type, fn) => { conn.addEventListener(type, fn); cleanups.push(() => conn.removeEventListener(type, fn)); };

  const parts = [];
  if (circle.my_role === 'member' || circle.my_role === 'expert') parts.push(askForRole());
  if (moderator) parts.push(queue(), auditLog());
  fill(el, ...parts);

  on('circle.role_decided', (ev) => {
    if (ev.detail.circle !== circle.id) return;
    ctx.toast(ev.detail.approved ? `You are now ${ROLE_WORD[ev.detail.role] || ev.detail.role} of ${circle.name}.`
      : `Your request to become ${ROLE_WORD[ev.detail.role] || ev.detail.role} was declined.`);
  });

  // ----- a member asks for a role -----
  function askForRole() {
    const roles = circle.my_role === 'expert' ? ['mentor'] : ['expert', 'mentor'];
    const role = field('Role', 'select', { name: 'role' }, roles.map((r) => ({ value: r, label: r === 'expert' ? 'Expert (answers help requests)' : 'Mentor (offers sessions)' })));
    const note = field('Why you (optional)', 'textarea', { name: 'note', rows: 2, maxlength: 500 });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const status = h('p', { class: 'muted', role: 'status' });
    const form = h('form', { class: 'role-request-form', 'aria-label': 'Ask for a role' }, role.wrap, note.wrap, error, status,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'small' }, 'Send request')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const fields = { circle: circle.id, role: role.input.value };
      if (note.input.value.trim()) fields.note = note.input.value.trim();
      try {
        await conn.request('circle.role_request', fields);
        status.textContent = 'Request sent. A moderator will decide.';
        note.input.value = '';
      } catch (err) {
        error.textContent = err.code === 'conflict' ? 'You already have that role, or a request of yours is waiting.' : ctx.describeError(err);
      }
    });
    return h('details', { class: 'admin-panel role-request' }, h('summary', {}, 'Ask to become an expert or a mentor'), form);
  }

  // ----- moderators: the queue -----
  function queue() {
    const roleList = h('ul', { class: 'queue-list', 'aria-label': 'Role requests' });
    const reportList = h('ul', { class: 'queue-list', 'aria-label': 'Reported messages' });
    const status = h('p', { class: 'muted', role: 'status' });
    const summary = h('summary', {}, 'Moderation queue');

    function count() {
      const n = roleList.children.length + reportList.children.length;
      summary.textContent = n ? `Moderation queue (${n})` : 'Moderation queue';
      status.textContent = n ? '' : 'Nothing waits for a decision.';
    }
    function roleItem(r) {
      const who = nameOf(r.user);
      const error = h('p', { class: 'form-error', role: 'alert' });
      const li = h('li', { class: 'queue-item', dataset: { user: r.user.id, role: r.role } },
        h('p', {}, h('strong', {}, who), ` @${r.user.name || ''} asks to become ${ROLE_WORD[r.role] || r.role}`),
        r.note ? h('p', { class: 'muted' }, `“${r.note}”`) : null);
      const decide = (approve) => async () => {
        try {
          await conn.request('circle.role_decide', { circle: circle.id, user: r.user.id, role: r.role, approve });
          li.remove();
          count();
          ctx.toast(`${who} ${approve ? `is now ${ROLE_WORD[r.role]}` : 'was declined'}.`);
        } catch (err) { error.textContent = ctx.describeError(err); }
      };
      li.append(h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'aria-label': `Approve ${who} as ${r.role}`, onclick: decide(true) }, 'Approve'),
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Decline ${who} as ${r.role}`, onclick: decide(false) }, 'Decline')), error);
      return li;
    }
    function reportItem(rep) {
      const error = h('p', { class: 'form-error', role: 'alert' });
      const li = h('li', { class: 'queue-item report', dataset: { report: rep.id } },
        h('p', {}, h('strong', {}, nameOf(rep.reporter)), ' reported a message by ', h('strong', {}, nameOf(rep.message?.user))),
        h('blockquote', { class: 'reported-text' }, rep.message?.text || ''),
        h('p', { class: 'muted' }, `Reason: ${rep.reason}`));
      const resolve = (action) => async () => {
        try {
          await conn.request('moderation.resolve', { circle: circle.id, report: rep.id, action });
          li.remove();
          count();
          ctx.toast(action === 'remove' ? 'Message removed.' : 'Report dismissed.');
        } catch (err) { error.textContent = ctx.describeError(err); }
      };
      li.append(h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger small', onclick: resolve('remove') }, 'Remove message'),
        h('button', { type: 'button', class: 'secondary small', onclick: resolve('dismiss') }, 'Dismiss report')), error);
      return li;
    }
    const roleKey = (r) => `${r.user.id} ${r.role}`;
    const roleIn = (list, r) => list.querySelector(`[data-user="${CSS.escape(r.user.id)}"][data-role="${CSS.escape(r.role)}"]`);
    const reportIn = (list, rep) => list.querySelector(`[data-report="${CSS.escape(rep.id)}"]`);
    // The two answers are snapshots, and the events that add to the queue travel another way (Redis
    // pub/sub): a request or report made just after a snapshot was taken can arrive as an event before
    // the snapshot's answer, which would then wipe it from the queue. So what the events added while a load
    // was on its way is kept in `arrived` and put back after the answer replaced the lists (by key: an item
    // the answer has already is not shown twice).
    const loads = new Set(); // { roles: Map(key → request), reports: Map(id → report) } per load on its way
    async function load() {
      const arrived = { roles: new Map(), reports: new Map() };
      loads.add(arrived);
      const [roles, reports] = await Promise.allSettled([ // never rejects
        conn.request('circle.role_requests', { circle: circle.id }),
        conn.request('moderation.queue', { circle: circle.id }),
      ]);
      loads.delete(arrived);
      if (!alive) return;
      if (roles.status === 'fulfilled') {
        roleList.replaceChildren(...roles.value.requests.map(roleItem));
        for (const r of arrived.roles.values()) if (!roleIn(roleList, r)) roleList.append(roleItem(r));
      }
      if (reports.status === 'fulfilled') {
        reportList.replaceChildren(...reports.value.reports.map(reportItem));
        for (const rep of arrived.reports.values()) if (!reportIn(reportList, rep)) reportList.append(reportItem(rep));
      }
      count();
      if (roles.status === 'rejected' && reports.status === 'rejected') status.textContent = `The queue could not be loaded: ${ctx.describeError(roles.reason)}`;
    }
    on('circle.role_request', (ev) => {
      if (ev.detail.circle !== circle.id) return;
      for (const a of loads) a.roles.set(roleKey(ev.detail), ev.detail);
      roleIn(roleList, ev.detail)?.remove();
      roleList.append(roleItem(ev.detail));
      count();
      ctx.toast(`${nameOf(ev.detail.user)} asks to become ${ROLE_WORD[ev.detail.role] || ev.detail.role}.`);
    });
    on('moderation.report', (ev) => {
      if (ev.detail.circle !== circle.id || !ev.detail.report) return;
      for (const a of loads) a.reports.set(ev.detail.report.id, ev.detail.report);
      reportIn(reportList, ev.detail.report)?.remove();
      reportList.append(reportItem(ev.detail.report));
      count();
      ctx.toast('A message was reported.');
    });
    on('resumed', load);
    load();
    return h('details', { class: 'admin-panel mod-queue', open: true }, summary,
      h('section', { 'aria-label': 'Moderation queue' }, status,
        h('h3', {}, 'Role requests'), roleList, h('h3', {}, 'Reported messages'), reportList));
  }

  // ----- moderators: the audit log -----
  function auditLog() {
    const list = h('ol', { class: 'audit-list', 'aria-label': 'Audit log' });
    const status = h('p', { class: 'muted', role: 'status' });
    const more = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Older entries');
    let oldest = null;
    async function load(append) {
      try {
        const fields = { circle: circle.id, limit: 50 };
        if (append && oldest) fields.before = oldest;
        const res = await conn.request('moderation.audit', fields);
        if (!alive) return;
        const items = res.entries.map((e) => h('li', { class: 'audit-entry', dataset: { action: e.action } },
          h('time', { datetime: new Date(e.ts).toISOString() }, formatTime(e.ts, userZone(conn.user))), ' ',
          h('strong', {}, nameOf(e.actor)), ` ${AUDIT_TEXT[e.action] || e.action}`,
          e.target_user ? ` — ${nameOf(e.target_user)}` : '', e.detail ? ` (${typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)})` : '',
          e.action === 'user_suspended' && ctx.user?.admin && e.target_user ? unsuspendButton(e.target_user) : null));
        if (append) list.append(...items); else list.replaceChildren(...items);
        oldest = res.entries.length ? res.entries[res.entries.length - 1].id : oldest;
        more.hidden = !res.has_more;
        status.textContent = list.children.length ? '' : 'Nothing has been logged yet.';
      } catch (err) {
        if (alive) status.textContent = `The audit log could not be loaded: ${ctx.describeError(err)}`;
      }
    }
    // Admins lift a suspension from its entry (admin.unsuspend); conflict: already lifted.
    function unsuspendButton(u) {
      const b = h('button', { type: 'button', class: 'link' }, `Lift ${nameOf(u)}'s suspension`);
      b.addEventListener('click', async () => {
        try {
          await conn.request('admin.unsuspend', { user: u.id });
          ctx.toast(`${nameOf(u)} may sign in again.`);
          load(false);
        } catch (err) {
          ctx.showError(err.code === 'conflict' ? `${nameOf(u)} is not suspended.` : err);
        }
      });
      return b;
    }
    more.addEventListener('click', () => load(true));
    const box = h('details', { class: 'admin-panel audit' }, h('summary', {}, 'Audit log'), status, list, more);
    box.addEventListener('toggle', () => { if (box.open) load(false); });
    return box;
  }

  return () => {
    alive = false;
    for (const c of cleanups.splice(0)) c();
  };
}
