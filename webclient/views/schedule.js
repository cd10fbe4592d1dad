// views/schedule.js — scheduled mentoring: "my sessions" (join buttons that light up when the room is open,
// .ics downloads, cancel), the mentoring notes of a pair, the mentor's availability editor, the in-app
// notifications, and the slot picker for booking a mentor. Times come from the server as unix seconds
// (UTC) and are shown in the viewer's own time zone; availability is edited in the mentor's zone.
//
// Joining opens the session's private room (room.js's room view; only the two of them may enter).
// Routes (app.js): #/sessions  #/sessions/notes/<user id>  #/sessions/join/<booking id> (the .ics join link)
//                  #/book/<mentor id>  #/book/<mentor id>/<booking id> (move that booking to another slot)
import { noticeStrip } from '../toast.js';
import { h, fill, field, userZone } from '../dom.js';
import { enterRoom } from './room.js';
import { circleMembers } from '../protocol.js';
import { mentionText } from './mentions.js';
import { noteLinkForm, noteLinks } from './goals.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_LABEL = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
const OPENS_BEFORE_S = 300; // the session room opens 5 minutes before the start …
const CLOSES_AFTER_S = 900; // … and closes 15 minutes after the end (PROTOCOL.md, session.join)
const viewerZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

export function formatSlot(unixS, tz) {
  const opts = { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(undefined, tz ? { ...opts, timeZone: tz } : opts).format(new Date(unixS * 1000));
  } catch {
    return new Intl.DateTimeFormat(undefined, opts).format(new Date(unixS * 1000));
  }
}

const nameOf = (u) => u?.display_name || u?.name || 'someone';

// "2 days", "3 h 05 min", "4:07" (the last hour, to the second).
function countdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s >= 86400) { const d = Math.round(s / 86400); return `${d} ${d === 1 ? 'day' : 'days'}`; }
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
export const roomOpen = (b, nowS) => b.status === 'booked' && nowS >= b.start - OPENS_BEFORE_S && nowS < b.end + CLOSES_AFTER_S;

// ---------------------------------------------------------------- my sessions

