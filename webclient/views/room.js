// views/room.js — drop-in rooms on a circle's page: who is inside each room (name, camera, mic), seen
// before joining and kept live from room.participants; joining opens the room view. Through the SFU
// (the server's default) that is the call stage of views/stage.js; in a mesh (room-media mesh) it is a
// video tile per participant and a Peer (rtc.js) to each — the newcomer offers to everyone inside; of two
// participants the one with the greater device id is the polite one. Leaving, a closed tab or a lost
// connection leaves.
import { h, fill, avatar } from '../dom.js';
import { Peer, rtcConfig, stopStream, videoFor } from '../rtc.js';
import { openStage } from './stage.js';
import { prejoin, showChoice } from './prejoin.js';

const nameOf = (u) => u?.display_name || u?.name || 'Someone';

function avText(p) {
  return `${p.camera ? 'camera on' : 'camera off'}, ${p.mic ? 'mic on' : 'mic off'}`;
}

// The rooms panel of a circle. Returns its cleanup.
export function mountRooms(el, ctx, { circle }) {
  const { conn } = ctx;
  let alive = true;
  let rooms = [];
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'rooms' });
  fill(el, h('h2', {}, 'Drop-in rooms'), status, list);

  function render() {
    list.replaceChildren(...rooms.map((r) => {
      const inside = r.participants;
      const joined = ctx.room?.roomId === r.id;
      const join = h('button', { type: 'button', class: 'small', disabled: joined || Boolean(ctx.room) },
        joined ? 'You are inside' : `Join ${r.name}`);
      join.addEventListener('click', () => { enterRoom(ctx, r, { onChange: render }).catch((err) => ctx.showError(err)); });
      return h('section', { class: 'room', dataset: { room: r.id }, 'aria-label': r.name },
        h('h3', {}, r.name, h('span', { class: 'muted' }, ` — ${inside.length ? `${inside.length} inside` : 'empty'}`)),
        h('ul', { class: 'room-participants', 'aria-label': `Inside ${r.name}` }, inside.map((p) =>
          h('li', { dataset: { user: p.user.id, device: p.device } },
            avatar(p.user, { size: 's' }),
            h('span', { class: 'who' }, nameOf(p.user)),
            h('span', { class: 'av muted' }, ` ${p.camera ? '🎥' : '🚫🎥'} ${p.mic ? '🎤' : '🔇'} (${avText(p)})`)))),
        h('div', { class: 'actions' }, join));
    }));
  }

  // room.list answers with a snapshot and room.participants events travel another way (Redis pub/sub), so
  // either can be older than the other when it arrives: an answer taken just before someone joined can come
  // after the event that showed them, and an event published just before the snapshot can come after it.
  // Each roster carries its revision (`rev`, PROTOCOL.md): the newest seen per room (`newest`, from events
  // and answers alike) is the one shown. Answers may also come in a different order than the requests: only
  // the latest load's answer replaces the list of rooms (`loadSeq`).
  const newest = new Map(); // room id → { rev, participants }
  let loadSeq = 0;
  function keepNewest(roomId, roster) {
    const known = newest.get(roomId);
    if (known && (known.rev ?? 0) > (roster.rev ?? 0)) return known;
    newest.set(roomId, { rev: roster.rev ?? 0, participants: roster.participants });
    return null;
  }
  async function load() {
    const mine = ++loadSeq;
    try {
      const res = await conn.request('room.list', { circle: circle.id });
      if (!alive || mine !== loadSeq) return;
      rooms = res.rooms.map((r) => {
        const known = keepNewest(r.id, r);
        return known ? { ...r, participants: known.participants, rev: known.rev } : r;
      });
      status.textContent = '';
      render();
    } catch (err) {
      if (alive && mine === loadSeq) status.textContent = `Could not load the rooms: ${ctx.describeError(err)}`;
    }
  }
  const onParticipants = (ev) => {
    if (ev.detail.circle !== circle.id) return;
    if (keepNewest(ev.detail.room, ev.detail)) return; // older than what is shown
    const r = rooms.find((x) => x.id === ev.detail.room);
    if (!r) { load(); return; }
    r.participants = ev.detail.participants;
    r.rev = ev.detail.rev;
    render();
  };
  const onCreated = (ev) => { if (ev.detail.circle === circle.id) load(); };
  conn.addEventListener('room.participants', onParticipants);
  conn.addEventListener('room.created', onCreated);
  conn.addEventListener('resumed', load);
  load();
  return () => {
    alive = false;
    conn.removeEventListener('room.participants', onParticipants);
    conn.removeEventListener('room.created', onCreated);
    conn.removeEventListener('resumed', load);
  };
}

