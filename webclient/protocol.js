// protocol.js — the WebSocket client for signalling/PROTOCOL.md (subprotocol staffroom.v1).
//
// Owns: the one socket to /ws, request/response matching by id (promises with timeouts), server events
// (dispatched as DOM events named after their type), automatic reconnection with back-off, and resuming
// the session (auth.resume with the stored token) before anything else is sent on a new socket.
// Must not: know about views or the DOM beyond EventTarget.
//
// States: 'connecting' (first attempt), 'open' (socket up and, if we had a token, resumed),
// 'reconnecting' (lost; retrying with back-off). Events fired on the Connection:
//   'state'     detail: { state, attempt }
//   'resumed'   detail: { user }     after a successful auth.resume on a new socket
//   'signedout' detail: { reason }   the stored token was refused (expired / revoked / suspended), or the
//                                    session was ended while connected (auth.signed_out: logout elsewhere,
//                                    password; auth.suspended: an admin suspended the account)
//   '<type>'    detail: the event object, for every server push (e.g. 'chat.message', 'presence')

const TOKEN_KEY = 'staffroom.token';
const SUBPROTOCOL = 'staffroom.v1';
const REQUEST_TIMEOUT_MS = 10000;
const PING_EVERY_MS = 25000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

export class ProtocolError extends Error {
  constructor(code, message, extra = {}) {
    super(message || code);
    this.code = code;
    Object.assign(this, extra);
  }
}

export class Connection extends EventTarget {
  constructor(url = defaultUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.state = 'connecting';
    this.attempt = 0;
    this.nextId = 1;
    this.pending = new Map(); // id -> { resolve, reject, timer }
    this.waiters = [];        // requests waiting for the socket to be open
    this.user = null;
    this.everOpen = false;
    this.pingTimer = null;
    this.retryTimer = null;
  }

  get token() { return localStorage.getItem(TOKEN_KEY); }
  set token(t) {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  }

  start() {
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    let ws;
    try {
      ws = new WebSocket(this.url, SUBPROTOCOL);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => { /* onclose follows */ };
  }

  async onOpen(ws) {
    if (ws !== this.ws) return;
    const wasOpen = this.everOpen;
    // Resume before anything else, so every later request runs signed in.
    if (this.token) {
      try {
        const res = await this.send('auth.resume', { token: this.token, device: deviceName() });
        this.user = res.user;
        this.setState('open');
        this.dispatch('resumed', { user: res.user, reconnect: wasOpen });
      } catch (err) {
        if (ws !== this.ws) return;
        if (err.code === 'unauthorized' || err.code === 'suspended') {
          this.token = null;
          this.user = null;
          this.setState('open');
          this.dispatch('signedout', { reason: err });
        } else {
          // Server up but not able to resume (e.g. Redis down): try again later.
          ws.close();
          return;
        }
      }
    } else {
      this.setState('open');
      if (wasOpen) this.dispatch('resumed', { user: null, reconnect: true });
    }
    this.everOpen = true;
    this.attempt = 0;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.go();
    this.startPing(ws);
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    clearInterval(this.pingTimer);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ProtocolError('disconnected', 'connection lost'));
    }
    this.pending.clear();
    this.scheduleRetry();
  }

  scheduleRetry() {
    this.attempt += 1;
    this.setState(this.everOpen ? 'reconnecting' : 'connecting');
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.attempt - 1, 5));
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  startPing(ws) {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (ws !== this.ws) return;
      // A socket that does not answer a ping is dead even if the browser has not noticed yet.
      this.send('ping', {}).catch((err) => {
        if (err.code === 'timeout' && ws === this.ws) ws.close();
      });
    }, PING_EVERY_MS);
  }

  setState(state) {
    if (this.state === state && state !== 'reconnecting') return;
    this.state = state;
    this.dispatch('state', { state, attempt: this.attempt });
  }

  dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  onFrame(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const hasId = Object.prototype.hasOwnProperty.call(msg, 'id') && (msg.type === 'ok' || msg.type === 'error');
    if (hasId) {
      const p = this.pending.get(String(msg.id));
      if (p) {
        this.pending.delete(String(msg.id));
        clearTimeout(p.timer);
        if (msg.type === 'ok') p.resolve(msg);
        else p.reject(new ProtocolError(msg.code || 'internal', msg.message, { field: msg.field, retry_after_ms: msg.retry_after_ms }));
        return;
      }
      if (msg.type === 'error') this.dispatch('server-error', msg); // e.g. id:null for an unparsable frame
      return;
    }
    if (msg.type === 'auth.signed_out' || msg.type === 'auth.suspended') {
      // This session was ended (signed out here or on another device, password changed): forget it.
      this.token = null;
      this.user = null;
      this.dispatch('signedout', { reason: msg });
    }
    if (typeof msg.type === 'string') this.dispatch(msg.type, msg);
  }

  // Sends at once on the current socket (used for auth.resume while the connection is not yet 'open').
  send(type, fields = {}, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        reject(new ProtocolError('offline', 'not connected'));
        return;
      }
      const id = `c${this.nextId++}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ProtocolError('timeout', 'no answer'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  // A request: waits (up to timeoutMs) for the connection to be open, then sends it.
  request(type, fields = {}, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    if (this.state === 'open' && this.ws && this.ws.readyState === WebSocket.OPEN) {
      return this.send(type, fields, { timeoutMs });
    }
    return new Promise((resolve, reject) => {
      const w = {
        go: () => { clearTimeout(timer); this.send(type, fields, { timeoutMs }).then(resolve, reject); },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new ProtocolError('offline', 'not connected'));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  // Account helpers: they keep the token and the signed-in user.
  async register(fields) {
    const res = await this.request('auth.register', { device: deviceName(), ...fields });
    this.token = res.token;
    this.user = res.user;
    return res.user;
  }

  async login(name, password) {
    const res = await this.request('auth.login', { name, password, device: deviceName() });
    this.token = res.token;
    this.user = res.user;
    return res.user;
  }

  async logout() {
    try {
      await this.request('auth.logout', {});
    } finally {
      this.token = null;
      this.user = null;
    }
  }
}

// A name for this browser in the account's session list (auth.sessions): "Firefox on Linux".
export function deviceName() {
  const ua = (typeof navigator !== 'undefined' && navigator.userAgent) || '';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chromium'
    : /Safari\//.test(ua) ? 'Safari' : 'A browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X/.test(ua) ? 'macOS' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

export function defaultUrl() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/ws`;
}

// Orders stream ids "ms-seq" (Redis stream ids) numerically: negative if a < b.
export function compareIds(a, b) {
  const [am, as = '0'] = String(a).split('-');
  const [bm, bs = '0'] = String(b).split('-');
  if (am.length !== bm.length) return am.length - bm.length;
  if (am !== bm) return am < bm ? -1 : 1;
  if (as.length !== bs.length) return as.length - bs.length;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

// A circle's members, page after page (circle.members is paged by a cursor), at most `pages` pages from
// `cursor`; duplicates (a page boundary may repeat one) are dropped. → { members, next } (next: the
// cursor to go on from, or null when that was everyone).
export async function circleMembers(conn, circle, { pages = 10, cursor = '0' } = {}) {
  const seen = new Map();
  let next = cursor;
  for (let i = 0; i < pages && next !== null; i++) {
    const res = await conn.request('circle.members', { circle, cursor: next, limit: 200 });
    for (const m of res.members) seen.set(m.user.id, m);
    next = res.next_cursor;
  }
  return { members: [...seen.values()], next };
}