export function mountSessions(el, ctx, { args = [] } = {}) {
  const { conn } = ctx;
  let alive = true;
  let data = { upcoming: [], past: [] };
  let joinTried = false;
  const present = new Map(); // booking id → participants of its session room (room.participants)
  const status = h('p', { class: 'muted', role: 'status' });
  const upcoming = h('ul', { class: 'session-list', 'aria-label': 'Upcoming sessions' });
  const past = h('ul', { class: 'session-list', 'aria-label': 'Past sessions' });
  const room = h('div', { class: 'session-room', role: 'status' });
  const notesPane = h('section', { class: 'mentoring-notes', 'aria-label': 'Mentoring notes' });
  const availPane = h('section', { class: 'availability' });
  const notifPane = h('section', { class: 'notifications' });
  // The calendar links carry the user's calendar token (calendar.token: read-only, revocable), never the
  // session token.
  let calToken = '';
  const subscribe = h('p', { class: 'calendar-feed' });
  fill(el, h('h1', {}, 'My sessions'),
    h('p', { class: 'muted' }, `Times are shown in your time zone (${viewerZone()}).`), subscribe,
    status, room, h('h2', {}, 'Upcoming'), upcoming, h('h2', {}, 'Past'), past, notesPane, availPane, notifPane);

  function row(b) {
    const me = conn.user?.id;
    const peer = b.mentor.id === me ? b.mentee : b.mentor;
    const open = roomOpen(b, Date.now() / 1000);
    const inside = ctx.room?.roomId === b.id;
    // the visible words start the accessible name (WCAG 2.5.3); who it is with follows for screen readers
    const join = h('button', { type: 'button', class: 'join', disabled: !open || Boolean(ctx.room), dataset: { booking: b.id },
      onclick: () => joinSession(b) },
      h('span', { class: 'join-text' }, inside ? 'You are inside' : open ? 'Join now' : `Join · opens in ${countdown(b.start - OPENS_BEFORE_S - Date.now() / 1000)}`),
      h('span', { class: 'visually-hidden' }, ` — the session with ${nameOf(peer)}`));
    const waiting = (present.get(b.id) || []).filter((p) => p.user.id !== me);
    return h('li', { class: `session session-${b.status}`, dataset: { booking: b.id, start: b.start } },
      h('span', { class: 'when' }, formatSlot(b.start, userZone(conn.user))), ' ',
      h('span', { class: 'who' }, `${b.mentor.id === me ? 'Mentee' : 'Mentor'}: ${nameOf(peer)}`),
      b.topic ? h('span', { class: 'topic' }, ` — ${b.topic}`) : null,
      b.status === 'cancelled' ? h('span', { class: 'badge' }, ' cancelled') : null,
      waiting.length ? h('span', { class: 'in-room' }, ` — ${nameOf(waiting[0].user)} is in the room`) : null,
      h('span', { class: 'actions' },
        b.status === 'booked' && b.end > Date.now() / 1000 ? join : null,
        calToken ? h('a', { href: `/ics/${b.id}.ics?token=${encodeURIComponent(calToken)}`, download: `session-${b.id}.ics` }, 'Add to calendar (.ics)') : null,
        h('a', { href: `#/sessions/notes/${peer.id}` }, 'Notes'),
        b.status === 'booked' && b.start > Date.now() / 1000
          ? h('a', { href: `#/book/${b.mentor.id}/${b.id}`, 'aria-label': `Reschedule the session with ${nameOf(peer)}` }, 'Reschedule') : null,
        b.status === 'booked' && b.start > Date.now() / 1000
          ? h('button', { type: 'button', class: 'link', onclick: () => cancel(b) }, 'Cancel') : null));
  }

  function render() {
    upcoming.replaceChildren(...data.upcoming.map(row));
    past.replaceChildren(...data.past.map(row));
    if (!data.upcoming.length) upcoming.replaceChildren(h('li', { class: 'muted' }, 'No sessions booked. Find a mentor in one of your circles.'));
  }

  async function loadCalendarToken() {
    try {
      calToken = (await conn.request('calendar.token')).token;
      const feed = `${location.host}/ics/feed.ics?token=${encodeURIComponent(calToken)}`;
      fill(subscribe, h('a', { href: `webcal://${feed}` }, 'Subscribe to my sessions in a calendar app'), ' ',
        h('button', { type: 'button', class: 'link', onclick: revokeCalendar }, 'Revoke the calendar link'));
    } catch { calToken = ''; }
  }

  async function revokeCalendar() {
    try {
      await conn.request('calendar.token', { rotate: true });
      await loadCalendarToken();
      render();
      ctx.announce('The old calendar link no longer works');
    } catch (err) { ctx.showError(err); }
  }

  async function load() {
    try {
      if (!calToken) await loadCalendarToken();
      const res = await conn.request('schedule.mine');
      if (!alive) return;
      data = res;
      render();
      status.textContent = '';
      if (args[0] === 'join' && args[1] && !joinTried) {
        joinTried = true;
        const b = data.upcoming.find((x) => x.id === args[1]);
        if (b) joinSession(b);
      }
    } catch (err) {
      if (alive) status.textContent = `Could not load your sessions: ${ctx.describeError(err)}`;
    }
  }

  async function joinSession(b) {
    try {
      const res = await conn.request('session.join', { booking: b.id });
      fill(room, h('p', {}, `The room with ${nameOf(res.peer)} is open until ${formatSlot(res.closes_at)}.`));
      ctx.announce(`Session room open with ${nameOf(res.peer)}`);
      await enterRoom(ctx, { id: res.room, name: `Session with ${nameOf(res.peer)}` },
        { onChange: () => { if (alive) render(); } });
    } catch (err) { ctx.showError(err); }
  }

  async function cancel(b) {
    if (!confirm(`Cancel the session on ${formatSlot(b.start)}?`)) return;
    try { await conn.request('schedule.cancel', { booking: b.id }); } catch (err) { ctx.showError(err); }
  }

  // join buttons light up at the right time without a reload
  // Every second the Join buttons count down, changed in place (a re-render would take keyboard focus away);
  // the list is drawn again only when a room opens or closes.
  const timer = setInterval(() => {
    if (!alive) return;
    const now = Date.now() / 1000;
    for (const b of data.upcoming) {
      const btn = upcoming.querySelector(`button.join[data-booking="${CSS.escape(b.id)}"]`);
      if (!btn || ctx.room) continue;
      if (roomOpen(b, now) === btn.disabled) { render(); return; }
      if (!roomOpen(b, now)) btn.querySelector('.join-text').textContent = `Join · opens in ${countdown(b.start - OPENS_BEFORE_S - now)}`;
    }
  }, 1000);
  const onChange = () => load();
  const events = ['schedule.booked', 'schedule.cancelled', 'schedule.rescheduled'];
  for (const t of events) conn.addEventListener(t, onChange);
  // who is already inside a session room (the other person waiting), shown before joining
  const onParticipants = (ev) => {
    if (ev.detail.circle !== null) return;
    present.set(ev.detail.room, ev.detail.participants);
    render();
  };
  conn.addEventListener('room.participants', onParticipants);

  load();
  if (args[0] === 'notes' && args[1]) mountNotes(notesPane, ctx, { with: args[1] });
  mountAvailabilityIfMentor(availPane, ctx, () => alive);
  mountNotifications(notifPane, ctx);
  return () => {
    alive = false;
    clearInterval(timer);
    for (const t of events) conn.removeEventListener(t, onChange);
    conn.removeEventListener('room.participants', onParticipants);
  };
}

