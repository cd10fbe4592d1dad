// turnclient.mjs — a small STUN/TURN client for integration tests (RFC 8489 STUN, RFC 8656 TURN).
//
// It owns: encoding and parsing STUN messages and ChannelData, the long-term credential mechanism
// (realm, nonce, MD5 key, MESSAGE-INTEGRITY, FINGERPRINT), coturn-style REST credentials, and one
// client connection over UDP or TCP with request/response matching and retransmission (UDP).
// It must not hide protocol errors: an error response is returned as data ({ cls: 'error', error }),
// never thrown, so tests can assert on codes. Only timeouts and socket errors throw.
//
//   const cred = restCredentials(secret, 'alice', 3600);
//   const c = new TurnClient({ port, transport: 'udp', ...cred });
//   await c.connect();
//   const r = await c.allocate();                       // r.relayed = { family, address, port }
//   await c.createPermission([{ address: '127.0.0.1', port: 9 }]);
//   await c.channelBind(0x4000, { address: '127.0.0.1', port: peerPort });
//   c.sendChannelData(0x4000, Buffer.from('hi'));
//   const { channel, data } = await c.nextChannelData();
//   c.close();
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';

export const MAGIC = 0x2112a442;

export const METHOD = {
  BINDING: 0x001, ALLOCATE: 0x003, REFRESH: 0x004, SEND: 0x006, DATA: 0x007,
  CREATE_PERMISSION: 0x008, CHANNEL_BIND: 0x009,
};
const METHOD_NAME = Object.fromEntries(Object.entries(METHOD).map(([k, v]) => [v, k]));

export const CLASS = { request: 0, indication: 1, success: 2, error: 3 };
const CLASS_NAME = ['request', 'indication', 'success', 'error'];

export const ATTR = {
  MAPPED_ADDRESS: 0x0001, USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a, CHANNEL_NUMBER: 0x000c, LIFETIME: 0x000d, XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016,
  REQUESTED_ADDRESS_FAMILY: 0x0017, EVEN_PORT: 0x0018, REQUESTED_TRANSPORT: 0x0019,
  DONT_FRAGMENT: 0x001a, XOR_MAPPED_ADDRESS: 0x0020, RESERVATION_TOKEN: 0x0022,
  SOFTWARE: 0x8022, FINGERPRINT: 0x8028,
};

// ---------------------------------------------------------------------------------------------
// Credentials

// coturn's use-auth-secret ("TURN REST API") form: username "<expiry>:<user>", password
// base64(HMAC-SHA1(secret, username)). ttlSec may be negative to mint an already expired name.
export function restCredentials(secret, user, ttlSec = 3600, nowSec = Math.floor(Date.now() / 1000)) {
  const username = `${nowSec + ttlSec}:${user}`;
  const password = crypto.createHmac('sha1', secret).update(username).digest('base64');
  return { username, password };
}

// RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password) (no SASLprep: our names are ASCII).
export function longTermKey(username, realm, password) {
  return crypto.createHash('md5').update(`${username}:${realm}:${password}`).digest();
}

// ---------------------------------------------------------------------------------------------
// Codec

// RFC 8489 §5: the method's 12 bits are interleaved with the two class bits C0 (bit 4), C1 (bit 8).
export function messageType(method, cls) {
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2)
    | ((cls & 1) << 4) | ((cls & 2) << 7);
}
function splitType(t) {
  const method = (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80);
  const cls = ((t >> 4) & 1) | ((t >> 7) & 2);
  return { method, cls };
}

export function newTid() { return crypto.randomBytes(12); }

const pad4 = (n) => (n + 3) & ~3;

