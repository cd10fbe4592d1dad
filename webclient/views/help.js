// views/help.js — help requests in the page.
//   mountHelp(el, ctx, {circle})  the circle's "Get help now" panel: the ask form, the waiting state (cancel),
//     the unanswered choices (keep waiting / leave it as a post / book a mentor), "N experts on duty now",
//     and for experts and mentors the on-duty toggle. With nobody on duty it says so at once and offers:
//     ask the experts who are online (reach "online"), book the next free mentor slot, or post in #help.
//   mountHelpOffers(ctx)  the offers an on-duty expert gets anywhere in the app (topic, details, who asks;
//     Accept / Not now), closed when taken by someone else or cancelled. Accepting opens the call view
//     (calls.js handles the call.accepted that follows). Experts online but off duty get help.nudge: a
//     quieter card (no ring) with a link to the circle.
import { h, field, fill } from '../dom.js';
import { startRing } from '../ring.js';
import { noticeStrip } from '../toast.js';
import { circleMembers } from '../protocol.js';
import { prejoin } from './prejoin.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';
const onDutyText = (n) => `${n} ${n === 1 ? 'expert' : 'experts'} on duty now`;
const SNAPSHOT_TRIES = 4; // an answer overtaken by a live event is asked for again at most this often

// The pre-join screen before a help call: true when the user chose Join (the call will use that stream).
async function readyForCall(ctx, title, action, signal) {
  const choice = await prejoin(ctx, { title, action, signal });
  if (!choice) return false;
  if (ctx.calls?.ready) ctx.calls.ready(choice.stream);
  return true;
}

