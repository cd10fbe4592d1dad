// goals.js — the mentoring page (#/mentoring): my mentorships with their goals and progress; add progress
// to a goal; accept or decline a proposal; close an open one with an outcome per goal; the pair's notes,
// each with "Link to a goal". And a mentorship's history page (#/mentoring/<id>): everything in time order —
// goals agreed, progress, links, the pair's sessions (booked or cancelled) and their recordings, which open
// in the player (#/media/<id>). mentorship.* and goal.* requests, PROTOCOL.md "Mentoring relationships with
// goals"; the notes are mentoring.notes.list.
import { h, fill, field } from '../dom.js';

const OUTCOMES = [{ value: 'met', label: 'Met' }, { value: 'partly', label: 'Partly met' }, { value: 'not_met', label: 'Not met' }];
const when = (ms) => new Date(ms).toLocaleDateString();
const whenTime = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const short = (text, n = 40) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function linkLabel(l) {
  if (l.kind === 'session') return `session (${when(l.at)})`;
  if (l.kind === 'note') return `note “${short(l.title)}” (${when(l.at)})`;
  return `${l.title} (${when(l.at)})`;
}

// "Link to a goal" for one mentoring note: a choice among the open goals (goals: [{id, title}]) and a
// button. onLinked() after the server took it. Used here and by the notes view (schedule.js).
export function noteLinkForm(ctx, note, goals, onLinked) {
  const pick = field(`Goal for the note “${short(note.text)}”`, 'select', {}, goals.map((g) => ({ value: g.id, label: g.title })));
  return h('form', { class: 'note-link', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await ctx.conn.request('goal.link', { goal: pick.input.value, note: note.id });
      ctx.announce?.(`Note linked to “${goals.find((g) => g.id === pick.input.value)?.title || 'the goal'}”.`);
      onLinked?.();
    } catch (err) { ctx.showError(err); }
  } }, pick.wrap, h('button', { type: 'submit', class: 'secondary small' }, 'Link to a goal'));
}

// The goals a note is linked to, by note number: Map(String(note id) → [goal title…]).
export function noteLinks(mentorships) {
  const out = new Map();
  for (const m of mentorships) {
    for (const g of m.goals) {
      for (const l of g.links) if (l.kind === 'note') out.set(l.ref, [...(out.get(l.ref) || []), g.title]);
    }
  }
  return out;
}

export function mountGoals(el, ctx) {
  const { conn } = ctx;
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'mentorships' });
  fill(el, h('h1', {}, 'Mentoring'), status, list);
  let alive = true;

  async function act(type, fields) {
    try { await conn.request(type, fields); load(); } catch (err) { ctx.showError(err); }
  }

  function goalView(m, g) {
    const open = m.state === 'open';
    const items = g.progress.map((p) => h('li', {}, `${p.rating}/5 — ${p.note} `, h('span', { class: 'muted' }, `(${p.by_name || 'someone'}, ${when(p.at)})`)));
    const parts = [h('h3', {}, g.title), g.measure ? h('p', { class: 'muted' }, `Success: ${g.measure}`) : null,
      g.outcome ? h('p', {}, `Outcome: ${OUTCOMES.find((o) => o.value === g.outcome)?.label}`) : null,
      items.length ? h('ul', { class: 'progress' }, ...items) : h('p', { class: 'muted' }, 'No progress recorded yet.'),
      g.links.length ? h('p', { class: 'muted' }, `Linked: ${g.links.map(linkLabel).join(', ')}`) : null];
    if (open) {
      const note = field('Progress note', 'textarea', { maxlength: 2000, required: true, rows: 2 });
      const rating = field('Rating (1–5)', 'select', {}, [1, 2, 3, 4, 5].map((n) => ({ value: String(n), label: String(n) })));
      parts.push(h('form', { class: 'progress-form', onsubmit: (ev) => { ev.preventDefault();
        act('goal.progress', { goal: g.id, note: note.input.value, rating: Number(rating.input.value) }); } },
      note.wrap, rating.wrap, h('button', { type: 'submit' }, 'Add progress')));
    }
    return h('section', { class: 'goal' }, ...parts.filter(Boolean));
  }

  function closeForm(m) {
    const picks = m.goals.map((g) => ({ g, f: field(`Outcome: ${g.title}`, 'select', {}, OUTCOMES) }));
    return h('form', { class: 'close-form', onsubmit: (ev) => { ev.preventDefault();
      act('mentorship.close', { mentorship: m.id, outcomes: Object.fromEntries(picks.map(({ g, f }) => [g.id, f.input.value])) }); } },
    ...picks.map(({ f }) => f.wrap), h('button', { type: 'submit' }, 'Close with these outcomes'));
  }

  // The pair's shared notes (there are some once they have booked a session), each linkable to a goal.
  function notesView(m, other) {
    const sec = h('section', { class: 'pair-notes', 'aria-label': `Notes with ${other.display_name || 'someone'}`, hidden: true });
    (async () => {
      try {
        const res = await conn.request('mentoring.notes.list', { with: other.id });
        if (!alive || !res.notes.length) return;
        const linked = noteLinks([m]);
        const items = res.notes.map((n) => h('li', { class: 'note' }, h('p', {}, n.text, h('span', { class: 'muted' }, ` — ${n.by?.display_name || 'someone'}, ${when(n.at)}`)),
          linked.has(String(n.id)) ? h('p', { class: 'muted' }, `Linked to ${linked.get(String(n.id)).map((t) => `“${t}”`).join(', ')}`) : null,
          m.state === 'open' ? noteLinkForm(ctx, n, m.goals, load) : null));
        fill(sec, h('h3', {}, 'Notes'), h('ul', { class: 'notes' }, ...items));
        sec.hidden = false;
      } catch { /* no session booked together yet: no notes to show */ }
    })();
    return sec;
  }

  function mentorshipView(m) {
    const me = conn.user?.id;
    const other = m.mentor.id === me ? m.mentee : m.mentor;
    const role = m.mentor.id === me ? 'mentee' : 'mentor';
    const head = h('h2', {}, `${other.display_name || 'Someone'} (your ${role}) — ${m.state}`);
    const actions = [];
    if (m.state === 'proposed' && m.proposed_by !== me) {
      actions.push(h('button', { type: 'button', onclick: () => act('mentorship.accept', { mentorship: m.id }) }, 'Accept these goals'),
        h('button', { type: 'button', onclick: () => act('mentorship.decline', { mentorship: m.id }) }, 'Decline'));
    } else if (m.state === 'proposed') {
      actions.push(h('p', { class: 'muted' }, 'Waiting for the other person to agree.'));
    }
    const history = h('p', {}, h('a', { href: `#/mentoring/${encodeURIComponent(m.id)}` }, `History with ${other.display_name || 'someone'}`));
    const body = [head, history, ...actions, ...m.goals.map((g) => goalView(m, g))];
    if (m.state !== 'proposed' && m.state !== 'declined') body.push(notesView(m, other));
    if (m.state === 'open') body.push(closeForm(m));
    return h('article', { class: 'mentorship', 'aria-label': `Mentorship with ${other.display_name || 'someone'}` }, ...body);
  }

  async function load() {
    try {
      const res = await conn.request('mentorship.list', {});
      if (!alive) return;
      status.textContent = res.mentorships.length ? '' : 'No mentorships yet.';
      list.replaceChildren(...res.mentorships.map(mentorshipView));
    } catch (err) { if (alive) status.textContent = `Could not load your mentorships: ${ctx.describeError(err)}`; }
  }
  load();
  return () => { alive = false; };
}

