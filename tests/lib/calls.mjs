// calls.mjs — helpers shared by the calls and rooms tests: users on given nodes, circles made straight in
// Redis (hex ids, as circles.c makes them), and error assertions.
import crypto from 'node:crypto';
import assert from 'node:assert/strict';
import { connect, registerUser, uniqueName, putInCircle } from './client.mjs';

export function assertError(r, code, field) {
  assert.equal(r.type, 'error', JSON.stringify(r));
  assert.equal(r.code, code, JSON.stringify(r));
  if (field) assert.equal(r.field, field, JSON.stringify(r));
}

export const hexId = () => crypto.randomBytes(16).toString('hex');

// A signed-in user on wsUrl: { client, user, token }.
export async function user(wsUrl, prefix = 'c') {
  const client = await connect(wsUrl);
  const reg = await registerUser(client, uniqueName(prefix));
  return { client, ...reg };
}

// A second device of an existing user (a new connection resumed with its token).
export async function device(wsUrl, u) {
  const client = await connect(wsUrl);
  const r = await client.request('auth.resume', { token: u.token });
  assert.equal(r.type, 'ok', JSON.stringify(r));
  return { client, user: u.user, token: u.token };
}

// A circle (hash + members) with these users; waits until each connection knows it is a member.
export async function circleWith(stack, users, roles = []) {
  const cid = hexId();
  await stack.redisCmd('HSET', `circle:${cid}`, 'name', `circle ${cid.slice(0, 6)}`, 'subject', 'Maths', 'phase', 'secondary');
  await putInCircle(stack, cid, users.map((u, i) => [u.user.id, roles[i] || 'member']));
  for (const u of users) await u.client.waitEvent('circle.membership', (e) => e.circle === cid);
  return cid;
}
