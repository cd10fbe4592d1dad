// views/stage.js — the call stage of a room whose media goes through the SFU (room.join said media "sfu"):
// one tile per other participant in a grid that scales to 25 (CSS grid, columns from the count), the
// active speaker highlighted (room.speaker), a screen share shown large above the grid, your own camera
// small in the corner, and a bar at the bottom: mute, camera, share screen, grid/speaker view, leave. In
// speaker view (speakerView below) the active speaker is shown large and the others as a filmstrip. Names come from
// room.participants (everyone inside, with or without media yet). The media itself is sfu.js's
// SfuSession; room.media.reset and failures reconnect there, and this view only follows .remote.
import { h, fill } from '../dom.js';
import { stopStream, videoFor } from '../rtc.js';
import { SfuSession } from '../sfu.js';
import { mountRecording } from './record.js';
import { showChoice } from './prejoin.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';
const STATE_TEXT = {
  connecting: 'Connecting to the room…',
  connected: '',
  reconnecting: 'Reconnecting to the room…',
  failed: 'The room’s media could not be connected.',
  closed: '',
};

// Opens the stage for room r, already joined (res: room.join's answer). Sets ctx.room; returns nothing.
export function openStage(ctx, r, res, stream, config, onChange) {
  const { conn } = ctx;
  const s = { roomId: r.id, name: r.name, device: res.device, stream, tiles: new Map(), people: new Map(), speaker: null,
    rev: res.room.rev ?? 0 }; // the roster's revision: an older room.participants (a late event) changes nothing
  const session = new SfuSession({ conn, room: r.id, config, stream });
  s.session = session;
  window.staffroomStage = s; // the browser tests read the connection's stats from here
  ctx.room = s;

  const status = h('p', { class: 'stage-status muted', role: 'status' }, STATE_TEXT.connecting);
  const shareArea = h('div', { class: 'screen-share', hidden: true });
  const grid = h('div', { class: 'tiles stage-grid', role: 'list', 'aria-label': 'Participants' });
  const self = h('figure', { class: 'tile self' }, videoFor(stream, { local: true, label: 'Your camera' }), h('figcaption', {}, 'You'));
  const mic = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Mute microphone');
  const cam = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Turn camera off');
  const share = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Share screen');
  const leave = h('button', { type: 'button', class: 'danger' }, 'Leave room');
  const layer = h('section', { id: 'room-layer', class: 'call-layer room-layer stage-layer', role: 'region', 'aria-label': `Room ${r.name}` },
    h('div', { class: 'stage-head' }, h('h2', {}, r.name), status),
    h('div', { class: 'stage-main' }, shareArea, grid, self),
    h('div', { class: 'call-bar actions', role: 'toolbar', 'aria-label': 'Call controls' }, mic, cam, share, leave));
  document.body.append(layer);
  const rec = mountRecording(ctx, { room: r.id, bar: layer.querySelector('.call-bar'), head: layer.querySelector('.stage-head'), stream, device: res.device });

  function people(list) {
    s.people = new Map(list.filter((p) => p.device !== s.device).map((p) => [p.device, p]));
    for (const p of list) ctx.users?.set(p.user.id, p.user);
  }
  people(res.room.participants);

  // One tile per participant inside (media or not); its video shows the participant's camera and plays its mic.
  const view = tileViewReporter(conn, r.id);
  s.view = view;
  function tileFor(device, user) {
    let t = s.tiles.get(device);
    if (t) return t;
    const video = videoFor(new MediaStream(), { label: `Video of ${nameOf(user)}` });
    const caption = h('figcaption', {}, nameOf(user));
    t = h('figure', { class: 'tile', role: 'listitem', dataset: { device } }, video, caption);
    t.video = video;
    t.caption = caption;
    s.tiles.set(device, t);
    grid.append(t);
    view.observe(t, device);
    return t;
  }

  function render() {
    const remote = session.remote;
    for (const [device, t] of s.tiles) {
      if (!s.people.has(device)) { view.unobserve(t, device); t.remove(); s.tiles.delete(device); } // who is inside: the server's roster
    }
    let shared = null;
    for (const [device, p] of s.people) {
      const t = tileFor(device, p.user);
      const m = remote.get(device);
      if (m?.main && t.video.srcObject !== m.main) t.video.srcObject = m.main;
      t.caption.textContent = `${nameOf(p.user)}${p.mic ? '' : ' (muted)'}${s.speaker === device ? ' — speaking' : ''}`;
      t.classList.toggle('speaking', s.speaker === device);
      t.dataset.media = m?.main ? 'on' : 'waiting';
      if (m?.screen && !shared) shared = { stream: m.screen, name: nameOf(p.user) };
    }
    if (!shared && session.screen) shared = { stream: new MediaStream([session.screen]), name: null };
    showShare(shared);
    const n = s.tiles.size;
    grid.style.setProperty('--cols', String(Math.max(1, Math.ceil(Math.sqrt(n)))));
    grid.dataset.count = String(n);
    s.layout?.();
  }

  function showShare(shared) {
    layer.classList.toggle('sharing', Boolean(shared));
    shareArea.hidden = !shared;
    if (!shared) { shareArea.replaceChildren(); shareArea.stream = null; return; }
    if (shareArea.stream?.getTracks()[0] === shared.stream.getTracks()[0]) return;
    shareArea.stream = shared.stream;
    const label = shared.name ? `Screen shared by ${shared.name}` : 'Your screen';
    fill(shareArea, h('figure', { class: 'tile share' }, videoFor(shared.stream, { label }), h('figcaption', {}, label)));
  }

  const onParticipants = (ev) => {
    if (ev.detail.room !== r.id || (ev.detail.rev ?? 0) < s.rev) return;
    s.rev = ev.detail.rev ?? s.rev;
    people(ev.detail.participants);
    render();
  };
  const onSpeaker = (ev) => {
    if (ev.detail.room !== r.id) return;
    s.speaker = ev.detail.device;
    render();
  };
  const onClosed = (ev) => {
    if (ev.detail.room !== r.id) return;
    s.leave();
    ctx.announce?.(`${r.name} has closed.`);
  };
  conn.addEventListener('room.participants', onParticipants);
  conn.addEventListener('room.speaker', onSpeaker);
  conn.addEventListener('room.closed', onClosed);
  // removed from the circle by a moderator: the server took this device out of the room
  const onRemoved = (ev) => {
    if (ev.detail.room !== r.id || (ev.detail.device && ev.detail.device !== s.device)) return;
    s.leave(false);
    ctx.announce?.(`You are no longer in ${r.name}.`);
  };
  conn.addEventListener('room.removed', onRemoved);
  session.addEventListener('media', render);
  session.addEventListener('state', () => {
    status.textContent = session.state === 'failed' && session.lastError
      ? `${STATE_TEXT.failed} ${ctx.describeError?.(session.lastError) || session.lastError.message}` : STATE_TEXT[session.state] ?? '';
    layer.dataset.state = session.state;
  });

  s.leave = async (tellServer = true) => {
    conn.removeEventListener('room.participants', onParticipants);
    conn.removeEventListener('room.speaker', onSpeaker);
    conn.removeEventListener('room.closed', onClosed);
    conn.removeEventListener('room.removed', onRemoved);
    view.close();
    rec.close();
    session.close();
    stopStream(stream);
    layer.remove();
    if (window.staffroomStage === s) window.staffroomStage = null;
    ctx.room = null;
    onChange?.();
    if (tellServer) await conn.request('room.leave', { room: r.id }).catch(() => {});
  };
  const update = () => conn.request('room.update', { room: r.id,
    camera: cam.getAttribute('aria-pressed') !== 'true', mic: mic.getAttribute('aria-pressed') !== 'true' }).catch((e) => ctx.showError(e));
  mic.addEventListener('click', () => { toggle(stream.getAudioTracks(), mic, 'Unmute microphone', 'Mute microphone'); update(); });
  cam.addEventListener('click', () => { toggle(stream.getVideoTracks(), cam, 'Turn camera on', 'Turn camera off'); update(); });
  share.addEventListener('click', async () => {
    if (session.screen) {
      await session.stopScreen();
    } else {
      let display;
      try {
        display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { max: 5 } }, audio: false });
        // slides and documents: keep them sharp rather than smooth
        display.getVideoTracks()[0].contentHint = 'detail';
      } catch (err) {
        ctx.showError?.(new Error(`Screen sharing did not start: ${err.message}`));
        return;
      }
      const track = display.getVideoTracks()[0];
      track.addEventListener('ended', () => setShare(false));
      await session.shareScreen(track);
    }
    setShare(Boolean(session.screen));
  });
  function setShare(on) {
    share.setAttribute('aria-pressed', String(on));
    share.textContent = on ? 'Stop sharing' : 'Share screen';
    render();
  }
  leave.addEventListener('click', () => s.leave());
  showChoice(stream, mic, cam);
  s.layout = speakerView(s, { layer, grid, leave, mic, session });
  render();
  mic.focus(); // the stage fills the window: keyboard users start on its controls
  onChange?.();
}

