// views/calls.js — 1:1 calls in the page: starting a call (ctx.calls.start), the incoming-call dialog that
// rings (accept / decline), the outgoing "Calling…" dialog (cancel), and the in-call view: remote and local
// video, mute microphone, camera off, camera and microphone pickers, hang up, duration, connection state, automatic ICE restart (rtc.js).
// One call at a time; the layer lives outside the routed view, so a call survives navigation.
// Calling, accepting and help (help.js hands over the stream with ready()) go through the pre-join
// screen first (views/prejoin.js): the call uses the camera, microphone and on/off chosen there.
import { h, fill } from '../dom.js';
import { startRing } from '../ring.js';
import { noticeStrip } from '../toast.js';
import { Peer, rtcConfig, localMedia, stopStream, videoFor, listDevices, switchDevice } from '../rtc.js';
import { prejoin, applyChoice, showChoice } from './prejoin.js';

const ENDED_TEXT = {
  busy: (n) => `${n} is in another call.`,
  timeout: (n) => `${n} did not answer.`,
  declined: (n) => `${n} declined the call.`,
  cancelled: (n) => `${n} cancelled the call.`,
  hangup: () => 'The call has ended.',
  failed: () => 'The call failed (no connection could be made).',
  disconnected: (n) => `The call was cut off: ${n}'s connection was lost.`,
};