export function mountHelp(root, ctx, { circle }) {
  const { conn } = ctx;
  const cid = circle.id;
  let alive = true;
  let mine = null; // the request this tab is waiting on: { id, state: 'open'|'unanswered' }

  let onDuty = circle.experts_on_duty || 0; // what the count shows: decides what "Ask" does
  const count = h('p', { class: 'help-count', role: 'status' }, onDutyText(onDuty));
  const setCount = (n) => { onDuty = n; count.textContent = onDutyText(n); };
  // The count follows help.duty events, and some answers carry a count too (circle.get, help.duty). An
  // answer and an event travel different ways (the event through Redis pub/sub), so an event for a change
  // made just after an answer was computed can arrive before that answer: the older count would then
  // replace the newer one until the next change. An answer's count is used only if no help.duty event came
  // while it was on its way (`dutyEvents`).
  let dutyEvents = 0;
  let requestEvents = 0; // status changes of my help requests seen (restore() below)
  const panel = h('div', { class: 'help-body' });
  const duty = dutyToggle();
  root.append(h('section', { class: 'help-panel', 'aria-label': 'Get help now' },
    h('h2', {}, 'Get help now'), count, duty, panel));
  showAsk();
  restore();

  // After a reload or coming back to the circle: my latest request that still waits is shown again.
  // help.list is a snapshot: if my request times out or is taken while it is on its way, the event comes
  // first (and finds no request shown) and the answer would then show "Waiting" for good. So an answer
  // overtaken by a status change of one of my requests is asked for again (`requestEvents`, a few times at
  // most).
  async function restore() {
    try {
      for (let tries = 0; tries < SNAPSHOT_TRIES; tries++) {
        const seen = requestEvents;
        const { requests } = await conn.request('help.list', { circle: cid, limit: 20 });
        if (!alive || mine) return;
        if (seen !== requestEvents) continue;
        const req = requests.find((r) => r.requester?.id === conn.user?.id);
        if (!req) return;
        if (req.status === 'open') showWaiting(req);
        else if (req.status === 'unanswered' && !sessionStorage.getItem(`staffroom.help.posted.${req.id}`)) {
          mine = { id: req.id, topic: req.topic };
          showUnanswered();
        }
        return;
      }
    } catch { /* nothing to restore */ }
  }

  function dutyToggle() {
    if (circle.my_role !== 'expert' && circle.my_role !== 'mentor') return null;
    const box = h('input', { type: 'checkbox', id: `duty-${cid}`, name: 'on-duty' });
    const error = h('p', { class: 'form-error', role: 'alert' });
    box.addEventListener('change', async () => {
      error.textContent = '';
      try {
        const seen = dutyEvents;
        const r = await conn.request('help.duty', { circle: cid, on: box.checked });
        if (seen === dutyEvents) setCount(r.experts_on_duty); // else an event (mine or newer) set it already
        ctx.announce(r.on_duty ? 'You are on duty: help requests of this circle will reach you.' : 'You are off duty.');
      } catch (err) {
        box.checked = !box.checked;
        error.textContent = ctx.describeError(err);
      }
    });
    return h('div', { class: 'duty' }, box, h('label', { for: box.id }, ' I am on duty (help requests reach me)'), error);
  }

  function showAsk() {
    mine = null;
    const topic = field('What do you need help with?', 'input', { name: 'topic', required: true, maxlength: 120,
      placeholder: 'e.g. explaining p-values to adult learners' });
    const details = field('Details (optional)', 'textarea', { name: 'details', rows: 3, maxlength: 2000 });
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { class: 'help-form', 'aria-label': 'Ask for help', hidden: true },
      topic.wrap, details.wrap, error,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Ask the experts')));
    const open = h('button', { type: 'button', class: 'get-help prominent' }, 'Get help now');
    open.addEventListener('click', () => { form.hidden = false; open.hidden = true; topic.input.focus(); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.textContent = '';
      const fields = { circle: cid, topic: topic.input.value.trim() };
      if (details.input.value.trim()) fields.details = details.input.value.trim();
      // Nobody on duty: say so now, not after the request timed out, and offer what can be done now.
      if (onDuty === 0) { showNobodyOnDuty(fields); return; }
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      if (!await readyForCall(ctx, 'Video call with an expert', 'Ask now')) { btn.disabled = false; return; }
      try {
        const r = await conn.request('help.request', fields);
        if (alive) showWaiting(r.request, r.offered);
      } catch (err) {
        ctx.calls?.coolDown();
        error.textContent = ctx.describeError(err);
        btn.disabled = false;
      }
    });
    fill(panel, open, form);
  }

  // The choices when no expert is on duty: ask the experts who are online anyway (they get a gentler
  // notice, help.nudge), book the next free mentor slot, or leave the question as a post in #help.
  async function showNobodyOnDuty(fields) {
    let online = circle.experts_online || 0;
    try { online = (await conn.request('circle.get', { circle: cid })).circle.experts_online || 0; } catch { /* keep the last count */ }
    if (!alive) return;
    const ask = h('button', { type: 'button', disabled: online === 0 },
      online ? `Ask the ${online === 1 ? 'expert' : `${online} experts`} online` : 'No expert is online either');
    const book = h('button', { type: 'button', class: 'secondary' }, 'Book the next free mentor slot');
    const post = h('button', { type: 'button', class: 'secondary' }, 'Post it in #help');
    const error = h('p', { class: 'form-error', role: 'alert' });
    const slot = h('p', { class: 'next-slot', role: 'status' });
    const back = h('button', { type: 'button', class: 'link' }, 'Back');
    ask.addEventListener('click', async () => {
      ask.disabled = true;
      if (!await readyForCall(ctx, 'Video call with an expert', 'Ask now')) { ask.disabled = false; return; }
      try {
        const r = await requestHelp({ ...fields, reach: 'online' });
        if (alive) showWaiting(r.request, r.offered);
      } catch (err) { ctx.calls?.coolDown(); error.textContent = ctx.describeError(err); ask.disabled = false; }
    });
    post.addEventListener('click', async () => {
      post.disabled = true;
      try {
        const r = await conn.request('help.request', fields);
        sessionStorage.setItem(`staffroom.help.posted.${r.request.id}`, '1'); // not asked again on this tab
        if (!alive) return;
        showAsk();
        ctx.toast('Your question is posted in #help: experts will see it when they come on duty.');
      } catch (err) { error.textContent = ctx.describeError(err); post.disabled = false; }
    });
    book.addEventListener('click', async () => {
      book.disabled = true;
      slot.textContent = 'Looking for the next free slot…';
      const next = await nextMentorSlot();
      if (!alive) return;
      book.disabled = false;
      if (!next) { slot.textContent = 'No mentor of this circle has a free slot in the next two weeks.'; return; }
      const when = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
        timeZone: ctx.user?.tz || undefined }).format(new Date(next.start * 1000));
      fill(slot, 'Next free: ', h('a', { href: `#/book/${next.mentor.id}` }, `${when} with ${nameOf(next.mentor)}`));
      slot.querySelector('a').focus();
    });
    back.addEventListener('click', () => showAsk());
    fill(panel, h('div', { class: 'help-nobody card', role: 'alert', dataset: { state: 'nobody' } },
      h('p', {}, h('strong', {}, 'No expert is on duty right now.')),
      h('p', { class: 'muted' }, `“${fields.topic}” — ${online ? `${online} ${online === 1 ? 'expert is' : 'experts are'} online but not on duty.` : 'nobody with that role is online.'}`),
      h('div', { class: 'actions' }, ask, book, post, back), slot, error));
    (online ? ask : book).focus();
  }

  // help.request; a server that does not know `reach` yet gets the request without it.
  async function requestHelp(fields) {
    try {
      return await conn.request('help.request', fields);
    } catch (err) {
      if (err.code !== 'bad_request' || err.field !== 'reach') throw err;
      const { reach, ...rest } = fields;
      return conn.request('help.request', rest);
    }
  }

  // The earliest free slot among the circle's mentors (a few of them: one schedule.slots each).
  async function nextMentorSlot() {
    try {
      const { members } = await circleMembers(conn, cid, { pages: 2 });
      const mentors = members.filter((m) => m.role === 'mentor' && m.user.id !== conn.user?.id).slice(0, 6);
      const found = await Promise.all(mentors.map((m) => conn.request('schedule.slots', { mentor: m.user.id })
        .then((s) => (s.slots[0] ? { mentor: m.user, start: s.slots[0].start } : null)).catch(() => null)));
      return found.filter(Boolean).sort((a, b) => a.start - b.start)[0] || null;
    } catch { return null; }
  }

  function showWaiting(req, offered) {
    mine = { id: req.id, state: 'open', topic: req.topic };
    ctx.calls?.warmUp(); // camera and relay credentials ready before an expert accepts
    const cancel = h('button', { type: 'button', class: 'danger small' }, 'Cancel request');
    cancel.addEventListener('click', async () => {
      ctx.calls?.coolDown();
      try { await conn.request('help.cancel', { request: req.id }); } catch (err) { ctx.showError(err); }
      if (alive) { showAsk(); ctx.announce('Your help request was cancelled.'); }
    });
    fill(panel, h('div', { class: 'help-waiting card', dataset: { request: req.id, state: 'waiting' } },
      h('p', {}, h('strong', {}, '⏳ Waiting for an expert…')),
      h('p', { class: 'muted' }, offered === undefined ? `“${req.topic}”`
        : `“${req.topic}” — offered to ${offered} ${offered === 1 ? 'expert' : 'experts'}.`),
      cancel));
    if (offered !== undefined) ctx.announce('Your help request was sent. Waiting for an expert.');
  }

  function showUnanswered() {
    mine.state = 'unanswered';
    ctx.calls?.coolDown(); // the camera goes off while nobody is coming; "Keep waiting" warms it again
    const req = mine;
    const wait = h('button', { type: 'button' }, 'Keep waiting');
    const post = h('button', { type: 'button', class: 'secondary' }, 'Leave it as a post');
    const book = h('button', { type: 'button', class: 'secondary' }, 'Book a mentor');
    wait.addEventListener('click', async () => {
      try {
        const r = await conn.request('help.wait', { request: req.id });
        if (alive) showWaiting(r.request, r.offered);
      } catch (err) { ctx.showError(err); }
    });
    post.addEventListener('click', () => {
      sessionStorage.setItem(`staffroom.help.posted.${req.id}`, '1'); // not asked again on this tab
      showAsk();
      ctx.announce('Your request stays in the help channel.');
    });
    // Booking: list the circle's mentors, each a link to their slot picker (views/schedule.js, #/book/<id>).
    const mentors = h('ul', { class: 'help-mentors', 'aria-label': 'Mentors of this circle' });
    book.addEventListener('click', async () => {
      try {
        const res = await circleMembers(conn, cid);
        const list = res.members.filter((m) => m.role === 'mentor' && m.user.id !== conn.user?.id);
        if (!alive) return;
        fill(mentors, ...(list.length ? list.map((m) => h('li', {},
          h('a', { href: `#/book/${m.user.id}` }, `Book a session with ${m.user.display_name || m.user.name}`)))
          : [h('li', { class: 'muted' }, 'This circle has no mentors yet.')]));
        (mentors.querySelector('a') || book).focus();
      } catch (err) { ctx.showError(err); }
    });
    fill(panel, h('div', { class: 'help-unanswered card', role: 'alert', dataset: { request: req.id, state: 'unanswered' } },
      h('p', {}, h('strong', {}, 'Nobody could take your request just now.')),
      h('p', { class: 'muted' }, `“${req.topic}” stays in the help channel for later.`),
      h('div', { class: 'actions' }, wait, post, book), mentors));
  }

  // Duty also ends when an expert's device goes (no help.duty then): recount when someone goes offline.
  // An answer overtaken by a help.duty event is asked for again (a request sent after the event includes
  // it); one that keeps being overtaken leaves the count to the events. An offline that comes while a
  // recount is on its way asks once more too (that answer may predate it).
  let recounting = null; // { again } while a recount is on its way
  async function recount() {
    if (recounting) { recounting.again = true; return; }
    recounting = { again: false };
    try {
      for (let tries = 0; tries < SNAPSHOT_TRIES; tries++) {
        const seen = dutyEvents;
        recounting.again = false;
        const c = (await conn.request('circle.get', { circle: cid })).circle;
        if (!alive) return;
        if (seen === dutyEvents && !recounting.again) { setCount(c.experts_on_duty || 0); return; }
      }
    } catch { /* the next event recounts */ } finally {
      recounting = null;
    }
  }
  const on = {
    'help.duty': (ev) => { if (ev.detail.circle === cid) { dutyEvents += 1; setCount(ev.detail.experts_on_duty); } },
    presence: (ev) => { if (ev.detail.circle === cid && ev.detail.status === 'offline') recount(); },
    'help.unanswered': (ev) => { requestEvents += 1; if (mine && ev.detail.request === mine.id) showUnanswered(); },
    'call.accepted': (ev) => {
      if (mine && ev.detail.help === mine.id) { showAsk(); ctx.announce('An expert took your request.'); }
    },
    // every status change of a request updates its message in #help (the asker's message)
    'chat.updated': (ev) => {
      const m = ev.detail.message;
      if (ev.detail.circle === cid && m?.help && m.user?.id === conn.user?.id) requestEvents += 1;
    },
  };
  for (const [t, f] of Object.entries(on)) conn.addEventListener(t, f);
  return () => {
    alive = false;
    for (const [t, f] of Object.entries(on)) conn.removeEventListener(t, f);
  };
}

