// sfu_peer.mjs — drives tests/tools/sfu_peer (K WebRTC participants in one C process) and carries its SDP
// and candidates to staffroom-sfu, either through a real staffroom-signal WebSocket (bridgeSignal: the
// client protocol of PROTOCOL.md, "Media through the SFU") or through the SFU's Redis control channel as a
// signal node would (bridgeRedis: ARCHITECTURE.md, "Group media").
//
//   const peer = await startPeer(h, { label: 'alice', args: ['--publish', 'ivf=clip.ivf'] });
//   const st = bridgeSignal(peer, 0, client, room);     // client: a tests/lib/client.mjs Client in the room
//   await peer.next((m) => m.op === 'up' && m.k === 0);
//   peer.start(); const r = await peer.report();
//
// Messages from the process ({op, k, …}): offer/answer {sdp}, cand {mid, candidate}, up {profile},
// fail {reason}, done {frames}, report {…figures}.
import path from 'node:path';
import net from 'node:net';
import readline from 'node:readline';
import { BUILD } from '../lib/harness.mjs';

export const peerBin = (build = BUILD) => path.join(build, 'tests/tools/sfu_peer');

class PeerProc {
  constructor(rec) {
    this.rec = rec;
    this.messages = [];
    this.taken = new Set();
    this.waiters = [];
    this.listeners = [];
    readline.createInterface({ input: rec.proc.stdout }).on('line', (l) => this._line(l));
  }

  _line(line) {
    const [op, k, ...rest] = line.split(' ');
    const m = { op, k: Number(k) };
    if (op === 'offer' || op === 'answer') m.sdp = Buffer.from(rest[0] || '', 'base64').toString();
    else if (op === 'cand') { m.mid = rest[0]; m.candidate = rest.slice(1).join(' ').trim(); }
    else if (op === 'up') m.profile = rest[0];
    else if (op === 'fail') m.reason = rest.join(' ');
    else if (op === 'done') m.frames = Number(rest[0]);
    else if (op === 'report') { delete m.k; Object.assign(m, JSON.parse(line.slice(7))); }
    else return;
    this.messages.push(m);
    for (const f of this.listeners) f(m);
    this._serve();
  }