export function mountCalls(ctx) {
  const { conn } = ctx;
  const layer = h('section', { id: 'call-layer', class: 'call-layer', hidden: true, 'aria-live': 'polite' });
  const notice = h('p', { id: 'call-notice', class: 'call-notice', role: 'status', hidden: true });
  noticeStrip().append(layer, notice); // in the flow under the header; an active call fills the window (CSS)
  let cur = null; // { id, who:{id,name,display_name}, dir:'out'|'in', state, peer, stream, prepared, signals[], … }
  let ringer = null;

  const nameOf = (u) => u?.display_name || u?.name || 'Someone';
  const who = (uid) => ctx.users.get(uid) || { id: uid };

  // Why a call ended or failed: shown for a while, then it goes by itself (never left over the page).
  let noticeTimer = null;
  function tell(text) {
    notice.textContent = text;
    notice.hidden = false;
    ctx.announce(text);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
  }

  function ring(on) {
    ringer?.();
    ringer = on ? startRing() : null;
  }

  // Media and ICE config, asked for as early as possible (while it rings).
  // Camera, mic and ICE servers fetched ahead of a call that will start without ringing here (help.js:
  // while asking for help, and on an expert's Accept), so the call's media flows sooner.
  let warm = null;
  function warmUp() {
    if (!cur) warm ||= Promise.all([localMedia().then(applyChoice), rtcConfig(conn)]);
  }
  // The stream chosen in a pre-join screen (help.js) is the next call's media.
  function ready(stream) {
    coolDown();
    warm = Promise.all([stream, rtcConfig(conn)]);
    warm.catch(() => stopStream(stream));
  }
  function coolDown() {
    const w = warm;
    warm = null;
    w?.then(([stream]) => stopStream(stream)).catch(() => {});
  }

  function prepare(c) {
    const early = warm;
    warm = null;
    c.prepared ||= (early || Promise.all([localMedia().then(applyChoice), rtcConfig(conn)])).then(([stream, config]) => {
      c.stream = stream;
      c.config = config;
      return c;
    });
    return c.prepared;
  }

  function show(...children) {
    fill(layer, ...children);
    layer.hidden = false;
  }

  function teardown() {
    ring(false);
    if (!cur) return;
    clearInterval(cur.timer);
    cur.abort?.abort(); // a pre-join screen still open for this call closes
    cur.peer?.close();
    if (cur.prepared) cur.prepared.then((c) => stopStream(c.stream)).catch(() => {});
    cur = null;
    fill(layer);
    layer.hidden = true;
    document.body.dataset.call = 'none';
  }

  function fail(err) {
    const id = cur?.id;
    teardown();
    tell(`The call could not go on: ${ctx.describeError(err)}`);
    if (id) conn.request('call.hangup', { call: id, reason: 'failed' }).catch(() => {});
  }

  // ---------- outgoing ----------
  let starting = false; // the pre-join screen of an outgoing call is shown
  async function start(user) {
    if (cur || starting) { ctx.showError('You are already in a call.'); return; }
    starting = true;
    const choice = await prejoin(ctx, { title: `Call ${nameOf(user)}`, action: 'Call now' });
    starting = false;
    if (!choice) return;
    if (cur) { stopStream(choice.stream); ctx.showError('You are already in a call.'); return; }
    ready(choice.stream);
    notice.hidden = true;
    cur = { who: user, dir: 'out', state: 'calling', signals: [] };
    document.body.dataset.call = 'calling';
    const c = cur;
    show(h('div', { class: 'call-dialog', role: 'dialog', 'aria-label': `Calling ${nameOf(user)}` },
      h('h2', {}, `Calling ${nameOf(user)}…`),
      h('p', { class: 'muted call-state' }, 'Ringing'),
      h('button', { type: 'button', class: 'danger', onclick: () => cancel(c) }, 'Cancel call')));
    prepare(c).catch(() => {});
    try {
      const res = await conn.request('call.invite', { user: user.id });
      if (cur !== c) { if (res.state === 'ringing') conn.request('call.cancel', { call: res.call }).catch(() => {}); return; }
      c.id = res.call;
      if (res.state === 'ended') { teardown(); tell(ENDED_TEXT[res.reason]?.(nameOf(user)) || 'The call has ended.'); return; }
      if (res.state === 'active') { c.polite = res.polite; begin(c, false); } // glare: we answered their call
    } catch (err) {
      if (cur === c) { teardown(); tell(`Could not call ${nameOf(user)}: ${ctx.describeError(err)}`); }
    }
  }

  function cancel(c) {
    if (c.id) conn.request('call.cancel', { call: c.id }).catch(() => {});
    else c.cancelled = true;
    teardown();
  }

  // ---------- incoming ----------
  conn.addEventListener('call.incoming', (ev) => {
    const { call, from } = ev.detail;
    if (cur || starting) return; // another device of ours, or already busy here: the server decides busy
    ctx.users.set(from.id, { ...ctx.users.get(from.id), ...from });
    notice.hidden = true;
    cur = { id: call, who: from, dir: 'in', state: 'ringing', signals: [] };
    const c = cur;
    document.body.dataset.call = 'ringing';
    ring(true);
    const accept = h('button', { type: 'button', class: 'accept', onclick: () => answer(c) }, 'Accept');
    const decline = h('button', { type: 'button', class: 'danger', onclick: () => {
      conn.request('call.decline', { call }).catch(() => {});
      teardown();
    } }, 'Decline');
    show(h('div', { class: 'call-dialog ringing', role: 'alertdialog', 'aria-label': `Incoming call from ${nameOf(from)}` },
      h('h2', {}, `${nameOf(from)} is calling you`),
      h('p', { class: 'ring-icon', 'aria-hidden': 'true' }, '☎'),
      h('div', { class: 'actions' }, accept, decline)));
    accept.focus();
  });

  async function answer(c) {
    ring(false);
    c.abort = new AbortController();
    show(h('div', { class: 'call-dialog' }, h('h2', {}, `${nameOf(c.who)} is waiting for you…`)));
    const choice = await prejoin(ctx, { title: `Call with ${nameOf(c.who)}`, action: 'Answer', signal: c.abort.signal });
    if (cur !== c) { if (choice) stopStream(choice.stream); return; } // ended while the screen was shown
    if (!choice) {
      conn.request('call.decline', { call: c.id }).catch(() => {});
      teardown();
      return;
    }
    c.prepared = Promise.all([choice.stream, rtcConfig(conn)]).then(([stream, config]) => {
      c.stream = stream;
      c.config = config;
      return c;
    }, (err) => { stopStream(choice.stream); throw err; });
    c.state = 'connecting';
    c.acceptClicked = performance.now();
    show(h('div', { class: 'call-dialog' }, h('h2', {}, `Connecting to ${nameOf(c.who)}…`)));
    prepare(c).catch(() => {});
    try {
      const res = await conn.request('call.accept', { call: c.id });
      if (cur !== c) return;
      c.polite = res.polite;
      begin(c, false);
    } catch (err) {
      if (cur === c) { teardown(); tell(`Could not answer: ${ctx.describeError(err)}`); }
    }
  }

  conn.addEventListener('call.answered_elsewhere', (ev) => {
    if (cur?.id === ev.detail.call) { teardown(); tell('The call was answered on another device.'); }
  });

  conn.addEventListener('call.accepted', (ev) => {
    const { call, polite } = ev.detail;
    // An accepted help request (help.js) starts a call that never rang here: open the call view for it.
    if (!cur && ev.detail.help) {
      const peer = ev.detail.peer_user || who(ev.detail.peer);
      ctx.users.set(peer.id, { ...ctx.users.get(peer.id), ...peer });
      notice.hidden = true;
      cur = { id: call, who: peer, dir: polite ? 'in' : 'out', state: 'connecting', signals: [], help: ev.detail.help };
    }
    if (!cur || cur.id !== call) return;
    cur.polite = polite;
    begin(cur, cur.dir === 'out' && !polite);
  });

  conn.addEventListener('call.signal', (ev) => {
    const { call, data } = ev.detail;
    if (!cur || cur.id !== call) return;
    if (cur.peer) cur.peer.handle(data);
    else cur.signals.push(data);
  });

  conn.addEventListener('call.ended', (ev) => {
    const { call, reason } = ev.detail;
    if (!cur || cur.id !== call) return;
    const name = nameOf(cur.who);
    teardown();
    tell(ENDED_TEXT[reason]?.(name) || 'The call has ended.');
  });

  // ---------- in call ----------
  async function begin(c, initiator) {
    if (c.begun) return;
    c.begun = true;
    c.state = 'active';
    document.body.dataset.call = 'active';
    try {
      await prepare(c);
    } catch (err) {
      if (cur === c) fail(err);
      return;
    }
    if (cur !== c) return;
    const send = (data) => conn.request('call.signal', { call: c.id, data }).catch((err) => console.warn('call.signal', err));
    c.peer = new Peer({ config: c.config, polite: c.polite, initiator, send, stream: c.stream, label: c.id });
    for (const d of c.signals.splice(0)) c.peer.handle(d);
    renderActive(c);
  }

  function renderActive(c) {
    const remote = videoFor(c.peer.remote, { label: `Video of ${nameOf(c.who)}` });
    remote.classList.add('remote');
    const local = videoFor(c.stream, { local: true, label: 'Your camera' });
    const state = h('span', { class: 'conn-state', dataset: { state: 'new' } }, 'Connecting…');
    const duration = h('span', { class: 'duration', 'aria-label': 'Call duration' }, '0:00');
    const mic = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Mute microphone');
    const cam = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Turn camera off');
    const hang = h('button', { type: 'button', class: 'danger' }, 'Hang up');
    mic.addEventListener('click', () => toggle(c.stream.getAudioTracks(), mic, 'Unmute microphone', 'Mute microphone'));
    cam.addEventListener('click', () => toggle(c.stream.getVideoTracks(), cam, 'Turn camera on', 'Turn camera off'));
    showChoice(c.stream, mic, cam);
    hang.addEventListener('click', () => {
      conn.request('call.hangup', { call: c.id, reason: 'hangup' }).catch(() => {});
      teardown();
      tell('You hung up.');
    });
    const started = Date.now();
    c.timer = setInterval(() => {
      const s = Math.floor((Date.now() - started) / 1000);
      duration.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }, 1000);
    const onState = () => {
      const s = c.peer.state;
      state.dataset.state = s;
      state.textContent = { new: 'Connecting…', connecting: 'Connecting…', connected: 'Connected',
        disconnected: 'Connection unstable…', failed: 'Connection failed — reconnecting…', closed: 'Closed' }[s] || s;
    };
    c.peer.addEventListener('state', onState);
    c.peer.addEventListener('restart', () => { state.textContent = 'Reconnecting (ICE restart)…'; });
    show(h('div', { class: 'in-call', role: 'region', 'aria-label': `Call with ${nameOf(c.who)}` },
      h('h2', {}, `In a call with ${nameOf(c.who)}`),
      h('p', { class: 'call-meta' }, state, ' · ', duration),
      h('div', { class: 'videos' }, remote, local),
      h('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Call controls' }, mic, cam, hang),
      devicePicker(c)));
    mic.focus(); // the call fills the window: keyboard users start on its controls
  }

  // Camera and microphone choosers; a change swaps the track in place (the call goes on).
  function devicePicker(c) {
    const box = h('div', { class: 'devices' });
    const chooser = (kind, labelText, devices) => {
      const current = (kind === 'video' ? c.stream.getVideoTracks() : c.stream.getAudioTracks())[0]?.getSettings().deviceId;
      const select = h('select', { 'aria-label': labelText, name: `${kind}-device` },
        devices.map((d) => h('option', { value: d.deviceId, selected: d.deviceId === current }, d.label)));
      select.addEventListener('change', async () => {
        try {
          await switchDevice(c.stream, kind, select.value, c.peer ? [c.peer] : []);
          ctx.announce(`${labelText}: ${select.selectedOptions[0]?.textContent}`);
        } catch (err) {
          tell(`Could not switch to that device: ${ctx.describeError(err)}`);
        }
      });
      return h('label', {}, `${labelText} `, select);
    };
    listDevices().then((d) => {
      if (cur !== c) return;
      fill(box, chooser('video', 'Camera', d.video), ' ', chooser('audio', 'Microphone', d.audio));
    }).catch(() => fill(box, h('span', { class: 'muted' }, 'The browser does not list its devices.')));
    return box;
  }

  function toggle(tracks, btn, onText, offText) {
    const off = btn.getAttribute('aria-pressed') !== 'true';
    for (const t of tracks) t.enabled = !off;
    btn.setAttribute('aria-pressed', String(off));
    btn.textContent = off ? onText : offText;
  }

  // Signed out on this tab: nothing of a call may linger.
  conn.addEventListener('signedout', teardown);
  return { start, warmUp, coolDown, ready, get active() { return Boolean(cur); } };
}
