// goals.js — the mentoring page (#/mentoring): my mentorships with their goals and progress; add progress
// to a goal; accept or decline a proposal; close an open one with an outcome per goal (mentorship.* and
// goal.* requests, PROTOCOL.md "Mentoring relationships with goals").
import { h, fill, field } from '../dom.js';

const OUTCOMES = [{ value: 'met', label: 'Met' }, { value: 'partly', label: 'Partly met' }, { value: 'not_met', label: 'Not met' }];
const when = (ms) => new Date(ms).toLocaleDateString();

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
      g.links.length ? h('p', { class: 'muted' }, `Linked: ${g.links.map((l) => `${l.kind === 'session' ? 'session' : l.title} (${when(l.at)})`).join(', ')}`) : null];
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
    const body = [head, ...actions, ...m.goals.map((g) => goalView(m, g))];
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
