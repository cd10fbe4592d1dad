// rtc.js — WebRTC for calls and drop-in rooms: ICE servers from turn.credentials (relay-only when forced),
// the local camera and microphone, and Peer: one RTCPeerConnection with "perfect negotiation"
// (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example): either side may offer; on colliding
// offers the impolite side ignores the other's offer and the polite side rolls back. A connection that
// fails restarts ICE (a new offer with fresh ICE credentials).
//
// Signals (`data` of call.signal / room.signal) are {description} or {candidate}; they are applied in
// the order they arrive. Must not: know about the DOM beyond media streams.

// ?relay=1 in the URL or localStorage['staffroom.relay'] === '1' forces relay-only ICE (TURN).
export function relayForced() {
  const q = new URLSearchParams(location.search);
  if (q.get('relay') === '1') localStorage.setItem('staffroom.relay', '1');
  return localStorage.getItem('staffroom.relay') === '1';
}

// The profile page's setting: relay-only from now on in this browser (true) or direct when possible.
export function setRelayForced(on) {
  localStorage.setItem('staffroom.relay', on ? '1' : '0');
}

export async function rtcConfig(conn) {
  const res = await conn.request('turn.credentials', {});
  return { iceServers: res.ice_servers, iceTransportPolicy: relayForced() ? 'relay' : 'all', bundlePolicy: 'max-bundle' };
}

// A 1:1 call sends 640×360 at up to 30 fps; a group room (opts.group), where each tile is a fraction of the
// screen and every participant's upload is forwarded to everyone, sends 480×270 at up to 20 fps (until
// simulcast lets each receiver pick its size).
// The camera, microphone and speaker chosen in the pre-join screen (views/prejoin.js), kept in this browser; asked for
// as `ideal`, so a device that has gone falls back to the default instead of failing.
const DEVICES_KEY = 'staffroom.devices';
export function preferredDevices() {
  try { return JSON.parse(localStorage.getItem(DEVICES_KEY)) || {}; } catch { return {}; }
}
export function setPreferredDevice(kind, deviceId) {
  localStorage.setItem(DEVICES_KEY, JSON.stringify({ ...preferredDevices(), [kind]: deviceId }));
}

export function localMedia(opts = {}) {
  const video = opts.group ? { width: 480, height: 270, frameRate: { max: 20 } } : { width: 640, height: 360 };
  const pref = preferredDevices();
  if (pref.video) video.deviceId = { ideal: pref.video };
  const audio = pref.audio ? { deviceId: { ideal: pref.audio } } : true;
  return navigator.mediaDevices.getUserMedia({ audio, video });
}

// The cameras, microphones and speakers the browser offers: { video: [{deviceId, label}], audio: [...], output: [...] }.
// Labels are only given once the page has media permission (it has, during a call).
export async function listDevices() {
  const all = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind) => all.filter((d) => d.kind === kind)
    .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${{ videoinput: 'Camera', audioinput: 'Microphone' }[kind] || 'Speaker'} ${i + 1}` }));
  return { video: pick('videoinput'), audio: pick('audioinput'), output: pick('audiooutput') };
}

// Switches `stream`'s track of `kind` ('video' or 'audio') to the device `deviceId`, in place, and in
// every given Peer's sender, without renegotiation (RTCRtpSender.replaceTrack). A muted microphone or a
// camera turned off stays so on the new device.
export async function switchDevice(stream, kind, deviceId, peerList) {
  const fresh = await navigator.mediaDevices.getUserMedia(
    kind === 'video' ? { video: { deviceId: { exact: deviceId }, width: 640, height: 360 } } : { audio: { deviceId: { exact: deviceId } } });
  const track = fresh.getTracks()[0];
  const old = kind === 'video' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
  if (old) {
    track.enabled = old.enabled;
    stream.removeTrack(old);
    old.stop();
  }
  stream.addTrack(track);
  await Promise.all([...peerList].map((p) => p.replaceTrack(kind, track)));
  return track;
}

// Every live Peer of this page (tests read their stats; also used to stop all on sign-out).
export const peers = new Set();
window.staffroomPeers = peers;

export class Peer extends EventTarget {
  // config: RTCConfiguration; polite: bool; initiator: offers first (the other side waits for the offer);
  // send(data): delivers a signal to the other side; stream: local MediaStream.
  constructor({ config, polite, initiator, send, stream, label }) {
    super();
    this.label = label;
    this.polite = polite;
    this.send = send;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.heardFrom = initiator; // a non-initiator does not offer before the first remote description
    this.restarts = 0;
    this.queue = Promise.resolve();
    this.remote = new MediaStream();
    this.firstFrameAt = 0;
    const pc = this.pc = new RTCPeerConnection(config);
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    pc.ontrack = ({ track }) => {
      this.remote.addTrack(track);
      this.emit('track');
    };
    pc.onicecandidate = ({ candidate }) => { if (candidate) this.send({ candidate: candidate.toJSON() }); };
    pc.onnegotiationneeded = () => this.offer();
    // After an ICE restart the connection state may never change: stable signalling means it is done.
    pc.onsignalingstatechange = () => { if (pc.signalingState === 'stable') this.emit('state'); };
    pc.onconnectionstatechange = () => {
      this.emit('state');
      if (pc.connectionState === 'failed') this.restartIce();
    };
    peers.add(this);
  }

  get state() { return this.pc.connectionState; }

  // Sends `track` instead of the current track of its kind (device change); no renegotiation needed.
  async replaceTrack(kind, track) {
    const sender = this.pc.getSenders().find((s) => s.track?.kind === kind);
    if (sender) await sender.replaceTrack(track);
  }

  emit(type) { this.dispatchEvent(new Event(type)); }

  async offer() {
    if (!this.heardFrom || this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.send({ description: this.pc.localDescription.toJSON() });
    } catch (err) {
      console.warn('offer failed', err);
    } finally {
      this.makingOffer = false;
    }
  }

  restartIce() {
    if (this.closed) return;
    this.restarts++;
    this.heardFrom = true;
    this.emit('restart');
    this.pc.restartIce(); // fires negotiationneeded → offer with new ICE credentials
  }

  // Applies one signal from the other side, after the ones before it.
  handle(data) {
    this.queue = this.queue.then(() => this.apply(data)).catch((err) => console.warn('signal failed', err));
    return this.queue;
  }

  async apply({ description, candidate }) {
    if (this.closed) return;
    const pc = this.pc;
    if (description) {
      this.heardFrom = true;
      const collision = description.type === 'offer' && (this.makingOffer || pc.signalingState !== 'stable');
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (description.type === 'offer') {
        await pc.setLocalDescription();
        this.send({ description: pc.localDescription.toJSON() });
      }
    } else if (candidate) {
      try {
        await pc.addIceCandidate(candidate);
      } catch (err) {
        if (!this.ignoreOffer) throw err;
      }
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    peers.delete(this);
    this.pc.close();
  }
}

// Stops every track of a stream (camera light off).
export function stopStream(stream) {
  if (stream) for (const t of stream.getTracks()) t.stop();
}

// A <video> for a stream; local ones are muted (no echo) and mirrored by CSS.
export function videoFor(stream, { local = false, label = '' } = {}) {
  const v = document.createElement('video');
  v.autoplay = true;
  v.playsInline = true;
  v.muted = local;
  v.srcObject = stream;
  v.setAttribute('aria-label', label);
  if (local) v.classList.add('local');
  // the speaker picked in the pre-join screen (views/prejoin.js), where the browser can route audio
  const speaker = !local && preferredDevices().speaker;
  if (speaker && v.setSinkId) v.setSinkId(speaker).catch(() => {});
  return v;
}
