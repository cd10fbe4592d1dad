// sfu.js — a room participant's one RTCPeerConnection to the room's SFU (PROTOCOL.md, "Media through the
// SFU"). We send our camera, microphone and (when shared) screen on sendonly m-lines, each named in
// room.media.offer's `tracks`; the SFU adds receiving m-lines for everyone else's tracks in offers of its
// own (event room.media.offer, whose `tracks` say whose each m-line is), which we answer.
//
// Negotiation runs one step at a time (a promise chain): our offer, the SFU's offer, candidates. We are the
// polite side: when the SFU answers `glare` (it has an offer of its own outstanding), our offer is rolled
// back, the SFU's offer is answered first, then we offer again. room.media.reset (the SFU died or dropped
// us) and a failed connection start over on a new RTCPeerConnection.
//
// Events: 'media' (remote media changed: read .remote), 'state' (.state: connecting, connected, failed,
// reconnecting, closed), 'error' (.lastError: a ProtocolError we cannot retry).
// Must not: touch the DOM (views/stage.js shows what this holds).

const RETRY_MS = [500, 1000, 2000, 3000, 5000]; // `unavailable` offers are tried again after these
// Camera simulcast: a quarter, a half and the full capture. The lowest layer is what a weak link gets for
// every camera it receives, so it is kept cheap: a room's 480×270 capture makes it 120×67 at up to 20 fps,
// which 50 kbit/s carries well (Chromium left alone spends ~65 kbit/s on it, and then three cameras and
// their audio no longer fit in a 300 kbit/s downlink).
export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 50000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 300000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 900000 },
];

export class SfuSession extends EventTarget {
  // conn: the Connection (protocol.js); room: room id; config: RTCConfiguration; stream: local camera+mic.
  constructor({ conn, room, config, stream }) {
    super();
    this.conn = conn;
    this.room = room;
    this.config = { ...config, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
    this.stream = stream;
    this.screen = null;          // our screen track while sharing
    this.kinds = new Map();      // our transceiver → 'camera' | 'mic' | 'screen'
    this.tracks = {};            // the SFU's last offer: mid → {device, user, kind}
    this.streams = new Map();    // `${device}|main` / `${device}|screen` → MediaStream (stable per device)
    this.remote = new Map();     // device → {user, main: MediaStream|null, screen: MediaStream|null}
    this.chain = Promise.resolve();
    this.gen = 0;                // bumped by every restart: work of an older connection is dropped
    this.wantOffer = false;
    this.retries = 0;
    this.state = 'connecting';
    this.firstAnswerAt = 0;
    this.resets = 0;
    this.onEvent = {
      'room.media.offer': (ev) => { if (ev.detail.room === room) this.enqueue(() => this.applyOffer(ev.detail)); },
      'room.media.candidate': (ev) => { if (ev.detail.room === room) this.enqueue(() => this.addCandidate(ev.detail)); },
      'room.media.reset': (ev) => { if (ev.detail.room === room) this.restart(ev.detail.reason); },
      'room.media.layers': (ev) => { if (ev.detail.room === room) this.enqueue(() => this.pauseLayers(ev.detail)); },
    };
    for (const [type, fn] of Object.entries(this.onEvent)) conn.addEventListener(type, fn);
    this.open();
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new Event('state'));
  }

  enqueue(fn) {
    this.chain = this.chain.then(fn).catch((err) => console.warn('sfu negotiation', err));
    return this.chain;
  }

  // A new RTCPeerConnection with our tracks on sendonly m-lines, then our offer.
  open() {
    const gen = ++this.gen;
    const pc = this.pc = new RTCPeerConnection(this.config);
    this.kinds = new Map();
    for (const t of this.stream.getTracks()) this.addSending(t, t.kind === 'audio' ? 'mic' : 'camera');
    if (this.screen) this.addSending(this.screen, 'screen');
    pc.onicecandidate = ({ candidate }) => {
      if (gen !== this.gen) return;
      const mid = candidate ? candidate.sdpMid : (pc.getTransceivers()[0]?.mid ?? '0');
      this.conn.request('room.media.candidate', { room: this.room, mid: mid ?? '0', candidate: candidate ? candidate.candidate : '' })
        .catch((err) => console.warn('room.media.candidate', err.code || err));
    };
    pc.ontrack = () => this.refresh();
    pc.onconnectionstatechange = () => {
      if (gen !== this.gen) return;
      if (pc.connectionState === 'connected') { this.setState('connected'); this.retries = 0; }
      if (pc.connectionState === 'failed') this.restart('ice_failed');
    };
    this.offer();
  }

  addSending(track, kind) {
    // The camera goes out as three simulcast layers (1/4, 1/2 and full resolution, lowest first: the SFU
    // picks one per subscriber from its bandwidth and tile size); the screen share stays one sharp stream.
    const sendEncodings = kind === 'camera' ? SIMULCAST : undefined;
    const tr = this.pc.addTransceiver(track, { direction: 'sendonly', streams: [this.stream], sendEncodings });
    this.kinds.set(tr, kind);
    return tr;
  }

  // The SFU says which simulcast layers of our camera nobody receives (room.media.layers): those
  // encodings go inactive (the encoder stops producing them) until a later event names them no more.
  async pauseLayers({ label, paused }) {
    const tr = [...this.kinds].find(([t, kind]) => kind === label && t.sender.track)?.[0];
    if (!tr || !Array.isArray(paused)) return;
    const params = tr.sender.getParameters();
    if (!params.encodings || params.encodings.length < 2) return;
    let changed = false;
    for (const e of params.encodings) {
      const active = !paused.includes(e.rid);
      if (e.active !== active) { e.active = active; changed = true; }
    }
    if (changed) await tr.sender.setParameters(params).catch(() => {});
  }

