// limits.test.mjs — what a misbehaving client meets: oversized frames, malformed and non-object JSON,
// unknown types, binary frames, login and message rate limits, a slow reader, max-clients, wrong paths.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack, startNode, connect, registerUser, uniqueName, httpGet } from '../lib/client.mjs';

let h, stack;
before(async () => {
  h = new Harness('limits');
  stack = await startStack(h, { args: ['--max-frame-bytes', '1024', '--login-rate', '100000', '--login-burst', '100000',
    '--message-rate', '6', '--message-burst', '3', '--signal-rate', '60', '--signal-burst', '10',
    '--send-queue-max-bytes', '65536'] });
});
after(async () => { await h.close(); });

function assertError(r, code, field) {
  assert.equal(r.type, 'error', JSON.stringify(r));
  assert.equal(r.code, code, JSON.stringify(r));
  if (field) assert.equal(r.field, field, JSON.stringify(r));
}

test('a frame at max-frame-bytes is served; one byte more gets too_large and the connection closes', async () => {
  const c = await connect(stack.wsUrl);
  const base = JSON.stringify({ type: 'ping', id: 1, pad: '' });
  const exact = JSON.stringify({ type: 'ping', id: 1, pad: 'x'.repeat(1024 - base.length) });
  assert.equal(exact.length, 1024);
  c.sendRaw(exact);
  const ok = await c.waitEvent('ok', (e) => e.id === 1);
  assert.equal(ok.pong, true);
  c.sendRaw(JSON.stringify({ type: 'ping', id: 2, pad: 'x'.repeat(1025 - base.length) }));
  const err = await c.waitEvent('error');
  assert.equal(err.code, 'too_large');
  const closed = await c.waitClose();
  assert.equal(closed.code, 1009); // "message too big"
});

test('a fragmented frame is assembled, and capped as a whole', async () => {
  const c = await connect(stack.wsUrl);
  const text = JSON.stringify({ type: 'ping', id: 'frag', pad: 'y'.repeat(600) });
  c.ws.send(text.slice(0, 300), { fin: false });
  c.ws.send(text.slice(300), { fin: true });
  const ok = await c.waitEvent('ok', (e) => e.id === 'frag');
  assert.equal(ok.pong, true);
  const half = 'z'.repeat(700);
  c.ws.send(half, { fin: false });
  c.ws.send(half, { fin: true }); // 1400 bytes in two fragments of 700
  assert.equal((await c.waitEvent('error')).code, 'too_large');
  await c.waitClose();
});

test('malformed, non-object and incomplete requests are bad_request; the connection stays usable', async () => {
  const c = await connect(stack.wsUrl);
  const cases = [
    ['{"type":"ping",', null, undefined],
    ['[1,2,3]', null, undefined],
    ['"just a string"', null, undefined],
    ['null', null, undefined],
    ['{"id":5}', 5, 'type'],
    ['{"type":7,"id":6}', 6, 'type'],
    ['{"type":"ping"}', null, 'id'],
    ['{"type":"ping","id":{"a":1}}', null, 'id'],
    ['{"type":"no.such.type","id":9}', 9, 'type'],
    ['{"type":"ping","id":10,"type":"auth.logout"}', null, undefined],
  ];
  for (const [raw, id, field] of cases) {
    c.sendRaw(raw);
    const e = await c.waitEvent('error');
    assert.equal(e.code, 'bad_request', raw);
    assert.equal(e.id, id, raw);
    assert.equal(e.field, field, raw);
    assert.ok(e.message.length > 0);
  }
  c.sendRaw(Buffer.from('{"type":"ping","id":1}'), { binary: true });
  assert.equal((await c.waitEvent('error')).code, 'bad_request');
  assert.equal((await c.request('ping')).type, 'ok');
  await c.close();
});

test('too many logins from one address are rate_limited with a retry hint', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'login-limited', args: ['--login-rate', '1', '--login-burst', '3'] });
  const c = await connect(node.wsUrl);
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await c.request('auth.login', { name: 'nobody_here', password: 'wrong password' }, 30000));
  for (const r of answers.slice(0, 3)) assertError(r, 'unauthorized');
  assertError(answers[3], 'rate_limited');
  assert.ok(answers[3].retry_after_ms > 0 && answers[3].retry_after_ms <= 60000);
  // a different connection from the same address shares the limit
  const d = await connect(node.wsUrl);
  assertError(await d.request('auth.register', { name: uniqueName(), password: 'password 1' }), 'rate_limited');
  await c.close(); await d.close();
  await h.stop(node.proc);
});

test('too many messages from one user are rate_limited (H_RL_MSG types)', async () => {
  const c = await connect(stack.wsUrl);
  await registerUser(c, uniqueName('chatty'));
  const fields = { channel: 'f'.repeat(32), text: 'hello' };
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await c.request('chat.send', fields));
  const limited = answers.filter((r) => r.code === 'rate_limited');
  assert.equal(limited.length, 2, JSON.stringify(answers));
  assert.ok(answers.slice(0, 3).every((r) => r.code !== 'rate_limited'));
  assert.ok(limited[0].retry_after_ms > 0);
  // other requests are not limited
  assert.equal((await c.request('profile.get', {})).type, 'ok');
  await c.close();
});