// ---------------------------------------------------------------- reminders, wherever one is

// schedule.reminder (15 and 1 minutes before, and those that waited while offline) as a banner on every
// view: who, when, and "Join now" once the session room is open. Mounted once (app.js).
export function mountReminders(ctx) {
  const { conn } = ctx;
  const layer = h('div', { class: 'reminders', role: 'region', 'aria-label': 'Reminders' });
  noticeStrip().append(layer);
  conn.addEventListener('schedule.reminder', (ev) => {
    const { booking: b, minutes } = ev.detail;
    if (!b?.id || b.status !== 'booked') return;
    layer.querySelector(`[data-booking="${b.id}"]`)?.remove();
    const peer = b.mentor.id === conn.user?.id ? b.mentee : b.mentor;
    const when = minutes ? `starts in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}` : 'starts now';
    const go = roomOpen(b, Date.now() / 1000)
      ? h('a', { class: 'button', href: `#/sessions/join/${b.id}` }, 'Join now')
      : h('a', { href: '#/sessions' }, 'My sessions');
    const dismiss = h('button', { type: 'button', class: 'secondary small' }, 'Dismiss');
    const el = h('div', { class: 'reminder card', role: 'alert', dataset: { booking: b.id } },
      h('p', {}, `Your session with ${nameOf(peer)} ${when}${b.topic ? ` — ${b.topic}` : ''}.`),
      h('div', { class: 'actions' }, go, dismiss));
    go.addEventListener('click', () => el.remove());
    dismiss.addEventListener('click', () => el.remove());
    layer.append(el);
  });
}

// ---------------------------------------------------------------- a circle's mentors and their next slots

const MENTORS_SHOWN = 6; // one schedule.slots request each: a handful, not the whole circle

// On a circle's page: its mentors, each with the next free slot (a link to the slot picker).
export function mountMentorSlots(el, ctx, { circle }) {
  const { conn } = ctx;
  let alive = true;
  const list = h('ul', { class: 'mentor-slots', 'aria-labelledby': `mentors-${circle.id}` });
  fill(el, h('h2', { id: `mentors-${circle.id}` }, 'Mentoring'), list);

  async function nextSlot(m) {
    const name = nameOf(m.user);
    try {
      const s = await conn.request('schedule.slots', { mentor: m.user.id });
      if (!s.slots.length) return h('li', {}, `${name}: no free slot in the next two weeks`);
      const when = formatSlot(s.slots[0].start);
      return h('li', {}, `${name}: `, h('a', { href: `#/book/${m.user.id}`, 'aria-label': `next free ${when} with ${name}` }, `next free ${when}`));
    } catch {
      return h('li', {}, `${name}: no availability published yet`);
    }
  }

  async function load() {
    try {
      const res = await circleMembers(conn, circle.id);
      const mentors = res.members.filter((m) => m.role === 'mentor' && m.user.id !== conn.user?.id).slice(0, MENTORS_SHOWN);
      const rows = await Promise.all(mentors.map(nextSlot));
      if (!alive) return;
      el.hidden = rows.length === 0;
      list.replaceChildren(...rows);
    } catch { if (alive) el.hidden = true; }
  }
  const events = ['schedule.booked', 'schedule.cancelled', 'schedule.rescheduled'];
  for (const t of events) conn.addEventListener(t, load);
  el.hidden = true;
  load();
  return () => {
    alive = false;
    for (const t of events) conn.removeEventListener(t, load);
  };
}