  _serve() {
    for (const w of [...this.waiters]) {
      const i = this.messages.findIndex((m, j) => !this.taken.has(j) && w.pred(m));
      if (i >= 0) { this.taken.add(i); this.waiters.splice(this.waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(this.messages[i]); }
    }
  }

  on(fn) { this.listeners.push(fn); for (const m of this.messages) fn(m); }

  // The first message matching pred (already received or to come) that no earlier next() took.
  next(pred = () => true, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.rec.label}: no matching message in ${timeoutMs} ms; got ${this.messages.map((m) => `${m.op}${m.k ?? ''}${m.reason ? `(${m.reason})` : ''}`).join(' ')}\n${this.rec.output.slice(-1500)}`));
      }, timeoutMs);
      this.waiters.push(w);
      this._serve();
    });
  }

  send(line) { if (!this.rec.exited) this.rec.proc.stdin.write(`${line}\n`); }
  answer(k, sdp) { this.send(`answer ${k} ${Buffer.from(sdp).toString('base64')}`); }
  offer(k, sdp) { this.send(`offer ${k} ${Buffer.from(sdp).toString('base64')}`); }
  candidate(k, mid, candidate) { this.send(`cand ${k} ${mid || '0'} ${candidate || ''}`); }
  start() { this.send('start'); }
  mark() { this.send('mark'); }
  async report(timeoutMs = 10000) { this.send('report'); return this.next((m) => m.op === 'report', timeoutMs); }
  get pid() { return this.rec.proc.pid; }
}

// opts: label, args (sfu_peer flags), file (the binary), env
export async function startPeer(h, { label = 'sfu-peer', args = [], file = peerBin(), env } = {}) {
  const rec = await h.start(label, file, args, { env });
  return new PeerProc(rec);
}

// Participant k of `peer` speaks through `client` (signed in, already in `room` by room.join). Every
// reply that is not ok and every room.media.reset is kept in the returned state's errors/resets.
// Writes towards the process go through one chain, so an SFU offer that overtakes the answer to our own
// offer on the WebSocket is applied after it.
export function bridgeSignal(peer, k, client, room, tracks = { 0: 'mic', 1: 'camera' }) {
  const st = { k, room, errors: [], resets: [], offers: 0, answered: 0, chain: Promise.resolve() };
  const later = (fn) => { st.chain = st.chain.then(fn).catch((e) => st.errors.push({ code: 'local', message: String(e) })); };
  peer.on((m) => {
    if (m.k !== k) return;
    if (m.op === 'offer') {
      const r = client.request('room.media.offer', { room, sdp: m.sdp, tracks });
      later(async () => { const a = await r; if (a.type === 'ok') peer.answer(k, a.sdp); else st.errors.push(a); });
    } else if (m.op === 'answer') {
      const r = client.request('room.media.answer', { room, sdp: m.sdp });
      later(async () => { const a = await r; if (a.type === 'ok') st.answered++; else st.errors.push(a); });
    } else if (m.op === 'cand') {
      const r = client.request('room.media.candidate', { room, mid: m.mid, candidate: m.candidate });
      later(async () => { const a = await r; if (a.type !== 'ok') st.errors.push(a); });
    }
  });
  client.ws.on('message', (data) => {
    let e;
    try { e = JSON.parse(data.toString()); } catch { return; }
    if (e.room !== room) return;
    if (e.type === 'room.media.offer') { st.offers++; st.lastOffer = e; later(() => peer.offer(k, e.sdp)); }
    else if (e.type === 'room.media.candidate') later(() => peer.candidate(k, e.mid, e.candidate));
    else if (e.type === 'room.media.reset') st.resets.push(e);
  });
  return st;
}

// ---- the Redis control channel, as a signal node speaks it -----------------------------------------------

// One RESP connection: commands in order (PUBLISH order is the order the SFU sees), or SUBSCRIBE pushes.
class Resp {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    this.onPush = null;
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._drain(); });
    this.sock.on('error', () => {});
    this.ready = new Promise((resolve, reject) => { this.sock.once('connect', resolve); this.sock.once('error', reject); });
  }

  _drain() {
    for (;;) {
      const r = parseResp(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r.end);
      if (Array.isArray(r.value) && r.value[0] === 'message' && this.onPush) this.onPush(r.value[1], r.value[2]);
      else if (this.waiting.length) this.waiting.shift()(r.value);
    }
  }

  cmd(...args) {
    const enc = (a) => { const b = Buffer.from(String(a)); return `$${b.length}\r\n${b}\r\n`; };
    this.sock.write(`*${args.length}\r\n${args.map(enc).join('')}`);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close() { this.sock.destroy(); }
}

function parseResp(buf, i) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const t = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, eol);
  if (t === '+' || t === '-') return { value: t === '-' ? new Error(line) : line, end: eol + 2 };
  if (t === ':') return { value: Number(line), end: eol + 2 };
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 4 + n) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 4 + n };
  }
  const n = Number(line);
  const arr = [];
  let at = eol + 2;
  for (let k = 0; k < n; k++) {
    const r = parseResp(buf, at);
    if (!r) return null;
    arr.push(r.value);
    at = r.end;
  }
  return { value: arr, end: at };
}

// Every participant of `peer` joins `room` on SFU `sfuId` as pid `${node}-${k}`; the SFU's replies and
// events come back on sfu:to:<node>. Resolves with { states[k] (errors, gone, offers), close() }.
export async function bridgeRedis(peer, { redisPort, sfuId, node, room, count, tracks = { 0: 'mic', 1: 'camera' } }) {
  const pub = new Resp(redisPort);
  const sub = new Resp(redisPort);
  await Promise.all([pub.ready, sub.ready]);
  const states = [];
  for (let k = 0; k < count; k++) states.push({ k, pid: `${node}-${k}`, errors: [], gone: null, offers: 0, tx: 0 });
  const byPid = new Map(states.map((s) => [s.pid, s]));
  const command = (msg) => pub.cmd('PUBLISH', `sfu:cmd:${sfuId}`, JSON.stringify(msg));
  sub.onPush = (_ch, text) => {
    const m = JSON.parse(text);
    const s = byPid.get(m.pid);
    if (!s) return;
    if (m.op === 'answer') peer.answer(s.k, m.sdp);
    else if (m.op === 'offer') { s.offers++; peer.offer(s.k, m.sdp); }
    else if (m.op === 'candidate') peer.candidate(s.k, m.mid, m.candidate);
    else if (m.op === 'gone') s.gone = m;
    else if (m.op === 'error') s.errors.push(m);
  };
  await sub.cmd('SUBSCRIBE', `sfu:to:${node}`);
  peer.on((m) => {
    const s = states[m.k];
    if (!s) return;
    const base = { room, pid: s.pid };
    if (m.op === 'offer') command({ op: 'offer', tx: `o${++s.tx}`, ...base, user: `u${m.k}`, node, sdp: m.sdp, tracks });
    else if (m.op === 'answer') command({ op: 'answer', tx: `a${++s.tx}`, ...base, sdp: m.sdp });
    else if (m.op === 'cand') command({ op: 'candidate', ...base, mid: m.mid, candidate: m.candidate });
  });
  return {
    states,
    leaveAll: async () => { for (const s of states) await command({ op: 'leave', room, pid: s.pid }); },
    close: () => { pub.close(); sub.close(); },
  };
}
