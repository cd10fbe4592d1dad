// community.mjs — helpers for the circle, channel and chat integration tests: admins, signed-in users,
// circles with members, and assertions on protocol errors.
//
//   const admin = await newAdmin(stack);                      // {client, user, token}
//   const { circle, channels } = await createCircle(admin, { moderated: false });
//   const bob = await joined(stack, circle.id);               // a new user who joined (and was told so)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { bin, eventually } from './harness.mjs';
import { connect, registerUser, uniqueName, startNode, startStack, httpGet } from './client.mjs';

// A node prints "listening" before its Redis connection is up, and answers `unavailable` until then:
// wait for /healthz to say Redis is up, so a test's first request does not race the connection.
export async function redisReady(node) {
  await eventually(async () => (await httpGet(`${node.httpUrl}/healthz`)).status === 200,
    { what: `${node.label} connected to Redis`, timeoutMs: 15000 });
  return node;
}

// startNode / startStack (client.mjs), then redisReady on every node.
export async function startReadyNode(h, opts) { return redisReady(await startNode(h, opts)); }
export async function startReadyStack(h, opts) {
  const stack = await startStack(h, opts);
  for (const n of stack.nodes) await redisReady(n);
  return stack;
}

// A new signed-in user on `url` (default: node 0 of the stack).
export async function newMember(stack, prefix = 'u', url = stack.wsUrl) {
  const client = await connect(url);
  const reg = await registerUser(client, uniqueName(prefix));
  return { client, ...reg };
}

// Makes an admin through the program's own --create-admin (password on stdin, as an operator would),
// then signs in as that admin. The command talks to the stack's Redis.
export async function newAdmin(stack, url = stack.wsUrl) {
  const name = uniqueName('admin');
  const password = 'admin password 123';
  await createAdminCli(stack.redisPort, name, password);
  const client = await connect(url);
  const r = await client.request('auth.login', { name, password }, 30000);
  assert.equal(r.type, 'ok', `admin login: ${JSON.stringify(r)}`);
  return { client, user: r.user, token: r.token, password };
}

function createAdminCli(redisPort, name, password) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin('staffroom-signal'), ['--redis-host', '127.0.0.1', '--redis-port', String(redisPort),
      '--create-admin', name], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`--create-admin exited ${code}: ${out}`))));
    p.stdin.end(`${password}\n`);
  });
}

let circleCounter = 0;
// circle.create by `admin` with sensible defaults; resolves with the ok answer ({circle, channels}).
export async function createCircle(admin, fields = {}) {
  const n = circleCounter++;
  const r = await admin.client.request('circle.create', {
    name: `Circle ${process.pid} ${n}`, subject: 'Statistics', phase: 'secondary',
    description: 'A circle for tests', moderated: false, ...fields,
  });
  assert.equal(r.type, 'ok', `circle.create: ${JSON.stringify(r)}`);
  // The creator's connections subscribe to the circle when told of their membership.
  await admin.client.waitEvent('circle.membership', (e) => e.circle === r.circle.id && e.status === 'member');
  return r;
}

// A new user who joined the open circle `cid` and whose connection now follows the circle's events.
export async function joined(stack, cid, prefix = 'm', url = stack.wsUrl) {
  const m = await newMember(stack, prefix, url);
  await joinAndWait(m, cid);
  return m;
}

// circle.join on an open circle, then waits for the membership event that subscribes the connection.
export async function joinAndWait(m, cid) {
  const r = await m.client.request('circle.join', { circle: cid });
  assert.equal(r.type, 'ok', `circle.join: ${JSON.stringify(r)}`);
  assert.equal(r.status, 'member');
  await m.client.waitEvent('circle.membership', (e) => e.circle === cid && e.status === 'member');
}

// Asserts an error answer with `code` (and, for bad_request, the offending `field`).
export function assertError(r, code, field) {
  assert.equal(r.type, 'error', `expected error ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `expected ${code}: ${JSON.stringify(r)}`);
  assert.equal(typeof r.message, 'string');
  assert.ok(r.message.length > 0);
  if (field) assert.equal(r.field, field, `expected field ${field}: ${JSON.stringify(r)}`);
}

// Node flags for tests that sign many users in from one address (the login limit is per IP).
export const SIGNIN = ['--login-rate', '100000', '--login-burst', '100000'];

// A well-formed id that names nothing.
export const NO_SUCH_ID = 'f'.repeat(32);