// ---------------------------------------------------------------- notes of a pair

export function mountNotes(el, ctx, { with: other }) {
  const { conn } = ctx;
  const list = h('ul', { class: 'notes' });
  const sessions = h('p', { class: 'muted' });
  const kind = field('Kind', 'select', {}, [{ value: 'note', label: 'Note' }, { value: 'goal', label: 'Goal' }]);
  const text = field('Text', 'textarea', { maxlength: 2000, required: true, rows: 3 });
  const title = h('h2', {}, 'Mentoring notes');
  const form = h('form', { class: 'note-form', onsubmit: add }, kind.wrap, text.wrap, h('button', { type: 'submit' }, 'Add'));
  fill(el, title, sessions, list, form);

  // Each note can be linked to a goal of an open mentorship of the two (goals.js; none without PostgreSQL).
  async function openMentorships() {
    try {
      const res = await conn.request('mentorship.list', {});
      return res.mentorships.filter((m) => m.state === 'open' && (m.mentor.id === other || m.mentee.id === other));
    } catch { return []; }
  }

  async function load() {
    try {
      const [res, mentorships] = await Promise.all([conn.request('mentoring.notes.list', { with: other }), openMentorships()]);
      const goals = mentorships.flatMap((m) => m.goals);
      const linked = noteLinks(mentorships);
      title.textContent = `Mentoring notes with ${nameOf(res.with)}`;
      sessions.textContent = `${res.sessions.length} session${res.sessions.length === 1 ? '' : 's'} together`;
      list.replaceChildren(...res.notes.map((n) => h('li', { class: `note note-${n.kind}` },
        h('strong', {}, n.kind === 'goal' ? 'Goal: ' : ''), n.text, h('span', { class: 'muted' }, ` — ${nameOf(n.by)}, ${formatSlot(Math.floor(n.at / 1000))}`),
        linked.has(String(n.id)) ? h('p', { class: 'muted' }, `Linked to ${linked.get(String(n.id)).map((t) => `“${t}”`).join(', ')}`) : null,
        goals.length ? noteLinkForm(ctx, n, goals, load) : null)));
    } catch (err) { sessions.textContent = `Could not load the notes: ${ctx.describeError(err)}`; }
  }

  async function add(ev) {
    ev.preventDefault();
    try {
      await conn.request('mentoring.notes.add', { with: other, kind: kind.input.value, text: text.input.value });
      text.input.value = '';
      load();
    } catch (err) { ctx.showError(err); }
  }
  load();
}

// ---------------------------------------------------------------- availability editor (mentors)

// The availability editor is for mentors only (a mentor of any circle, or someone who already published
// availability); everyone else is told how to become one.
async function mountAvailabilityIfMentor(el, ctx, isAlive) {
  const { conn } = ctx;
  let mentor = false;
  try {
    const [mine, own] = await Promise.allSettled([conn.request('circle.list', { mine: true, limit: 100 }),
      conn.request('schedule.availability.get')]);
    mentor = (mine.status === 'fulfilled' && mine.value.circles.some((c) => c.my_role === 'mentor'))
      || (own.status === 'fulfilled' && Boolean(own.value.availability));
  } catch { /* shown as not a mentor */ }
  if (!isAlive()) return;
  if (mentor) { mountAvailability(el, ctx); return; }
  fill(el, h('h2', {}, 'Offering sessions'),
    h('p', { class: 'muted' }, 'Mentors publish their weekly availability here. To become a mentor, open one of your circles and use “Ask to become an expert or a mentor” in its members panel.'));
}