// XOR-ed address (RFC 8489 §14.2). addr = { address, port }; family from the literal.
export function encodeXorAddress({ address, port }, tid) {
  const v6 = net.isIPv6(address);
  const b = Buffer.alloc(v6 ? 20 : 8);
  b[1] = v6 ? 2 : 1;
  b.writeUInt16BE((port ^ (MAGIC >>> 16)) & 0xffff, 2);
  const raw = ipToBytes(address);
  const mask = Buffer.concat([u32(MAGIC), tid]);
  for (let i = 0; i < raw.length; i++) b[4 + i] = raw[i] ^ mask[i];
  return b;
}
export function decodeXorAddress(v, tid) {
  if (v.length < 8) return null;
  const fam = v[1];
  const port = v.readUInt16BE(2) ^ (MAGIC >>> 16);
  const len = fam === 1 ? 4 : fam === 2 ? 16 : 0;
  if (!len || v.length < 4 + len) return null;
  const mask = Buffer.concat([u32(MAGIC), tid]);
  const raw = Buffer.alloc(len);
  for (let i = 0; i < len; i++) raw[i] = v[4 + i] ^ mask[i];
  return { family: fam === 1 ? 'IPv4' : 'IPv6', address: bytesToIp(raw), port };
}
export function decodeAddress(v) {
  if (v.length < 8) return null;
  const fam = v[1];
  const len = fam === 1 ? 4 : fam === 2 ? 16 : 0;
  if (!len || v.length < 4 + len) return null;
  return { family: fam === 1 ? 'IPv4' : 'IPv6', address: bytesToIp(v.subarray(4, 4 + len)), port: v.readUInt16BE(2) };
}

function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; }

export function ipToBytes(ip) {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new Error(`not an IP literal: ${ip}`);
  let s = ip;
  let tail = [];
  const m = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/); // embedded IPv4 (::ffff:1.2.3.4)
  if (m) {
    const v4 = m[2].split('.').map(Number);
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    s = m[1].endsWith('::') ? m[1] : m[1].slice(0, -1);
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, null];
  const h = head ? head.split(':').map((x) => parseInt(x, 16)) : [];
  const r = rest ? rest.split(':').map((x) => parseInt(x, 16)) : [];
  const words = rest === null ? [...h, ...tail]
    : [...h, ...new Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail];
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}
export function bytesToIp(b) {
  if (b.length === 4) return [...b].join('.');
  const w = [];
  for (let i = 0; i < 16; i += 2) w.push(b.readUInt16BE(i).toString(16));
  return w.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

// attrs: array of { type, value: Buffer } (or [type, value]). opts.key adds MESSAGE-INTEGRITY,
// opts.fingerprint adds FINGERPRINT (both computed per RFC 8489 §14.5/§14.7).
export function encodeMessage({ method, cls = CLASS.request, tid = newTid(), attrs = [] }, { key, fingerprint = true } = {}) {
  const parts = [];
  for (const a of attrs) {
    // An attribute given as { type, peer } is an XOR-ed address whose value depends on this tid.
    const [type, value] = Array.isArray(a) ? a : [a.type, a.peer ? encodeXorAddress(a.peer, tid) : a.value];
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type, 0);
    h.writeUInt16BE(value.length, 2);
    parts.push(h, value, Buffer.alloc(pad4(value.length) - value.length));
  }
  let body = Buffer.concat(parts);
  const header = (extra) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(messageType(method, cls), 0);
    h.writeUInt16BE(body.length + extra, 2);
    h.writeUInt32BE(MAGIC, 4);
    tid.copy(h, 8);
    return h;
  };
  if (key) {
    const mac = crypto.createHmac('sha1', key).update(Buffer.concat([header(24), body])).digest();
    const h = Buffer.from([0, ATTR.MESSAGE_INTEGRITY, 0, 20]);
    body = Buffer.concat([body, h, mac]);
  }
  if (fingerprint) {
    const crc = (zlib.crc32(Buffer.concat([header(8), body])) ^ 0x5354554e) >>> 0;
    body = Buffer.concat([body, Buffer.from([0x80, 0x28, 0, 4]), u32(crc)]);
  }
  return Buffer.concat([header(0), body]);
}

