// views/directory.js — the circle directory: search (q), filters (subject, phase), join / request to
// join / leave, member and online counts, and (for admins) the "new circle" form.
import { h, field, fill } from '../dom.js';

export const PHASES = [
  { value: 'primary', label: 'Primary' },
  { value: 'secondary', label: 'Secondary' },
  { value: 'further', label: 'Further / adult education' },
];
export const phaseLabel = (p) => PHASES.find((x) => x.value === p)?.label || p;

export function countsText(c) {
  const parts = [`${c.members} ${c.members === 1 ? 'member' : 'members'}`, `${c.online} online`];
  if (c.experts_online > 0) parts.push(`${c.experts_online} ${c.experts_online === 1 ? 'expert' : 'experts'} online`);
  if (c.experts_on_duty > 0) parts.push(`${c.experts_on_duty} on duty now`);
  return parts.join(' · ');
}

export function mountDirectory(root, ctx) {
  const { conn } = ctx;
  let alive = true;
  let query = {};
  let cursor = null;

  const q = field('Search circles', 'input', { type: 'search', name: 'q', placeholder: 'Name, subject or description' });
  const subject = field('Subject', 'input', { name: 'subject', placeholder: 'Any subject' });
  const phase = field('Phase', 'select', { name: 'phase' }, [{ value: '', label: 'Any phase' }, ...PHASES]);
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find circles' },
    q.wrap, subject.wrap, phase.wrap,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search')));
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'circle-list', 'aria-label': 'Circles' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more circles');

  let debounce = null;
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); search(); });
  q.input.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(search, 300); });
  phase.input.addEventListener('change', search);
  more.addEventListener('click', () => load(true));

  function search() {
    clearTimeout(debounce);
    query = {};
    if (q.input.value.trim()) query.q = q.input.value.trim();
    if (subject.input.value.trim()) query.subject = subject.input.value.trim();
    if (phase.input.value) query.phase = phase.input.value;
    cursor = null;
    load(false);
  }

  let seq = 0;
  async function load(append) {
    const mine = ++seq;
    status.textContent = 'Loading circles…';
    try {
      const res = await conn.request('circle.list', { ...query, ...(append && cursor ? { cursor } : {}), limit: 20 });
      if (!alive || mine !== seq) return;
      if (!append) list.replaceChildren();
      for (const c of res.circles) list.appendChild(card(c));
      cursor = res.next_cursor || null;
      more.hidden = !cursor;
      const n = list.children.length;
      status.textContent = n === 0 ? 'No circles match.' : `${n} ${n === 1 ? 'circle' : 'circles'} found.`;
    } catch (err) {
      if (!alive) return;
      status.textContent = `Could not load circles: ${ctx.describeError(err)}`;
    }
  }

  function card(c) {
    const li = h('li', { class: 'circle-card', dataset: { circle: c.id } });
    render(li, c);
    return li;
  }

  function render(li, c) {
    const member = c.my_status === 'member';
    const title = member ? h('a', { href: `#/circle/${encodeURIComponent(c.id)}` }, c.name) : c.name;
    const error = h('p', { class: 'form-error', role: 'alert' });
    const actions = h('div', { class: 'actions' });
    if (member) {
      actions.append(
        h('a', { class: 'button', href: `#/circle/${encodeURIComponent(c.id)}`, 'aria-label': `Open ${c.name}` }, 'Open'),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Leave ${c.name}`, onclick: () => act('circle.leave') }, 'Leave'));
    } else if (c.my_status === 'pending') {
      actions.append(h('span', { class: 'badge' }, '⏳ Request pending'),
        h('button', { type: 'button', class: 'secondary small', 'aria-label': `Withdraw request to join ${c.name}`, onclick: () => act('circle.leave') }, 'Withdraw'));
    } else {
      const label = c.moderated ? 'Request to join' : 'Join';
      actions.append(h('button', { type: 'button', 'aria-label': `${label} ${c.name}`, onclick: () => act('circle.join') }, label));
    }
    fill(li,
      h('h2', {}, title),
      h('p', { class: 'meta' }, [c.subject, phaseLabel(c.phase), c.moderated ? 'moderated' : 'open'].join(' · ')),
      c.description ? h('p', { class: 'desc' }, c.description) : null,
      h('p', { class: 'counts' }, countsText(c)),
      actions, error);

    async function act(type) {
      error.textContent = '';
      for (const b of actions.querySelectorAll('button')) b.disabled = true;
      try {
        const res = await conn.request(type, { circle: c.id });
        const next = { ...c };
        if (type === 'circle.join') {
          next.my_status = res.status || 'member';
          if (next.my_status === 'member') next.members += 1;
          ctx.announce(next.my_status === 'member' ? `You joined ${c.name}` : `Your request to join ${c.name} was sent`);
        } else {
          if (c.my_status === 'member') next.members = Math.max(0, next.members - 1);
          ctx.announce(c.my_status === 'member' ? `You left ${c.name}` : `Request to join ${c.name} withdrawn`);
          next.my_status = 'none';
        }
        render(li, next);
        // The server's own view (counts) follows.
        refreshOne(li, c.id);
      } catch (err) {
        error.textContent = ctx.describeError(err);
        for (const b of actions.querySelectorAll('button')) b.disabled = false;
      }
    }
  }

  async function refreshOne(li, id) {
    try {
      const res = await conn.request('circle.get', { circle: id });
      if (alive && li.isConnected) render(li, res.circle);
    } catch { /* the optimistic view stays */ }
  }

  // Membership decided elsewhere (a moderator approved us, another device left): refresh that card.
  const onMembership = (ev) => {
    const li = list.querySelector(`[data-circle="${CSS.escape(String(ev.detail.circle))}"]`);
    if (li) refreshOne(li, ev.detail.circle);
    if (ev.detail.status === 'member' && ev.detail.user === conn.user?.id) ctx.announce('A join request was approved');
  };
  const onResumed = () => load(false);
  // Someone in one of my circles came or went: the online counts change. Refresh the cards shown, at most
  // once every two seconds.
  let countsTimer = null;
  const onPresence = () => {
    if (countsTimer) return;
    countsTimer = setTimeout(() => {
      countsTimer = null;
      for (const li of list.children) refreshOne(li, li.dataset.circle);
    }, 2000);
  };
  conn.addEventListener('circle.membership', onMembership);
  conn.addEventListener('resumed', onResumed);
  conn.addEventListener('presence', onPresence);

  root.append(
    h('section', { class: 'directory' },
      h('h1', {}, 'Circles'),
      filters,
      ctx.user?.admin ? newCircleForm(ctx, () => search()) : null,
      status, list, more));
  load(false);

  return () => {
    alive = false;
    clearTimeout(debounce);
    clearTimeout(countsTimer);
    conn.removeEventListener('circle.membership', onMembership);
    conn.removeEventListener('resumed', onResumed);
    conn.removeEventListener('presence', onPresence);
  };
}

function newCircleForm(ctx, created) {
  const name = field('Circle name', 'input', { name: 'name', required: true, maxlength: 64 });
  const subject = field('Subject', 'input', { name: 'subject', required: true, maxlength: 64 });
  const phase = field('Phase', 'select', { name: 'phase', required: true }, PHASES);
  const description = field('Description', 'textarea', { name: 'description', maxlength: 2000, rows: 3 });
  const moderatedId = 'new-circle-moderated';
  const moderated = h('input', { type: 'checkbox', id: moderatedId, name: 'moderated' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Create circle');
  const form = h('form', { class: 'card new-circle', 'aria-label': 'New circle' },
    name.wrap, subject.wrap, phase.wrap, description.wrap,
    h('div', { class: 'field check' }, moderated, h('label', { for: moderatedId }, 'Moderated (members must be approved)')),
    error, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      const fields = {
        name: name.input.value.trim(), subject: subject.input.value.trim(), phase: phase.input.value,
        moderated: moderated.checked,
      };
      if (description.input.value.trim()) fields.description = description.input.value.trim();
      const res = await ctx.conn.request('circle.create', fields);
      ctx.announce(`Circle ${res.circle.name} created`);
      form.reset();
      created(res.circle);
    } catch (err) {
      error.textContent = ctx.describeError(err);
    } finally {
      submit.disabled = false;
    }
  });
  return h('details', { class: 'admin-panel' }, h('summary', {}, 'New circle (admin)'), form);
}