// Joins room r and shows the room view (outside the routed view, like a call). ctx.room is the session.
// The pre-join screen (views/prejoin.js) comes first: Cancel there joins nothing.
// The server says how the room carries media: through the SFU (views/stage.js, the call stage) or a mesh.
export async function enterRoom(ctx, r, { onChange } = {}) {
  const { conn } = ctx;
  if (ctx.room) return;
  const abort = new AbortController();
  const pending = { roomId: r.id, name: r.name, leave: async () => { pending.cancelled = true; abort.abort(); } };
  ctx.room = pending;
  let stream;
  let config;
  let res;
  try {
    const configP = rtcConfig(conn);
    configP.catch(() => {});
    const choice = await prejoin(ctx, { title: r.name, action: 'Join now', group: true, signal: abort.signal });
    if (!choice) {
      if (ctx.room === pending) ctx.room = null;
      onChange?.();
      return;
    }
    stream = choice.stream;
    config = await configP;
    res = await joinKeepingNewest(conn, r.id, { room: r.id, camera: choice.camera, mic: choice.mic });
  } catch (err) {
    stopStream(stream);
    if (ctx.room === pending) ctx.room = null;
    onChange?.();
    throw err;
  }
  if (pending.cancelled || ctx.room !== pending) { // signed out while joining
    stopStream(stream);
    await conn.request('room.leave', { room: r.id }).catch(() => {});
    return;
  }
  if (res.media === 'sfu') openStage(ctx, r, res, stream, config, onChange);
  else openMesh(ctx, r, res, stream, config, onChange);
}