// Parses one STUN message; returns null if it is not one. Result:
// { method, methodName, cls, tid, attrs: [{type, value, offset}], get(type), error, raw }
export function parseMessage(buf) {
  if (buf.length < 20 || (buf[0] & 0xc0) !== 0) return null;
  const len = buf.readUInt16BE(2);
  if (buf.readUInt32BE(4) !== MAGIC || len + 20 > buf.length || (len & 3)) return null;
  const { method, cls } = splitType(buf.readUInt16BE(0));
  const tid = Buffer.from(buf.subarray(8, 20));
  const attrs = [];
  let off = 20;
  while (off + 4 <= 20 + len) {
    const type = buf.readUInt16BE(off);
    const alen = buf.readUInt16BE(off + 2);
    if (off + 4 + alen > 20 + len) return null;
    attrs.push({ type, value: Buffer.from(buf.subarray(off + 4, off + 4 + alen)), offset: off });
    off += 4 + pad4(alen);
  }
  const msg = {
    method, methodName: METHOD_NAME[method] || `0x${method.toString(16)}`, cls: CLASS_NAME[cls], tid, attrs,
    raw: Buffer.from(buf.subarray(0, 20 + len)),
    get(type) { const a = attrs.find((x) => x.type === type); return a ? a.value : undefined; },
  };
  const ec = msg.get(ATTR.ERROR_CODE);
  // The reason phrase is text for humans; some servers pad it with NULs, which are dropped here.
  if (ec && ec.length >= 4) msg.error = { code: (ec[2] & 7) * 100 + ec[3], reason: ec.subarray(4).toString('utf8').replace(/[\x00-\x1f]/g, '') };
  const xm = msg.get(ATTR.XOR_MAPPED_ADDRESS);
  if (xm) msg.mapped = decodeXorAddress(xm, tid);
  else if (msg.get(ATTR.MAPPED_ADDRESS)) msg.mapped = decodeAddress(msg.get(ATTR.MAPPED_ADDRESS));
  const xr = msg.get(ATTR.XOR_RELAYED_ADDRESS);
  if (xr) msg.relayed = decodeXorAddress(xr, tid);
  const xp = msg.get(ATTR.XOR_PEER_ADDRESS);
  if (xp) msg.peer = decodeXorAddress(xp, tid);
  const lt = msg.get(ATTR.LIFETIME);
  if (lt && lt.length === 4) msg.lifetime = lt.readUInt32BE(0);
  return msg;
}

// Verifies MESSAGE-INTEGRITY of a parsed message with `key`; true/false, undefined if absent.
export function checkIntegrity(msg, key) {
  const mi = msg.attrs.find((a) => a.type === ATTR.MESSAGE_INTEGRITY);
  if (!mi) return undefined;
  const head = Buffer.from(msg.raw.subarray(0, mi.offset));
  head.writeUInt16BE(mi.offset + 24 - 20, 2);
  const mac = crypto.createHmac('sha1', key).update(head).digest();
  return mac.equals(mi.value);
}

// ChannelData (RFC 8656 §12.4): channel (0x4000–0x4FFF), length, data; padded to 4 over TCP.
export function encodeChannelData(channel, data, { padded = false } = {}) {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(channel, 0);
  h.writeUInt16BE(data.length, 2);
  const p = padded ? Buffer.alloc(pad4(data.length) - data.length) : Buffer.alloc(0);
  return Buffer.concat([h, data, p]);
}

const attrU32 = (type, n) => ({ type, value: u32(n) });
const attrStr = (type, s) => ({ type, value: Buffer.from(s, 'utf8') });
export const attr = {
  lifetime: (s) => attrU32(ATTR.LIFETIME, s),
  requestedTransport: (proto = 17) => ({ type: ATTR.REQUESTED_TRANSPORT, value: Buffer.from([proto, 0, 0, 0]) }),
  requestedFamily: (fam) => ({ type: ATTR.REQUESTED_ADDRESS_FAMILY, value: Buffer.from([fam === 'IPv6' ? 2 : 1, 0, 0, 0]) }),
  channel: (n) => ({ type: ATTR.CHANNEL_NUMBER, value: Buffer.from([n >> 8, n & 0xff, 0, 0]) }),
  data: (b) => ({ type: ATTR.DATA, value: b }),
  dontFragment: () => ({ type: ATTR.DONT_FRAGMENT, value: Buffer.alloc(0) }),
  software: (s) => attrStr(ATTR.SOFTWARE, s),
};

// ---------------------------------------------------------------------------------------------
// Client

export class TurnClient {
  // opts: host ('127.0.0.1'), port, transport ('udp'|'tcp'|'tls'), username, password,
  // timeoutMs (per request, 3000), rto (UDP retransmit interval, 250 ms)
  constructor({ host = '127.0.0.1', port, transport = 'udp', username, password, timeoutMs = 3000, rto = 250 } = {}) {
    Object.assign(this, { host, port, transport, username, password, timeoutMs, rto });
    this.realm = null;
    this.nonce = null;
    this.key = null;
    this.pending = new Map(); // tid hex -> { resolve, timer }
    this.inbox = [];          // indications / ChannelData / unmatched messages
    this.waiters = [];
    this.tcpBuf = Buffer.alloc(0);
    this.closed = false;
  }

