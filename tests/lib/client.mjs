// client.mjs — a WebSocket test client for staffroom-signal, and helpers to start a full stack.
//
//   import { Harness } from './harness.mjs';
//   import { startStack, connect, registerUser } from './client.mjs';
//   const h = new Harness('chat');
//   const stack = await startStack(h, { nodes: 2 });          // redis + 2 signalling nodes
//   const a = await connect(stack.nodes[0].wsUrl);
//   const { user, token } = await registerUser(a, 'alice');
//   const r = await a.request('profile.get', {});             // resolves with the ok OR error object
//   const ev = await a.waitEvent('presence', (e) => e.user === bob.id, 5000);
//   a.close(); await h.close();
//
// request() never rejects on a protocol error: it resolves with {type:'error', code, …}; it rejects only
// on a timeout or when the socket closes before the answer. Events (frames without "id") are buffered in
// client.events until waitEvent() consumes them (oldest matching first), so an event that arrived before
// waitEvent() was called is not missed.
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import WebSocket from 'ws';
import { bin, freePort, ROOT } from './harness.mjs';

export const PROTOCOL = 'staffroom.v1';

export class Client {
  constructor(ws) {
    this.ws = ws;
    this.events = [];
    this.pending = new Map();
    this.waiters = [];
    this.nextId = 1;
    this.closed = null; // {code, reason} once closed
    this.closeWaiters = [];
    ws.on('message', (data, isBinary) => this._onFrame(data, isBinary));
    ws.on('close', (code, reason) => this._onClose(code, reason.toString()));
    ws.on('error', () => {}); // 'close' follows; errors surface as rejected requests
  }

  _onFrame(data, isBinary) {
    let msg;
    try { msg = JSON.parse(data.toString()); } catch { msg = { type: '_unparsable', raw: data.toString(), isBinary }; }
    if (msg && msg.id !== undefined && msg.id !== null && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      p.resolve(msg);
      return;
    }
    if (msg && msg.id !== undefined) { // an answer to a raw frame (id null or unknown): keep it as an "event"
      this.events.push(msg);
    } else {
      this.events.push(msg);
    }
    this._serveWaiters();
  }

  _serveWaiters() {
    for (const w of [...this.waiters]) {
      const i = this.events.findIndex((e) => e.type === w.type && w.pred(e));
      if (i >= 0) {
        const [e] = this.events.splice(i, 1);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(e);
      }
    }
  }

  _onClose(code, reason) {
    this.closed = { code, reason };
    for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error(`socket closed (${code}) before answer to ${p.type}`)); }
    this.pending.clear();
    for (const w of this.waiters) { clearTimeout(w.timer); w.reject(new Error(`socket closed (${code}) while waiting for event ${w.type}`)); }
    this.waiters = [];
    for (const r of this.closeWaiters) r(this.closed);
    this.closeWaiters = [];
  }

  // Sends {type, id, ...fields}; resolves with the server's answer (ok or error object).
  request(type, fields = {}, timeoutMs = 10000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closed || this.ws.readyState !== WebSocket.OPEN) { reject(new Error(`socket not open for ${type}`)); return; }
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`no answer to ${type} after ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, type });
      this.ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  // Like request() but rejects unless the answer is ok; resolves with the ok object.
  async ok(type, fields = {}, timeoutMs = 10000) {
    const r = await this.request(type, fields, timeoutMs);
    if (r.type !== 'ok') throw new Error(`${type} failed: ${JSON.stringify(r)}`);
    return r;
  }

  // Sends a raw frame (string or Buffer) as is; answers to it land in events (e.g. {type:'error', id:null}).
  sendRaw(data, opts = {}) { this.ws.send(data, opts); }

  // Resolves with the oldest buffered or future event of that type for which pred(e) is true (and removes it).
  waitEvent(type, pred = () => true, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const i = this.events.findIndex((e) => e.type === type && pred(e));
      if (i >= 0) { resolve(this.events.splice(i, 1)[0]); return; }
      if (this.closed) { reject(new Error(`socket closed while waiting for event ${type}`)); return; }
      const w = { type, pred, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`no event ${type} after ${timeoutMs} ms; buffered: ${JSON.stringify(this.events).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  // Resolves with {code, reason} once the socket is closed (by either side).
  waitClose(timeoutMs = 10000) {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push((c) => { clearTimeout(timer); resolve(c); });
    });
  }

  close() { if (!this.closed) this.ws.close(); return this.waitClose().catch(() => {}); }
  // Drops the TCP connection without a close frame (a vanished client, as far as the server can tell).
  terminate() { this.ws.terminate(); }
}

