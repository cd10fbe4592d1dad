// sfu_view.test.mjs — room.media.view through a real staffroom-signal to a real staffroom-sfu (PROTOCOL.md):
// the tile list is checked (bad_request naming `tiles`), only a participant of the room may send it
// (not_found), and a valid one reaches the room's SFU as a view command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack } from '../lib/client.mjs';
import { startSfu } from '../lib/sfu.mjs';
import { user, circleWith } from '../lib/calls.mjs';

const ARGS = ['--login-rate', '100000', '--login-burst', '100000'];

function assertError(res, code, field) {
  assert.equal(res.type, 'error', JSON.stringify(res));
  assert.equal(res.code, code, JSON.stringify(res));
  if (field) assert.equal(res.field, field, JSON.stringify(res));
}

test('room.media.view: tiles checked, participants only, carried to the SFU', async () => {
  const h = new Harness('sfu-view');
  try {
    const stack = await startStack(h, { args: ARGS });
    const sfu = await startSfu(h, { redisPort: stack.redisPort });
    const [a, b] = [await user(stack.wsUrl, 'va'), await user(stack.wsUrl, 'vb')];
    const cid = await circleWith(stack, [a, b]);
    const { rooms } = await a.client.ok('room.list', { circle: cid });
    const room = rooms[0].id;
    const ja = await a.client.ok('room.join', { room, camera: true, mic: true });
    assert.equal(ja.media, 'sfu');
    const tile = { publisher: 'web1-2', width: 320, visible: true };
    for (const tiles of [undefined, 'all', {}, Array(65).fill(tile), [{ ...tile, publisher: '' }], [{ ...tile, publisher: 'x'.repeat(65) }],
      [{ ...tile, width: -1 }], [{ ...tile, width: 16385 }], [{ ...tile, width: 1.5 }], [{ ...tile, visible: 'yes' }], [{ width: 1, visible: true }]]) {
      assertError(await a.client.request('room.media.view', { room, tiles }), 'bad_request', 'tiles');
    }
    assertError(await b.client.request('room.media.view', { room, tiles: [tile] }), 'not_found');
    assertError(await a.client.request('room.media.view', { room: 'nope', tiles: [tile] }), 'bad_request', 'room');
    await a.client.ok('room.media.view', { room, tiles: [tile, { publisher: 'web1-3', width: 0, visible: false }] });
    await a.client.ok('room.media.view', { room, tiles: [] });
    // The SFU got it for this participant (it is not on the SFU yet: no offer; the command is dropped there).
    await eventually(async () => (await sfu.metrics()).staffroom_sfu_commands_total >= 2, { timeoutMs: 5000, what: 'view commands at the SFU' });
    const m = await sfu.metrics();
    assert.equal(m.staffroom_sfu_bad_commands_total || 0, 0, 'the SFU accepts the command signal sends');
  } finally {
    await h.close();
  }
});