// A mesh room (room-media mesh): a Peer per other participant; the newcomer offers to everyone inside.
function openMesh(ctx, r, res, stream, config, onChange) {
  const { conn } = ctx;
  const s = { roomId: r.id, name: r.name, peers: new Map(), tiles: new Map(), stream, config, device: res.device };
  ctx.room = s;
  const layer = h('section', { id: 'room-layer', class: 'call-layer room-layer', role: 'region', 'aria-label': `Room ${r.name}` });
  const grid = h('div', { class: 'tiles' });
  const mic = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Mute microphone');
  const cam = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false' }, 'Turn camera off');
  const leave = h('button', { type: 'button', class: 'danger' }, 'Leave room');
  document.body.append(layer);
  fill(layer, h('h2', {}, r.name), grid, h('div', { class: 'actions' }, mic, cam, leave));
  grid.append(tile(s, 'me', ctx.user, stream, true));

  const send = (to) => (data) => conn.request('room.signal', { room: r.id, to, data }).catch((err) => console.warn('room.signal', err));
  function peerFor(device, user, initiator) {
    let p = s.peers.get(device);
    if (p) return p;
    p = new Peer({ config, polite: s.device > device, initiator, send: send(device), stream, label: device });
    s.peers.set(device, p);
    grid.append(tile(s, device, user, p.remote, false));
    p.addEventListener('state', () => { s.tiles.get(device)?.setAttribute('data-state', p.state); });
    return p;
  }
  function drop(device) {
    s.peers.get(device)?.close();
    s.peers.delete(device);
    s.tiles.get(device)?.remove();
    s.tiles.delete(device);
  }
  const onSignal = (ev) => {
    const { room, from, user, data } = ev.detail;
    if (room !== r.id) return;
    peerFor(from, ctx.users.get(user) || { id: user }, false).handle(data);
  };
  // an event older than the roster we hold (published before room.join's answer was computed, delivered
  // after it) would drop peers that are inside: keep the roster with the greatest rev, as the stage does
  s.rev = res.room.rev ?? 0;
  const onParticipants = (ev) => {
    if (ev.detail.room !== r.id || (ev.detail.rev ?? 0) < s.rev) return;
    s.rev = ev.detail.rev ?? s.rev;
    const here = new Map(ev.detail.participants.map((p) => [p.device, p]));
    for (const d of [...s.peers.keys()]) if (!here.has(d)) drop(d);
    for (const [d, p] of here) {
      ctx.users.set(p.user.id, p.user);
      const cap = s.tiles.get(d)?.querySelector('figcaption');
      if (cap) cap.textContent = `${nameOf(p.user)} (${avText(p)})`;
    }
  };
  // a private (session) room closes at its time or when the booking is cancelled: everyone is out
  const onClosed = (ev) => {
    if (ev.detail.room !== r.id) return;
    s.leave(); // the server took us out already; room.leave (not_found) still lets our node forget us (in_call)
    ctx.announce?.(`${r.name} has closed.`);
  };
  conn.addEventListener('room.signal', onSignal);
  conn.addEventListener('room.participants', onParticipants);
  conn.addEventListener('room.closed', onClosed);
  // removed from the circle by a moderator: the server took this device out of the room
  const onRemoved = (ev) => {
    if (ev.detail.room !== r.id || (ev.detail.device && ev.detail.device !== s.device)) return;
    s.leave(false);
    ctx.announce?.(`You are no longer in ${r.name}.`);
  };
  conn.addEventListener('room.removed', onRemoved);

  s.leave = async (tellServer = true) => {
    conn.removeEventListener('room.signal', onSignal);
    conn.removeEventListener('room.participants', onParticipants);
    conn.removeEventListener('room.closed', onClosed);
    conn.removeEventListener('room.removed', onRemoved);
    for (const d of [...s.peers.keys()]) drop(d);
    stopStream(stream);
    layer.remove();
    ctx.room = null;
    onChange?.();
    if (tellServer) await conn.request('room.leave', { room: r.id }).catch(() => {});
  };
  const update = () => conn.request('room.update', { room: r.id,
    camera: cam.getAttribute('aria-pressed') !== 'true', mic: mic.getAttribute('aria-pressed') !== 'true' }).catch((e) => ctx.showError(e));
  mic.addEventListener('click', () => { toggle(stream.getAudioTracks(), mic, 'Unmute microphone', 'Mute microphone'); update(); });
  cam.addEventListener('click', () => { toggle(stream.getVideoTracks(), cam, 'Turn camera on', 'Turn camera off'); update(); });
  leave.addEventListener('click', () => s.leave());
  showChoice(stream, mic, cam);

  for (const p of res.room.participants) if (p.device !== s.device) peerFor(p.device, p.user, true);
  onChange?.();
}

function tile(s, key, user, stream, local) {
  const f = h('figure', { class: 'tile', dataset: { device: key } },
    videoFor(stream, { local, label: local ? 'Your camera' : `Video of ${nameOf(user)}` }),
    h('figcaption', {}, local ? 'You' : nameOf(user)));
  s.tiles.set(key, f);
  return f;
}

function toggle(tracks, btn, onText, offText) {
  const off = btn.getAttribute('aria-pressed') !== 'true';
  for (const t of tracks) t.enabled = !off;
  btn.setAttribute('aria-pressed', String(off));
  btn.textContent = off ? onText : offText;
}

// room.join, with the newest roster: the answer and the room.participants events of others joining at the
// same moment travel different ways (the answer on our request, the events through Redis pub/sub) and can
// arrive in either order; an event that came first and is newer (its rev) replaces the answer's list.
async function joinKeepingNewest(conn, roomId, params) {
  let newest = null;
  const seen = (ev) => {
    if (ev.detail.room === roomId && (!newest || (ev.detail.rev ?? 0) >= (newest.rev ?? 0))) newest = ev.detail;
  };
  conn.addEventListener('room.participants', seen);
  try {
    const res = await conn.request('room.join', params);
    if (newest && res.room && (newest.rev ?? 0) > (res.room.rev ?? 0)) {
      res.room = { ...res.room, participants: newest.participants, rev: newest.rev };
    }
    return res;
  } finally {
    conn.removeEventListener('room.participants', seen);
  }
}