// Opens a WebSocket with the staffroom.v1 subprotocol; resolves with a Client once open.
export function connect(url, { protocol = PROTOCOL, timeoutMs = 10000, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const ws = protocol ? new WebSocket(url, protocol, opts) : new WebSocket(url, opts);
    const c = new Client(ws);
    const timer = setTimeout(() => { ws.terminate(); reject(new Error(`connect ${url}: timeout`)); }, timeoutMs);
    ws.once('open', () => { clearTimeout(timer); resolve(c); });
    ws.once('unexpected-response', (_req, res) => { clearTimeout(timer); reject(new Error(`connect ${url}: HTTP ${res.statusCode}`)); });
    ws.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// Registers a user on a connected client (which is then signed in). Resolves with {user, token, password}.
export async function registerUser(client, name, password = 'correct horse battery', extra = {}) {
  const r = await client.request('auth.register', { name, password, ...extra }, 30000);
  if (r.type !== 'ok') throw new Error(`auth.register ${name}: ${JSON.stringify(r)}`);
  return { user: r.user, token: r.token, password };
}

// Connects and registers in one step: resolves with {client, user, token, password}.
export async function newUser(url, name, password) {
  const client = await connect(url);
  return { client, ...(await registerUser(client, name, password)) };
}

let nameCounter = 0;
// A user name that is unique within this test process (names are unique per community).
export function uniqueName(prefix = 'u') {
  return `${prefix}${process.pid % 100000}_${nameCounter++}`;
}

// One Redis command over a fresh connection (RESP); resolves with the reply (string, number, array, null)
// or rejects with a Redis error. For tests that set up state another module would make, e.g. circles.
export function redisCommand(port, args, password) {
  const enc = (a) => { const b = Buffer.from(String(a)); return `$${b.length}\r\n${b}\r\n`; };
  const frame = (cmd) => `*${cmd.length}\r\n${cmd.map(enc).join('')}`;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const want = password ? 2 : 1;
    const replies = [];
    sock.on('connect', () => {
      if (password) sock.write(frame(['AUTH', password]));
      sock.write(frame(args));
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseResp(buf, 0);
        if (!r) break;
        replies.push(r.value);
        buf = buf.subarray(r.end);
      }
      if (replies.length >= want) {
        sock.destroy();
        const v = replies[want - 1];
        if (v instanceof Error) reject(v); else resolve(v);
      }
    });
    sock.on('error', reject);
  });
}

function parseResp(buf, i) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const t = String.fromCharCode(buf[i]);
  const line = buf.toString('utf8', i + 1, eol);
  if (t === '+') return { value: line, end: eol + 2 };
  if (t === '-') return { value: new Error(line), end: eol + 2 };
  if (t === ':') return { value: Number(line), end: eol + 2 };
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: eol + 2 };
    if (buf.length < eol + 2 + n + 2) return null;
    return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 4 + n };
  }
  if (t === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: eol + 2 };
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
  throw new Error(`bad RESP type ${t}`);
}

// Starts one signalling node against a running Redis. Resolves with {proc, port, wsUrl, httpUrl, args}.
export async function startNode(h, { redisPort, label = 'signal', args = [], env, port } = {}) {
  port = port || await freePort();
  const full = [
    '--listen-address', '127.0.0.1', '--listen-port', String(port),
    '--redis-host', '127.0.0.1', '--redis-port', String(redisPort),
    '--web-root', path.join(ROOT, 'webclient'), '--node-id', label,
    ...args,
  ];
  const proc = await h.start(label, bin('staffroom-signal'), full, { ready: /staffroom-signal listening on/, env });
  return { proc, port, wsUrl: `ws://127.0.0.1:${port}/ws`, httpUrl: `http://127.0.0.1:${port}`, args: full, label };
}

// Starts a private Redis (unless `redis` — a record from h.redis() — is given) and `nodes` signalling
// nodes on it, each with `args` appended (e.g. ['--presence-ttl', '3']). Resolves with
// { redis, redisPort, nodes:[…], wsUrl, httpUrl, redisCmd(...args) } (wsUrl/httpUrl: node 0).
export async function startStack(h, { nodes = 1, redis, args = [], env } = {}) {
  redis = redis || await h.redis();
  const list = [];
  for (let i = 0; i < nodes; i++)
    list.push(await startNode(h, { redisPort: redis.port, label: `signal${i}`, args, env }));
  return {
    redis, redisPort: redis.port, nodes: list, wsUrl: list[0].wsUrl, httpUrl: list[0].httpUrl,
    redisCmd: (...a) => redisCommand(redis.port, a),
  };
}

// Puts users straight into a circle in Redis (keys as in signalling/ARCHITECTURE.md) and publishes the
// circle.membership events that update the users' connections on every node, as circles.c would.
// members: [[uid, role], …]. Waits for nothing: await the 'circle.membership' event on your clients.
export async function putInCircle(stack, cid, members) {
  for (const [uid, role] of members) {
    await stack.redisCmd('HSET', `circle:${cid}:members`, uid, role);
    await stack.redisCmd('HSET', `user:${uid}:circles`, cid, 'member');
    await stack.redisCmd('PUBLISH', `ev:u:${uid}`,
      JSON.stringify({ type: 'circle.membership', circle: cid, user: uid, status: 'member', role }));
  }
}

// An HTTP GET; resolves with {status, headers, body}.
export async function httpGet(url) {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

// Reads a node's log so far (for assertions on what was logged).
export function nodeLog(node) { return fs.readFileSync(node.proc.logPath, 'utf8'); }