  async connect() {
    if (this.transport === 'udp') {
      this.sock = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
      this.sock.on('message', (m) => this.onPacket(m));
      this.sock.on('error', (e) => this.onError(e));
      await new Promise((res) => this.sock.bind(0, net.isIPv6(this.host) ? '::1' : '127.0.0.1', res));
    } else if (this.transport === 'tls') {
      // Test certificates are self-signed: the relay's identity is not what these tests check.
      this.sock = tls.connect({ port: this.port, host: this.host, rejectUnauthorized: false });
      this.sock.setNoDelay(true);
      await new Promise((res, rej) => { this.sock.once('secureConnect', res); this.sock.once('error', rej); });
      this.sock.on('data', (d) => this.onTcp(d));
      this.sock.on('error', (e) => this.onError(e));
      this.sock.on('close', () => { this.remoteClosed = true; this.wake(); });
    } else {
      this.sock = net.connect(this.port, this.host);
      this.sock.setNoDelay(true);
      await new Promise((res, rej) => { this.sock.once('connect', res); this.sock.once('error', rej); });
      this.sock.on('data', (d) => this.onTcp(d));
      this.sock.on('error', (e) => this.onError(e));
      this.sock.on('close', () => { this.remoteClosed = true; this.wake(); });
    }
    return this;
  }

  get localPort() { return this.transport === 'udp' ? this.sock.address().port : this.sock.localPort; }

  onError(e) { this.lastError = e; }

  // Stream framing over TCP (RFC 8656 §12.5): STUN = 20 + length; ChannelData = 4 + length padded to 4.
  onTcp(d) {
    this.tcpBuf = Buffer.concat([this.tcpBuf, d]);
    for (;;) {
      if (this.tcpBuf.length < 4) return;
      const first = this.tcpBuf[0];
      const len = this.tcpBuf.readUInt16BE(2);
      let total;
      if ((first & 0xc0) === 0) total = 20 + len;
      else if ((first & 0xc0) === 0x40) total = 4 + pad4(len);
      else { this.tcpBuf = Buffer.alloc(0); return; } // garbage: give up on the stream
      if (this.tcpBuf.length < total) return;
      const pkt = this.tcpBuf.subarray(0, total);
      this.tcpBuf = this.tcpBuf.subarray(total);
      this.onPacket(Buffer.from(pkt));
    }
  }

  onPacket(buf) {
    if (buf.length >= 4 && (buf[0] & 0xc0) === 0x40) {
      const channel = buf.readUInt16BE(0);
      const len = buf.readUInt16BE(2);
      this.push({ kind: 'channeldata', channel, data: Buffer.from(buf.subarray(4, 4 + len)) });
      return;
    }
    const msg = parseMessage(buf);
    if (!msg) { this.push({ kind: 'garbage', data: buf }); return; }
    const p = this.pending.get(msg.tid.toString('hex'));
    if (p && (msg.cls === 'success' || msg.cls === 'error')) {
      this.pending.delete(msg.tid.toString('hex'));
      p.done(msg);
      return;
    }
    if (msg.cls === 'indication' && msg.method === METHOD.DATA) {
      this.push({ kind: 'data', peer: msg.peer, data: msg.get(ATTR.DATA), msg });
      return;
    }
    this.push({ kind: 'message', msg });
  }

  push(ev) { this.inbox.push(ev); this.wake(); }
  wake() { const w = this.waiters; this.waiters = []; w.forEach((f) => f()); }