export function mountHelpOffers(ctx) {
  const { conn } = ctx;
  const layer = h('section', { id: 'help-offers', class: 'help-offers', 'aria-live': 'assertive', hidden: true });
  noticeStrip().append(layer);
  const offers = new Map(); // request id → element
  let stopRing = null;      // rings while any offer is shown, like an incoming call

  // The ring and the tab title's "(N) " follow the offers on screen.
  function alert() {
    if (offers.size && !stopRing) stopRing = startRing();
    if (!offers.size && stopRing) { stopRing(); stopRing = null; }
    const bare = document.title.replace(/^\(\d+\) /, '');
    document.title = offers.size ? `(${offers.size}) ${bare}` : bare;
  }

  function drop(rid, why) {
    const el = offers.get(rid);
    if (!el) return;
    el.abort?.abort(); // its pre-join screen, if open, closes
    el.remove();
    offers.delete(rid);
    layer.hidden = layer.children.length === 0;
    alert();
    if (why) ctx.announce(why);
  }

  conn.addEventListener('help.offer', (ev) => {
    const req = ev.detail.request;
    if (!req || offers.has(req.id)) return;
    const error = h('p', { class: 'form-error', role: 'alert' });
    const accept = h('button', { type: 'button', class: 'accept' }, 'Accept');
    const later = h('button', { type: 'button', class: 'secondary' }, 'Not now');
    const el = h('div', { class: 'help-offer card', role: 'alertdialog', 'aria-label': `Help request from ${nameOf(req.requester)}`,
      dataset: { request: req.id } },
      h('h2', {}, `${nameOf(req.requester)} needs help`),
      h('p', { class: 'help-topic' }, req.topic),
      req.details ? h('p', { class: 'help-details' }, req.details) : null,
      h('div', { class: 'actions' }, accept, later), error);
    accept.addEventListener('click', async () => {
      accept.disabled = true;
      error.textContent = '';
      el.abort = new AbortController();
      // camera and mic chosen before the accept: the call starts on its answer
      if (!await readyForCall(ctx, `Help ${nameOf(req.requester)}`, 'Accept and join', el.abort.signal)) {
        accept.disabled = false;
        if (offers.has(req.id)) accept.focus();
        return;
      }
      if (!offers.has(req.id)) { ctx.calls?.coolDown(); return; } // taken or withdrawn meanwhile
      try {
        await conn.request('help.accept', { request: req.id });
        drop(req.id);
      } catch (err) {
        ctx.calls?.coolDown();
        error.textContent = err.code === 'conflict' ? 'Someone else already took it.' : ctx.describeError(err);
        setTimeout(() => drop(req.id), 4000);
      }
    });
    later.addEventListener('click', () => drop(req.id));
    offers.set(req.id, el);
    layer.append(el);
    layer.hidden = false;
    alert();
    ctx.announce(`${nameOf(req.requester)} needs help: ${req.topic}`);
    accept.focus();
  });
  conn.addEventListener('help.nudge', (ev) => {
    const { circle, request, topic, by } = ev.detail;
    if (!request || layer.querySelector(`[data-nudge="${CSS.escape(String(request))}"]`)) return;
    const error = h('p', { class: 'form-error', role: 'alert' });
    const help = h('button', { type: 'button', class: 'small accept' }, 'I can help');
    const el = h('div', { class: 'help-nudge card', role: 'region', 'aria-label': `${nameOf(by)} is looking for help`, dataset: { nudge: request, circle } },
      h('p', {}, h('strong', {}, `${nameOf(by)} is looking for help`), topic ? `: “${topic}”` : '',
        h('span', { class: 'muted' }, ' (nobody is on duty)')),
      h('div', { class: 'actions' }, help,
        h('button', { type: 'button', class: 'secondary small', onclick: () => gone() }, 'Not now')), error);
    const gone = () => { el.remove(); layer.hidden = layer.children.length === 0; };
    help.addEventListener('click', async () => {
      help.disabled = true;
      el.abort = new AbortController();
      if (!await readyForCall(ctx, `Help ${nameOf(by)}`, 'Accept and join', el.abort.signal)) { help.disabled = false; return; }
      if (!el.isConnected) { ctx.calls?.coolDown(); return; }
      try {
        await conn.request('help.accept', { request });
        gone();
      } catch (err) {
        ctx.calls?.coolDown();
        error.textContent = err.code === 'conflict' ? 'Someone else already took it.' : ctx.describeError(err);
        setTimeout(gone, 4000);
      }
    });
    layer.append(el);
    layer.hidden = false;
    setTimeout(gone, 60000);
  });
  const dropNudge = (rid) => {
    const el = layer.querySelector(`[data-nudge="${CSS.escape(String(rid))}"]`);
    el?.abort?.abort();
    el?.remove();
    layer.hidden = layer.children.length === 0;
  };
  conn.addEventListener('help.taken', (ev) => { dropNudge(ev.detail.request); drop(ev.detail.request, `${nameOf(ev.detail.by)} took the help request.`); });
  conn.addEventListener('help.cancelled', (ev) => { dropNudge(ev.detail.request); drop(ev.detail.request, 'A help request was withdrawn.'); });
  conn.addEventListener('signedout', () => { for (const rid of [...offers.keys()]) drop(rid); });
}

// The status line a help channel message shows (chat.js).
export function helpStatusText(help) {
  switch (help.status) {
    case 'open': return 'Help request · waiting for an expert';
    case 'taken': return `Help request · taken by ${nameOf(help.taken_by)}`;
    case 'answered': return `Help request · answered by ${nameOf(help.taken_by)}`;
    case 'unanswered': return 'Help request · unanswered';
    case 'cancelled': return 'Help request · cancelled';
    default: return `Help request · ${help.status}`;
  }
}
