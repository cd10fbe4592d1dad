// turn.test.mjs — turn.credentials: the credential verifies against the shared secret (recomputed here,
// as the relay would), URLs and TTL come from the config, and it is refused when it cannot be made.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Harness } from '../lib/harness.mjs';
import { connect } from '../lib/client.mjs';
import { newMember, assertError, SIGNIN, startReadyStack, startReadyNode } from '../lib/community.mjs';

const SECRET = 'relay shared secret for tests';
let h, stack, secretFile;

before(async () => {
  h = new Harness('turn');
  secretFile = path.join(h.dir, 'turn-secret');
  // blank lines and surrounding blanks are not part of the secret
  fs.writeFileSync(secretFile, `\n   ${SECRET}  \nnot the secret\n`, { mode: 0o600 });
  stack = await startReadyStack(h, { args: [...SIGNIN, '--turn-secret-file', secretFile,
    '--turn-urls', 'turn:relay.example.org:3478?transport=udp', '--turn-urls', 'turns:relay.example.org:5349?transport=tcp',
    '--turn-credential-ttl', '600'] });
});

after(async () => { await h.close(); });

const hmac = (secret, username) => crypto.createHmac('sha1', secret).update(username).digest('base64');

test('turn.credentials: username is expiry:user, credential is base64(HMAC-SHA1(secret, username))', async () => {
  const u = await newMember(stack, 'turn');
  const t0 = Math.floor(Date.now() / 1000);
  const r = await u.client.request('turn.credentials', {});
  const t1 = Math.ceil(Date.now() / 1000);
  assert.equal(r.type, 'ok');
  assert.equal(r.ttl, 600);
  assert.equal(r.ice_servers.length, 1);
  const s = r.ice_servers[0];
  assert.deepEqual(s.urls, ['turn:relay.example.org:3478?transport=udp', 'turns:relay.example.org:5349?transport=tcp']);
  const [expiry, uid] = s.username.split(':');
  assert.equal(uid, u.user.id);
  assert.ok(Number(expiry) >= t0 + 600 && Number(expiry) <= t1 + 600, `expiry ${expiry} not now+600`);
  assert.equal(s.credential, hmac(SECRET, s.username));
  assert.notEqual(s.credential, hmac('not the secret', s.username));
  await u.client.close();
});

test('turn.credentials: refused before sign-in', async () => {
  const c = await connect(stack.wsUrl);
  assertError(await c.request('turn.credentials', {}), 'unauthorized');
  await c.close();
});

test('turn.credentials: default URLs and TTL when only the secret is configured', async () => {
  const node = await startReadyNode(h, { redisPort: stack.redisPort, label: 'signal-defaults', args: [...SIGNIN, '--turn-secret-file', secretFile] });
  const u = await newMember({ wsUrl: node.wsUrl }, 'turnd', node.wsUrl);
  const r = await u.client.ok('turn.credentials', {});
  assert.equal(r.ttl, 3600);
  assert.deepEqual(r.ice_servers[0].urls, ['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
  assert.equal(r.ice_servers[0].credential, hmac(SECRET, r.ice_servers[0].username));
  await u.client.close();
  await h.stop(node.proc);
});

test('turn.credentials: unavailable without a secret file, or with an unreadable one', async () => {
  for (const [label, extra] of [['signal-nosecret', []], ['signal-badsecret', ['--turn-secret-file', path.join(h.dir, 'missing')]]]) {
    const node = await startReadyNode(h, { redisPort: stack.redisPort, label, args: [...SIGNIN, ...extra] });
    const u = await newMember({ wsUrl: node.wsUrl }, 'turnx', node.wsUrl);
    const r = await u.client.request('turn.credentials', {});
    assertError(r, 'unavailable');
    assert.match(r.message, /TURN/);
    await u.client.close();
    await h.stop(node.proc);
  }
});

test('turn.credentials: the secret never appears in the log', async () => {
  const u = await newMember(stack, 'turnlog');
  await u.client.ok('turn.credentials', {});
  await u.client.close();
  assert.ok(!fs.readFileSync(stack.nodes[0].proc.logPath, 'utf8').includes(SECRET));
});