export function mountAvailability(el, ctx) {
  const { conn } = ctx;
  const tz = field('Your time zone', 'input', { value: viewerZone(), required: true });
  const slot = field('Slot length (minutes)', 'input', { type: 'number', min: 5, max: 240, value: 30 });
  const buffer = field('Break between sessions (minutes)', 'input', { type: 'number', min: 0, max: 120, value: 0 });
  const notice = field('Minimum notice (minutes)', 'input', { type: 'number', min: 0, max: 20160, value: 60 });
  const ahead = field('Bookable up to (days ahead)', 'input', { type: 'number', min: 1, max: 365, value: 60 });
  const rows = h('ul', { class: 'windows', 'aria-label': 'Weekly windows' });
  const msg = h('p', { role: 'status', class: 'muted' });

  function windowRow(w = { day: 'tue', start: '19:00', end: '21:00' }) {
    const day = field('Day', 'select', {}, DAYS.map((d) => ({ value: d, label: DAY_LABEL[d], selected: d === w.day })));
    const start = field('From', 'input', { type: 'time', value: w.start });
    const end = field('To', 'input', { type: 'time', value: w.end === '24:00' ? '23:59' : w.end });
    const li = h('li', { class: 'window' }, day.wrap, start.wrap, end.wrap,
      h('button', { type: 'button', class: 'link', onclick: () => li.remove() }, 'Remove'));
    li.read = () => ({ day: day.input.value, start: start.input.value, end: end.input.value === '23:59' ? '24:00' : end.input.value });
    return li;
  }

  async function save(ev) {
    ev.preventDefault();
    const rules = {
      tz: tz.input.value.trim(), windows: [...rows.children].map((li) => li.read()),
      slot_minutes: Number(slot.input.value), buffer_minutes: Number(buffer.input.value),
      min_notice_minutes: Number(notice.input.value), max_ahead_days: Number(ahead.input.value),
    };
    try {
      await conn.request('schedule.availability.set', rules);
      msg.textContent = 'Availability saved.';
    } catch (err) {
      msg.textContent = err.code === 'forbidden' ? 'Only mentors publish availability.' : ctx.describeError(err);
    }
  }

  fill(el, h('h2', {}, 'My availability (mentors)'),
    h('form', { class: 'availability-form', onsubmit: save }, tz.wrap, rows,
      h('button', { type: 'button', onclick: () => rows.appendChild(windowRow()) }, 'Add a weekly window'),
      slot.wrap, buffer.wrap, notice.wrap, ahead.wrap, h('button', { type: 'submit' }, 'Save availability'), msg));

  conn.request('schedule.availability.get').then((res) => {
    const a = res.availability;
    if (!a) return;
    tz.input.value = a.tz;
    slot.input.value = a.slot_minutes;
    buffer.input.value = a.buffer_minutes;
    notice.input.value = a.min_notice_minutes;
    ahead.input.value = a.max_ahead_days;
    rows.replaceChildren(...a.windows.map(windowRow));
  }).catch((err) => { msg.textContent = ctx.describeError(err); });
}

// ---------------------------------------------------------------- notifications

export function mountNotifications(el, ctx) {
  const list = h('ul', { class: 'notification-list' });
  fill(el, h('h2', {}, 'Notifications'), list);
  ctx.conn.request('notifications.list').then((res) => {
    list.replaceChildren(...res.notifications.map((n) => h('li', {}, n.kind === 'chat.mention' ? mentionText(n)
      : `Reminder: session with ${nameOf(n.event.booking.mentor)} and ${nameOf(n.event.booking.mentee)} at ${formatSlot(n.event.booking.start)}`)));
    if (!res.notifications.length) list.replaceChildren(h('li', { class: 'muted' }, 'Nothing yet.'));
  }).catch((err) => ctx.showError(err));
}

// ---------------------------------------------------------------- slot picker