function toggle(tracks, btn, onText, offText) {
  const off = btn.getAttribute('aria-pressed') !== 'true';
  for (const t of tracks) t.enabled = !off;
  btn.setAttribute('aria-pressed', String(off));
  btn.textContent = off ? onText : offText;
}

// Tells the server (room.media.view) what this client shows of each participant's camera: the tile's width
// in device pixels and whether it is on screen (IntersectionObserver) and the page visible. The SFU sends
// hidden tiles no video and picks the simulcast layer from the width. Changes are sent together, at most
// one request per VIEW_DEBOUNCE_MS, and only when something changed.
const VIEW_DEBOUNCE_MS = 200;
function tileViewReporter(conn, roomId) {
  const tiles = new Map(); // device → {el, width, onScreen}
  let sent = '';
  let timer = null;
  const send = () => {
    timer = null;
    const list = [...tiles].map(([device, t]) => ({ publisher: device, width: t.width,
      visible: t.onScreen && t.width > 0 && document.visibilityState === 'visible' }));
    const key = JSON.stringify(list);
    if (key === sent || list.length === 0) return;
    sent = key;
    conn.request('room.media.view', { room: roomId, tiles: list.slice(0, 64) }).catch((err) => { sent = ''; console.warn('room.media.view', err.code || err); });
  };
  const soon = () => { if (!timer) timer = setTimeout(send, VIEW_DEBOUNCE_MS); };
  const byEl = (el) => [...tiles.values()].find((t) => t.el === el);
  const resize = new ResizeObserver((entries) => {
    for (const e of entries) {
      const t = byEl(e.target);
      if (t) t.width = Math.round(e.contentRect.width * (window.devicePixelRatio || 1));
    }
    soon();
  });
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const t = byEl(e.target);
      if (t) t.onScreen = e.isIntersecting;
    }
    soon();
  });
  document.addEventListener('visibilitychange', soon);
  return {
    observe(el, device) {
      tiles.set(device, { el, width: Math.round(el.clientWidth * (window.devicePixelRatio || 1)), onScreen: true });
      resize.observe(el);
      seen.observe(el);
      soon();
    },
    unobserve(el, device) { resize.unobserve(el); seen.unobserve(el); tiles.delete(device); },
    // The test hook and any later UI ("hide video"): a tile forced hidden or shown again.
    setHidden(device, hidden) {
      const t = tiles.get(device);
      if (!t) return;
      t.el.hidden = hidden;
      t.onScreen = !hidden;
      soon();
    },
    close() { resize.disconnect(); seen.disconnect(); document.removeEventListener('visibilitychange', soon); clearTimeout(timer); },
  };
}