test('a flood of signals (call.signal, room.signal, chat.typing) is rate_limited (H_RL_SIGNAL types)', async () => {
  const c = await connect(stack.wsUrl);
  await registerUser(c, uniqueName('flood'));
  const kinds = [['call.signal', { call: 'a'.repeat(32), data: {} }], ['room.signal', { room: 'b'.repeat(32), to: 'x', data: {} }],
    ['chat.typing', { channel: 'c'.repeat(32) }]];
  const answers = [];
  for (let i = 0; i < 14; i++) answers.push(await c.request(...kinds[i % kinds.length]));
  // the first 10 (the burst) reach their handlers (not_found: no such call/room/channel); the rest are held back
  assert.ok(answers.slice(0, 10).every((r) => r.code !== 'rate_limited'), JSON.stringify(answers.slice(0, 10)));
  const limited = answers.slice(10);
  assert.ok(limited.every((r) => r.code === 'rate_limited' && r.retry_after_ms > 0), JSON.stringify(limited));
  // the message limit is separate: a chat.send still reaches its handler
  assert.notEqual((await c.request('chat.send', { channel: 'f'.repeat(32), text: 'hi' })).code, 'rate_limited');
  await c.close();
});

test('a client that stops reading is disconnected once its send queue passes the cap', async () => {
  // reads are rate-limited too (request-rate): lifted here so that every answer is a full profile
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'slow',
    args: ['--send-queue-max-bytes', '65536', '--request-rate', '1000000', '--request-burst', '100000'] });
  const c = await connect(node.wsUrl);
  await registerUser(c, uniqueName('slow'));
  assert.equal((await c.request('profile.update', { bio: 'b'.repeat(2000) })).type, 'ok');
  c.ws._socket.pause(); // the client reads nothing more; the server keeps answering
  const frame = JSON.stringify({ type: 'profile.get', id: 'x' });
  // The kernel's socket buffers (tcp_rmem allows 32 MiB here) take a lot before the server's own queue
  // grows: send until the server reports the drop, or at most 60,000 requests (~126 MB of answers).
  for (let i = 0; i < 60000 && !c.closed; i++) {
    c.ws.send(frame);
    if (i % 500 === 499) {
      await new Promise((r) => setTimeout(r, 20));
      if (/^staffroom_slow_clients_total [1-9]/m.test((await httpGet(`${node.httpUrl}/metrics`)).body)) break;
    }
  }
  c.ws._socket.resume();
  await c.waitClose(30000);
  const m = await httpGet(`${node.httpUrl}/metrics`);
  assert.match(m.body, /staffroom_slow_clients_total 1\n/);
  await h.stop(node.proc);
});

test('max-clients refuses connections over the cap', async () => {
  const node = await startNode(h, { redisPort: stack.redisPort, label: 'capped', args: ['--max-clients', '2'] });
  const a = await connect(node.wsUrl);
  const b = await connect(node.wsUrl);
  await assert.rejects(connect(node.wsUrl));
  await a.close();
  await b.close();
  // a place is free again once a client has gone
  const d = await connect(node.wsUrl);
  assert.equal((await d.request('ping')).type, 'ok');
  await d.close();
  await h.stop(node.proc);
});

test('WebSockets on another path or without the staffroom.v1 subprotocol are refused', async () => {
  await assert.rejects(connect(stack.wsUrl.replace('/ws', '/other')));
  await assert.rejects(connect(stack.wsUrl, { protocol: null }));
  await assert.rejects(connect(stack.wsUrl, { protocol: 'chat.v9' }));
  const ok = await connect(stack.wsUrl);
  assert.equal(ok.ws.protocol, 'staffroom.v1');
  await ok.close();
});

test('random and mutated frames never crash the server; every frame gets exactly one answer', async () => {
  const c = await connect(stack.wsUrl);
  await registerUser(c, uniqueName('fuzz'));
  const seeds = ['{"type":"profile.update","id":1,"bio":"x"}', '{"type":"presence.set","id":2,"status":"away"}',
    '{"type":"auth.resume","id":3,"token":"00"}', '{"type":"profile.get","id":4,"user":"ab"}', '{"type":"ping","id":5}'];
  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const N = 300;
  for (let i = 0; i < N; i++) {
    let s = seeds[rnd(seeds.length)];
    const chars = s.split('');
    for (let k = rnd(4) + 1; k > 0; k--) {
      const at = rnd(chars.length + 1);
      const op = rnd(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, String.fromCharCode(rnd(128)));
      else chars.splice(at, 0, '{"[]}:,\\"'[rnd(9)]);
    }
    s = chars.join('');
    c.sendRaw(s);
  }
  // every frame is answered (ok or error), none twice; answers that need Redis come later than the others
  const answered = () => c.events.filter((e) => e.type === 'ok' || e.type === 'error').length;
  await eventually(() => answered() >= N, { timeoutMs: 30000, what: `${N} answers (have ${answered()})` });
  assert.equal((await c.request('ping')).type, 'ok'); // a round trip more: nothing else was pending
  assert.equal(answered(), N);
  assert.equal((await c.request('ping')).type, 'ok');
  await c.close();
});