  offer() {
    this.wantOffer = true;
    return this.enqueue(() => this.sendOffer());
  }

  async sendOffer() {
    const pc = this.pc;
    const gen = this.gen;
    if (this.closed || !this.wantOffer || pc.signalingState !== 'stable') return; // after the SFU's offer
    this.wantOffer = false;
    await pc.setLocalDescription(await pc.createOffer());
    const tracks = {};
    for (const [tr, kind] of this.kinds) if (tr.mid !== null && !tr.stopped && tr.sender.track) tracks[tr.mid] = kind;
    let res;
    try {
      res = await this.conn.request('room.media.offer', { room: this.room, sdp: pc.localDescription.sdp, tracks });
    } catch (err) {
      if (gen !== this.gen) return;
      if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
      this.offerFailed(err);
      return;
    }
    if (gen !== this.gen || pc.signalingState !== 'have-local-offer') return;
    await pc.setRemoteDescription({ type: 'answer', sdp: res.sdp });
    if (!this.firstAnswerAt) this.firstAnswerAt = performance.now();
    this.refresh();
  }

  // Our offer was refused: glare → the SFU's offer comes first, then ours again; unavailable → later.
  offerFailed(err) {
    if (err.code === 'glare') {
      this.wantOffer = true; // sent again once the SFU's offer is answered (applyOffer)
      setTimeout(() => { if (this.wantOffer && !this.closed) this.enqueue(() => this.sendOffer()); }, 1000);
      return;
    }
    if ((err.code === 'unavailable' || err.code === 'timeout' || err.code === 'rate_limited') && this.retries < RETRY_MS.length) {
      // On a new peer connection: the SFU may have half-admitted the old one (the server told it to
      // drop that), and a fresh ICE/DTLS session is what a fresh admission expects.
      const gen = this.gen;
      this.setState('reconnecting');
      setTimeout(() => { if (gen === this.gen && !this.closed) this.restart('retry'); }, RETRY_MS[this.retries++]);
      return;
    }
    this.lastError = err;
    this.setState('failed');
    this.dispatchEvent(new Event('error'));
  }

  // The SFU's offer: whose tracks are coming, then our answer (and our own offer if one is waiting).
  async applyOffer({ sdp, tracks }) {
    const pc = this.pc;
    const gen = this.gen;
    if (this.closed) return;
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' });
    this.tracks = tracks || {};
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    this.refresh();
    try {
      await this.conn.request('room.media.answer', { room: this.room, sdp: pc.localDescription.sdp });
    } catch (err) {
      console.warn('room.media.answer', err.code || err, err.message);
    }
    if (gen === this.gen && this.wantOffer) await this.sendOffer();
  }

  async addCandidate({ mid, candidate }) {
    if (this.closed || !this.pc.remoteDescription) return;
    try {
      await this.pc.addIceCandidate(candidate ? { candidate, sdpMid: mid } : null);
    } catch (err) {
      console.warn('SFU candidate', err);
    }
  }

  // Rebuilds .remote from the receiving transceivers and the SFU's track map; emits 'media'.
  refresh() {
    const seen = new Set();
    const remote = new Map();
    for (const tr of this.pc.getTransceivers()) {
      const info = this.tracks[tr.mid];
      if (!info || tr.stopped || this.kinds.has(tr) || tr.currentDirection === 'inactive') continue;
      const part = info.kind === 'screen' ? 'screen' : 'main';
      const key = `${info.device}|${part}`;
      let s = this.streams.get(key);
      if (!s) this.streams.set(key, s = new MediaStream());
      const track = tr.receiver.track;
      if (!s.getTracks().includes(track)) {
        for (const old of s.getTracks()) if (old.kind === track.kind) s.removeTrack(old);
        s.addTrack(track);
      }
      seen.add(key);
      const r = remote.get(info.device) || { user: info.user, main: null, screen: null };
      r[part] = s;
      remote.set(info.device, r);
    }
    for (const [key, s] of this.streams) {
      if (seen.has(key)) continue;
      for (const t of s.getTracks()) s.removeTrack(t);
      this.streams.delete(key);
    }
    this.remote = remote;
    this.dispatchEvent(new Event('media'));
  }

  // Starts over on a new peer connection (room.media.reset, failed ICE): still in the room, a fresh offer.
  restart(reason) {
    if (this.closed) return;
    if (reason !== 'retry') { // a retry keeps counting towards its limit
      this.resets++;
      this.lastReset = reason;
      this.retries = 0;
    }
    this.setState('reconnecting');
    this.pc.close();
    this.tracks = {};
    this.chain = Promise.resolve(); // work queued for the old connection is dropped by its generation check
    this.open();
    this.refresh();
  }

  async shareScreen(track) {
    this.screen = track;
    this.addSending(track, 'screen');
    track.addEventListener('ended', () => this.stopScreen());
    await this.offer();
  }

  async stopScreen() {
    if (!this.screen) return;
    const track = this.screen;
    this.screen = null;
    track.stop();
    for (const [tr, kind] of this.kinds) {
      if (kind !== 'screen') continue;
      this.kinds.delete(tr);
      if (!tr.stopped) tr.stop();
    }
    await this.offer();
  }

  // Replaces our track of a kind ('audio' | 'video') without renegotiation (device switch).
  async replaceTrack(kind, track) {
    for (const [tr, k] of this.kinds) if ((k === 'mic') === (kind === 'audio') && k !== 'screen') await tr.sender.replaceTrack(track);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.gen++;
    for (const [type, fn] of Object.entries(this.onEvent)) this.conn.removeEventListener(type, fn);
    if (this.screen) this.screen.stop();
    this.pc.close();
    this.setState('closed');
  }
}
