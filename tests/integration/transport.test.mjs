// transport.test.mjs — ws.c as a transport: idle pings and the drop of a silent peer, frames longer than
// lws's receive buffer (pieces and fragments), max-clients from the file limit, the send budget shared by
// all connections, and the HTTP route registry (an unknown path under a route, a path outside any).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Harness, bin, eventually } from '../lib/harness.mjs';
import { startStack, startNode, connect, registerUser, uniqueName, httpGet } from '../lib/client.mjs';

let h, stack;
before(async () => {
  h = new Harness('transport');
  stack = await startStack(h, { args: ['--login-rate', '100000', '--login-burst', '100000'] });
});
after(async () => { await h.close(); });

// A WebSocket client written by hand on a TCP socket: it completes the handshake, then records the
// frames it receives and answers nothing (no PONG), as a peer that vanished without a FIN would.
function rawClient(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const c = { sock, frames: [], closedAt: null, buf: Buffer.alloc(0), upgraded: false };
    const key = crypto.randomBytes(16).toString('base64');
    sock.on('connect', () => sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`
      + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`
      + 'Sec-WebSocket-Protocol: staffroom.v1\r\n\r\n'));
    sock.on('data', (d) => {
      c.buf = Buffer.concat([c.buf, d]);
      if (!c.upgraded) {
        const end = c.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = c.buf.subarray(0, end).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) { reject(new Error(head)); return; }
        c.upgraded = true;
        c.buf = c.buf.subarray(end + 4);
        resolve(c);
      }
      // RFC 6455 section 5.2: server frames are unmasked; short payloads only (control frames, small text).
      while (c.buf.length >= 2) {
        const len = c.buf[1] & 0x7f;
        if (len > 125 || c.buf.length < 2 + len) break;
        c.frames.push({ opcode: c.buf[0] & 0x0f, payload: c.buf.subarray(2, 2 + len) });
        c.buf = c.buf.subarray(2 + len);
      }
    });
    sock.on('close', () => { c.closedAt = Date.now(); });
    sock.on('error', (e) => { if (!c.upgraded) reject(e); });
  });
}

const metric = (body, name) => Number((new RegExp(`^${name} (\\d+)$`, 'm').exec(body) || [])[1]);

test('a peer that never answers pings is dropped after ping-timeout; a live one stays', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'pings', args: ['--ping-interval', '1', '--ping-timeout', '3'] });
  const live = await connect(node.wsUrl); // the ws package answers PINGs by itself
  const silent = await rawClient(node.port);
  const t0 = Date.now();
  await eventually(() => silent.closedAt, { timeoutMs: 10000, what: 'the silent peer to be dropped' });
  const after = silent.closedAt - t0;
  assert.ok(silent.frames.some((f) => f.opcode === 0x9), `a PING before the drop: ${JSON.stringify(silent.frames)}`);
  assert.ok(after >= 2000 && after <= 6000, `dropped after ${after} ms (ping-timeout 3 s)`);
  // the live client has been idle as long and was pinged too, but answered: still served
  assert.equal(live.closed, null);
  assert.equal((await live.request('ping')).type, 'ok');
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(live.closed, null);
  const m = await httpGet(`${node.httpUrl}/metrics`);
  assert.equal(metric(m.body, 'staffroom_idle_timeouts_total'), 1);
  assert.equal(metric(m.body, 'staffroom_connections'), 1);
  await live.close();
  await h.stop(node.proc);
});

test('a client that talks is never pinged out, though it never answers pings itself', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'talker', args: ['--ping-interval', '1', '--ping-timeout', '2'] });
  const c = await rawClient(node.port);
  // a masked text frame (client frames are masked, RFC 6455 section 5.3) every 500 ms for 4 s
  const frame = (text) => {
    const p = Buffer.from(text), mask = crypto.randomBytes(4);
    const out = Buffer.alloc(6 + p.length);
    out[0] = 0x81; out[1] = 0x80 | p.length; mask.copy(out, 2);
    for (let i = 0; i < p.length; i++) out[6 + i] = p[i] ^ mask[i & 3];
    return out;
  };
  for (let i = 0; i < 8; i++) {
    c.sock.write(frame(JSON.stringify({ type: 'ping', id: i })));
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(c.closedAt, null);
  const answers = c.frames.filter((f) => f.opcode === 0x1).map((f) => JSON.parse(f.payload.toString()));
  assert.deepEqual(answers.map((a) => a.id), [0, 1, 2, 3, 4, 5, 6, 7]);
  // then it falls silent and goes
  await eventually(() => c.closedAt, { timeoutMs: 8000, what: 'the now silent client to be dropped' });
  await h.stop(node.proc);
});