  // Resolves with the next inbox event matching `pred`, or rejects after timeoutMs.
  next(pred = () => true, timeoutMs = this.timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const look = () => {
        const i = this.inbox.findIndex(pred);
        if (i >= 0) { clearTimeout(timer); resolve(this.inbox.splice(i, 1)[0]); return; }
        if (this.closed) { clearTimeout(timer); reject(new Error('client closed')); return; }
        this.waiters.push(look);
      };
      const timer = setTimeout(() => {
        const j = this.waiters.indexOf(look);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new Error('timed out waiting for a packet from the relay'));
      }, Math.max(0, deadline - Date.now()));
      look();
    });
  }
  nextChannelData(timeoutMs) { return this.next((e) => e.kind === 'channeldata', timeoutMs); }
  nextData(timeoutMs) { return this.next((e) => e.kind === 'data', timeoutMs); }

  sendRaw(buf) {
    if (this.transport === 'udp') this.sock.send(buf, this.port, this.host);
    else this.sock.write(buf);
  }

  // Sends one request and waits for its response (retransmitting over UDP). Returns the parsed
  // response, or throws on timeout. No authentication handling here: see request().
  transact(buf, tid, timeoutMs = this.timeoutMs) {
    const id = tid.toString('hex');
    return new Promise((resolve, reject) => {
      let retx = null;
      const timer = setTimeout(() => {
        this.pending.delete(id); clearInterval(retx);
        reject(new Error(`no response from relay within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { done: (m) => { clearTimeout(timer); clearInterval(retx); resolve(m); } });
      this.sendRaw(buf);
      if (this.transport === 'udp') retx = setInterval(() => this.sendRaw(buf), this.rto);
    });
  }

  // A request with the long-term credential mechanism (RFC 8489 §9.2): without a nonce the first
  // try is unauthenticated and the 401 gives realm and nonce; a 438 gives a fresh nonce and, unless
  // opts.retryStale === false, one retry. opts.auth === false sends no credentials at all.
  async request(method, attrs = [], opts = {}) {
    const { auth = true, retryStale = true, timeoutMs = this.timeoutMs } = opts;
    let tries = 0;
    for (;;) {
      tries++;
      const tid = newTid();
      let all = attrs;
      let key;
      if (auth && this.nonce) {
        all = [...attrs, attrStr(ATTR.USERNAME, this.username), attrStr(ATTR.REALM, this.realm),
          { type: ATTR.NONCE, value: this.nonce }];
        key = this.key;
      }
      const res = await this.transact(encodeMessage({ method, tid, attrs: all }, { key }), tid, timeoutMs);
      const code = res.error?.code;
      const realm = res.get(ATTR.REALM);
      const nonce = res.get(ATTR.NONCE);
      if (auth && res.cls === 'error' && tries < 3 && nonce && realm) {
        const fresh = !this.nonce; // we had no nonce yet: 401 is the challenge, not a failure
        if ((code === 401 && fresh) || (code === 438 && retryStale)) {
          this.setNonce(realm.toString('utf8'), nonce);
          continue;
        }
      }
      if (auth && nonce && realm && res.cls === 'success') this.setNonce(realm.toString('utf8'), nonce);
      return res;
    }
  }

  setNonce(realm, nonce) {
    this.realm = realm;
    this.nonce = Buffer.from(nonce);
    this.key = longTermKey(this.username, realm, this.password);
  }

  binding() { return this.request(METHOD.BINDING, [], { auth: false }); }

  async allocate({ lifetime, family, transport = 17, extra = [] } = {}) {
    const attrs = [attr.requestedTransport(transport), ...extra];
    if (lifetime !== undefined) attrs.push(attr.lifetime(lifetime));
    if (family) attrs.push(attr.requestedFamily(family));
    const r = await this.request(METHOD.ALLOCATE, attrs);
    if (r.cls === 'success') this.relayed = r.relayed;
    return r;
  }

  refresh(lifetime, opts) {
    return this.request(METHOD.REFRESH, lifetime === undefined ? [] : [attr.lifetime(lifetime)], opts);
  }

  // peers: one { address, port } or an array of them (port is ignored by the relay).
  createPermission(peers, opts) {
    const list = Array.isArray(peers) ? peers : [peers];
    return this.request(METHOD.CREATE_PERMISSION,
      list.map((p) => ({ type: ATTR.XOR_PEER_ADDRESS, peer: p })), opts);
  }

  channelBind(channel, peer, opts) {
    return this.request(METHOD.CHANNEL_BIND,
      [attr.channel(channel), { type: ATTR.XOR_PEER_ADDRESS, peer }], opts);
  }

  sendIndication(peer, data) {
    const tid = newTid();
    this.sendRaw(encodeMessage({ method: METHOD.SEND, cls: CLASS.indication, tid, attrs: [
      { type: ATTR.XOR_PEER_ADDRESS, peer }, attr.data(data)] }));
  }

  sendChannelData(channel, data) {
    this.sendRaw(encodeChannelData(channel, data, { padded: this.transport !== 'udp' }));
  }

  close() {
    this.closed = true;
    for (const p of this.pending.values()) p.done({ cls: 'error', error: { code: 0, reason: 'closed' }, get() {}, attrs: [] });
    this.pending.clear();
    this.wake();
    try { if (this.transport === 'udp') this.sock.close(); else this.sock.destroy(); } catch { /* already closed */ }
  }
}
