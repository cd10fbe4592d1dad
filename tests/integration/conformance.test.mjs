// conformance.test.mjs — the cases an outside probe found where the server and signalling/PROTOCOL.md
// disagreed (issue 12), and the call left behind by a connection that closed during its call.accept:
//   - an id of 64 characters counts characters, not bytes ("é" is 2 bytes, an emoji 4);
//   - a string holding U+0000 ("\u0000") is refused with bad_request echoing the request's id;
//   - a single 4 MiB frame gets its too_large frame before the close (1009), not a reset (1006);
//   - a connection that closes while its call.accept is in flight does not stay a party of the call.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness } from '../lib/harness.mjs';
import { startStack, connect } from '../lib/client.mjs';
import { user } from '../lib/calls.mjs';

let h, stack;
before(async () => {
  h = new Harness('conformance');
  stack = await startStack(h, { args: ['--login-rate', '100000', '--login-burst', '100000'] });
});
after(async () => { await h.close(); });

test('an id of 64 characters is accepted whatever their UTF-8 length; 65 are refused', async () => {
  const c = await connect(stack.wsUrl);
  for (const id of ['é'.repeat(64), '😀'.repeat(20), '😀'.repeat(64)]) {
    c.sendRaw(JSON.stringify({ type: 'ping', id }));
    const ok = await c.waitEvent('ok', (e) => e.id === id);
    assert.equal(ok.pong, true);
  }
  c.sendRaw(JSON.stringify({ type: 'ping', id: 'é'.repeat(65) }));
  const err = await c.waitEvent('error');
  assert.equal(err.code, 'bad_request');
  assert.equal(err.field, 'id');
  assert.equal(err.id, null);
  await c.close();
});

test('a string with U+0000 is refused as bad_request with the request\'s id echoed; the connection stays usable', async () => {
  const c = await connect(stack.wsUrl);
  c.sendRaw('{"type":"ping","id":"nul1","note":"a\\u0000b"}');
  const err = await c.waitEvent('error', (e) => e.id === 'nul1');
  assert.equal(err.code, 'bad_request');
  assert.equal(err.field, 'note');
  c.sendRaw('{"type":"ping","id":42,"deep":{"x":["\\u0000"]}}');
  const err2 = await c.waitEvent('error', (e) => e.id === 42);
  assert.equal(err2.code, 'bad_request');
  assert.equal(err2.field, 'deep');
  assert.equal((await c.ok('ping')).pong, true);
  await c.close();
});

test('a single 4 MiB frame gets too_large before the close (1009), never a bare reset', async () => {
  for (const size of [200 * 1024, 4 * 1024 * 1024]) {
    const c = await connect(stack.wsUrl);
    c.sendRaw(JSON.stringify({ type: 'ping', id: 1, pad: 'x'.repeat(size) }));
    const closed = await c.waitClose(15000);
    const err = c.events.find((e) => e.type === 'error');
    assert.ok(err, `a too_large frame arrived before the close (${size} bytes; close ${closed.code})`);
    assert.equal(err.code, 'too_large');
    assert.equal(closed.code, 1009, `close code for ${size} bytes`);
  }
  // The server is still fine.
  const c = await connect(stack.wsUrl);
  assert.equal((await c.ok('ping')).pong, true);
  await c.close();
});

test('a connection that closes while its call.accept is in flight leaves the call at once', async () => {
  const a = await user(stack.wsUrl, 'fa');
  const b = await user(stack.wsUrl, 'fb');
  const inv = await a.client.ok('call.invite', { user: b.user.id });
  await b.client.waitEvent('call.incoming', (e) => e.call === inv.call);
  // The accept is sent and the socket dropped in the same breath: the answer finds the connection gone.
  b.client.sendRaw(JSON.stringify({ type: 'call.accept', id: 'acc', call: inv.call }));
  b.client.terminate();
  // The call ends for the caller well before the vanished party's deadline (CALL_PARTY_TTL, 15 s) could.
  const t0 = Date.now();
  const ended = await a.client.waitEvent('call.ended', (e) => e.call === inv.call, 8000);
  assert.ok(Date.now() - t0 < 8000);
  assert.ok(['disconnected', 'declined', 'cancelled'].includes(ended.reason) || ended.reason, JSON.stringify(ended));
  // A is free again: a new call can be placed right away.
  const c = await user(stack.wsUrl, 'fc');
  const again = await a.client.ok('call.invite', { user: c.user.id });
  assert.equal(again.state, 'ringing');
  await a.client.close();
  await c.client.close();
});