// ---------------------------------------------------------------- one mentorship's history

function eventView(e, names) {
  const who = (id) => names.get(id) || 'someone';
  const goal = e.goal_title ? `“${e.goal_title}”` : 'a goal';
  let body;
  switch (e.kind) {
    case 'proposed': body = [`Goals proposed by ${who(e.by)}`]; break;
    case 'accepted': body = ['Goals agreed']; break;
    case 'declined': body = ['Proposal declined']; break;
    case 'progress': body = [`Progress on ${goal}: ${e.rating}/5 — ${e.note} (${e.by_name || who(e.by)})`]; break;
    case 'session': body = [`Session linked to ${goal}`]; break;
    case 'note': body = [`Note linked to ${goal}: “${e.title}”`]; break;
    case 'media': body = [h('a', { href: `#/media/${encodeURIComponent(e.ref)}` }, e.title || 'A clip'), ` linked to ${goal}`]; break;
    case 'booking':
      body = [`Session ${e.status === 'cancelled' ? 'cancelled' : 'booked'}${e.topic ? `: ${e.topic}` : ''}`,
        h('span', { class: 'muted' }, ` (${whenTime(e.start * 1000)}–${new Date(e.end * 1000).toLocaleTimeString(undefined, { timeStyle: 'short' })})`)];
      break;
    case 'recording': body = ['Recording: ', h('a', { href: `#/media/${encodeURIComponent(e.media)}` }, e.title || 'Recording of a session')]; break;
    case 'closed': body = [`Closed by ${who(e.by)}`]; break;
    default: body = [e.kind];
  }
  return h('li', { class: `history-event history-${e.kind}` },
    h('time', { datetime: new Date(e.at).toISOString() }, whenTime(e.at)), ' ', ...body);
}

export function mountMentoringHistory(el, ctx, { mentorship: id }) {
  const { conn } = ctx;
  let alive = true;
  const title = h('h2', {}, '');
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…');
  const list = h('ol', { class: 'history', 'aria-label': 'History in time order' });
  fill(el, h('p', { class: 'crumbs' }, h('a', { href: '#/mentoring' }, '← All mentoring')), h('h1', {}, 'Mentoring history'),
    title, status, list);

  (async () => {
    try {
      const res = await conn.request('mentorship.history', { mentorship: id });
      if (!alive) return;
      const m = res.mentorship;
      const me = conn.user?.id;
      const other = m.mentor.id === me ? m.mentee : m.mentor;
      title.textContent = m.mentor.id === me || m.mentee.id === me
        ? `With ${other.display_name || 'someone'} (your ${m.mentor.id === me ? 'mentee' : 'mentor'}) — ${m.state}`
        : `${m.mentor.display_name || 'Mentor'} and ${m.mentee.display_name || 'mentee'} — ${m.state}`;
      const names = new Map([[m.mentor.id, m.mentor.display_name], [m.mentee.id, m.mentee.display_name]]);
      status.textContent = res.history.length ? '' : 'Nothing yet.';
      list.replaceChildren(...res.history.map((e) => eventView(e, names)));
    } catch (err) { if (alive) status.textContent = `Could not load this history: ${ctx.describeError(err)}`; }
  })();
  return () => { alive = false; };
}