const VIEW_KEY = 'staffroom.stage.view';

// Grid ↔ speaker view. In speaker view the featured tile (the active speaker, else the one featured last,
// else the first) moves into a spotlight list above the grid, which becomes a filmstrip (CSS). The choice
// is kept in this browser. Also moves focus to the controls once the media connects (if it is not in the
// stage already). Returns the layout function render() calls after every change.
function speakerView(s, { layer, grid, leave, mic, session }) {
  const spotlight = h('div', { class: 'stage-spotlight', role: 'list', 'aria-label': 'Active speaker', hidden: true });
  grid.before(spotlight);
  const btn = h('button', { type: 'button', class: 'secondary view-toggle', 'aria-pressed': 'false' }, 'Speaker view');
  leave.before(btn);
  let speakerMode = localStorage.getItem(VIEW_KEY) === 'speaker';
  let featured = null;
  function layout() {
    layer.classList.toggle('speaker-view', speakerMode);
    layer.dataset.view = speakerMode ? 'speaker' : 'grid';
    btn.setAttribute('aria-pressed', String(speakerMode));
    btn.textContent = speakerMode ? 'Grid view' : 'Speaker view';
    const pick = speakerMode ? (s.tiles.get(s.speaker) || s.tiles.get(featured) || s.tiles.values().next().value) : null;
    for (const t of [...spotlight.children]) if (t !== pick) grid.prepend(t);
    if (pick && pick.parentNode !== spotlight) spotlight.append(pick);
    featured = pick?.dataset.device ?? null;
    spotlight.hidden = !pick;
    grid.classList.toggle('filmstrip', speakerMode);
    // a filmstrip wider than the window scrolls sideways: keyboard users must be able to reach and scroll it
    if (speakerMode) grid.tabIndex = 0; else grid.removeAttribute('tabindex');
  }
  btn.addEventListener('click', () => {
    speakerMode = !speakerMode;
    localStorage.setItem(VIEW_KEY, speakerMode ? 'speaker' : 'grid');
    layout();
  });
  let focused = false;
  session.addEventListener('state', () => {
    if (focused || session.state !== 'connected') return;
    focused = true;
    if (!layer.querySelector('.call-bar')?.contains(document.activeElement)) mic.focus();
  });
  return layout;
}