test('frames far larger than the receive buffer arrive whole: one frame, and many fragments', async () => {
  const c = await connect(stack.wsUrl);
  await registerUser(c, uniqueName('big'));
  // a 60 KB frame whose meaningful part (a bio made of distinct lines) lies at its end, after 58 KB of padding
  const bio = Array.from({ length: 90 }, (_, i) => `line ${String(i).padStart(3, '0')} ${'abcdefghij'.slice(i % 10)}`).join('\n').slice(0, 2000);
  const pad = Array.from({ length: 58 * 1024 / 16 }, (_, i) => i.toString(16).padStart(15, '0') + '.').join('');
  const one = JSON.stringify({ type: 'profile.update', id: 'one', pad, bio });
  assert.ok(one.length > 60000 && one.length < 65536, `${one.length} bytes`);
  c.sendRaw(one);
  const ok = await c.waitEvent('ok', (e) => e.id === 'one');
  assert.equal(ok.type, 'ok');
  assert.equal((await c.ok('profile.get', {})).user.bio, bio);

  // the same size in 40 fragments of ~1.5 KB (RFC 6455 section 5.4), the bio first this time
  const bio2 = bio.split('\n').reverse().join('\n');
  const many = JSON.stringify({ type: 'profile.update', id: 'many', bio: bio2, pad });
  const step = Math.ceil(many.length / 40);
  for (let i = 0; i < many.length; i += step)
    c.ws.send(many.slice(i, i + step), { fin: i + step >= many.length });
  assert.equal((await c.waitEvent('ok', (e) => e.id === 'many')).type, 'ok');
  assert.equal((await c.ok('profile.get', {})).user.bio, bio2);
  // and a short frame after them still goes the direct way
  assert.equal((await c.request('ping')).type, 'ok');
  await c.close();
});

test('max-clients defaults to what the file limit allows; an explicit value still caps', () => {
  const run = (limit, ...args) => execFileSync('bash', ['-c', `ulimit -n ${limit} && exec "$0" --check-config "$@"`,
    bin('staffroom-signal'), ...args], { encoding: 'utf8' });
  const value = (out) => Number(/^max-clients (\d+)$/m.exec(out)[1]);
  assert.equal(value(run(300)), 300 - 64);
  assert.equal(value(run(1000)), 1000 - 64);
  assert.equal(value(run(1000, '--max-clients', '100')), 100);
  assert.equal(value(run(1000, '--max-clients', '5000')), 1000 - 64); // more than the fds would allow
  // a soft limit below the hard one is raised first
  const hard = Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }));
  if (hard > 400) {
    const out = execFileSync('bash', ['-c', 'ulimit -Sn 256 && exec "$0" --check-config', bin('staffroom-signal')], { encoding: 'utf8' });
    assert.equal(value(out), Math.min(hard, 1048576) - 64);
  }
});

test('when all send queues together pass send-queue-total-max-bytes, the client that does not fit is dropped', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'budget',
    args: ['--send-queue-max-bytes', '16777216', '--send-queue-total-max-bytes', '65536',
      '--request-rate', '1000000', '--request-burst', '100000'] }); // every profile.get answered in full
  const other = await connect(node.wsUrl);
  const c = await connect(node.wsUrl);
  await registerUser(c, uniqueName('budget'));
  assert.equal((await c.request('profile.update', { bio: 'b'.repeat(2000) })).type, 'ok');
  c.ws._socket.pause(); // reads nothing more; its queue grows far below its own cap of 16 MiB
  const frame = JSON.stringify({ type: 'profile.get', id: 'x' });
  // The kernel's socket buffers (tcp_rmem allows 32 MiB here) take a lot before the server's own queue
  // grows: send until the server reports the drop, or at most 60,000 requests (~126 MB of answers).
  for (let i = 0; i < 60000 && !c.closed; i++) {
    c.ws.send(frame);
    if (i % 500 === 499) {
      await new Promise((r) => setTimeout(r, 20));
      if (/^staffroom_send_budget_drops_total [1-9]/m.test((await httpGet(`${node.httpUrl}/metrics`)).body)) break;
    }
  }
  c.ws._socket.resume();
  await c.waitClose(30000);
  const m = await httpGet(`${node.httpUrl}/metrics`);
  assert.equal(metric(m.body, 'staffroom_send_budget_drops_total'), 1);
  assert.equal(metric(m.body, 'staffroom_slow_clients_total'), 1);
  assert.equal(metric(m.body, 'staffroom_send_queued_bytes'), 0);
  // the others are served as before
  assert.equal((await other.request('ping')).type, 'ok');
  await other.close();
  await h.stop(node.proc);
});

test('HTTP routes: exact paths answer, unknown paths under a route and elsewhere are 404', async () => {
  assert.equal((await httpGet(`${stack.httpUrl}/healthz`)).status, 200);
  assert.equal((await httpGet(`${stack.httpUrl}/healthz/more`)).status, 404);
  assert.equal((await httpGet(`${stack.httpUrl}/metrics/x`)).status, 404);
  assert.equal((await httpGet(`${stack.httpUrl}/ics/short.ics`)).status, 404);
  assert.equal((await httpGet(`${stack.httpUrl}/no-such-file.txt`)).status, 404);
  // keep-alive: several requests, routes and files, on one connection
  const agentRes = [];
  for (let i = 0; i < 3; i++) agentRes.push((await fetch(`${stack.httpUrl}/healthz`)).status);
  assert.deepEqual(agentRes, [200, 200, 200]);
  // a request whose client leaves before the (Redis) answer does not disturb the server
  const s = net.connect(stack.nodes[0].port, '127.0.0.1');
  await new Promise((r) => s.on('connect', r));
  s.write(`GET /ics/${'a'.repeat(32)}.ics?token=${'b'.repeat(64)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  s.destroy();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await httpGet(`${stack.httpUrl}/healthz`)).status, 200);
});