// The slot picker as a week grid (Calendly-like): seven day columns from `from`, the free slots of each as
// buttons, earlier / later weeks; picking a slot asks for confirmation before anything is booked. Times are
// shown in the viewer's zone (profile, else the browser's). With `booking`, the picker moves that booking
// (schedule.reschedule) instead of making a new one.
const WEEK_S = 7 * 86400;
export function mountBook(el, ctx, { mentor, booking }) {
  const { conn } = ctx;
  let alive = true;
  const tz = userZone(conn.user);
  const title = h('h1', {}, booking ? 'Move a mentoring session' : 'Book a mentoring session');
  const info = h('p', { class: 'muted', role: 'status' });
  const topic = field('What would you like to talk about?', 'input', { maxlength: 200 });
  const earlier = h('button', { type: 'button', class: 'secondary small' }, '← Earlier');
  const later = h('button', { type: 'button', class: 'secondary small' }, 'Later →');
  const range = h('h2', { class: 'week-range', 'aria-live': 'polite' });
  const days = h('div', { class: 'slot-days week-grid' });
  const confirm = h('div', { class: 'slot-confirm', 'aria-live': 'polite' });
  fill(el, title, info, booking ? null : topic.wrap, h('div', { class: 'week-nav' }, earlier, range, later), days, confirm);
  let slots = [];
  let mentorUser = null;
  let from = Math.floor(Date.now() / 1000); // the grid's first day starts here (rolling weeks: today first)

  const dayKey = (t) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(t * 1000));
  const dayLabel = (t) => new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(t * 1000));
  const timeLabel = (t) => new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: '2-digit', minute: '2-digit' }).format(new Date(t * 1000));

  function render() {
    const columns = [];
    for (let i = 0; i < 7; i++) {
      const t = from + i * 86400;
      const key = dayKey(t);
      const mine = slots.filter((s) => dayKey(s.start) === key);
      columns.push(h('section', { class: 'slot-day', 'aria-label': dayLabel(t) }, h('h3', {}, dayLabel(t)),
        mine.length ? h('ul', { class: 'slots' }, mine.map((slot) => h('li', {}, h('button', { type: 'button', class: 'slot secondary',
          dataset: { start: slot.start }, 'aria-label': `${dayLabel(slot.start)} ${timeLabel(slot.start)}`,
          onclick: (ev) => choose(slot, ev.currentTarget) }, timeLabel(slot.start)))))
          : h('p', { class: 'muted none' }, '—')));
    }
    days.replaceChildren(...columns);
    range.textContent = `${dayLabel(from)} – ${dayLabel(from + 6 * 86400)}`;
    earlier.disabled = from <= Math.floor(Date.now() / 1000);
    later.disabled = !slots.some((s) => s.start >= from + WEEK_S);
  }
  earlier.addEventListener('click', () => { from = Math.max(Math.floor(Date.now() / 1000), from - WEEK_S); fill(confirm); render(); });
  later.addEventListener('click', () => { from += WEEK_S; fill(confirm); render(); });

  // Picking a slot: what will happen, in words, and a button that does it.
  function choose(slot, button) {
    for (const b of days.querySelectorAll('button[aria-pressed]')) b.removeAttribute('aria-pressed');
    button.setAttribute('aria-pressed', 'true');
    const end = slot.end || slot.start + 1800;
    const go = h('button', { type: 'button' }, booking ? 'Confirm the move' : 'Confirm booking');
    const change = h('button', { type: 'button', class: 'secondary' }, 'Choose another time');
    go.addEventListener('click', () => book(slot, go));
    change.addEventListener('click', () => { fill(confirm); button.removeAttribute('aria-pressed'); button.focus(); });
    fill(confirm, h('div', { class: 'card confirm-card', role: 'region', 'aria-label': 'Confirm your session' },
      h('p', {}, h('strong', {}, `${dayLabel(slot.start)}, ${timeLabel(slot.start)}–${timeLabel(end)}`),
        ` with ${nameOf(mentorUser)} (${tz.replace(/_/g, ' ')})`,
        !booking && topic.input.value.trim() ? ` — ${topic.input.value.trim()}` : ''),
      h('div', { class: 'actions' }, go, change)));
    go.focus();
  }

  async function load() {
    try {
      const [a, s] = await Promise.all([conn.request('schedule.availability.get', { mentor }),
        conn.request('schedule.slots', { mentor })]);
      if (!alive) return;
      mentorUser = a.mentor;
      slots = s.slots;
      title.textContent = `${booking ? 'Move your session with' : 'Book a session with'} ${nameOf(a.mentor)}`;
      info.textContent = `Slots of ${s.slot_minutes} minutes, shown in your time zone (${tz}); ${nameOf(a.mentor)} is in ${s.tz}.`;
      render();
      if (!s.slots.length) days.replaceChildren(h('p', {}, 'No free slots in the next two weeks.'));
    } catch (err) {
      if (alive) info.textContent = err.code === 'not_found' ? 'This mentor has not published availability yet.' : ctx.describeError(err);
    }
  }

  async function book(slot, button) {
    button.disabled = true;
    try {
      if (booking) await conn.request('schedule.reschedule', { booking, start: slot.start });
      else await conn.request('schedule.book', { mentor, start: slot.start, topic: topic.input.value });
      ctx.announce(`${booking ? 'Moved to' : 'Booked for'} ${formatSlot(slot.start, tz)}`);
      ctx.toast(`${booking ? 'Moved to' : 'Booked:'} ${formatSlot(slot.start, tz)} with ${nameOf(mentorUser)}.`);
      ctx.navigate('#/sessions');
    } catch (err) {
      ctx.showError(err);
      fill(confirm);
      load(); // someone else may have taken it
    }
  }
  load();
  return () => { alive = false; };
}
