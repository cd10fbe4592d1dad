// lua_library.test.mjs — the Redis Functions library (signalling/lua/, loaded by store.c): a node loads it
// into a fresh Redis before its first call, loads it again when Redis has lost it (FUNCTION FLUSH; a
// restart without persistence), and requests keep working through all of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, eventually } from '../lib/harness.mjs';
import { startStack, connect, registerUser, uniqueName, httpGet } from '../lib/client.mjs';
import { redisReady, newAdmin, createCircle } from '../lib/community.mjs';

// Every function of the library, with the read-only ones (flag no-writes) marked.
const READ_ONLY = [
  'accounts_lookup', 'accounts_pwhash', 'archive_audit_take', 'archive_channels', 'archive_take', 'channel_list', 'chat_archived_auth', 'chat_search_scope', 'chat_history', 'circle_get', 'circle_list',
  'circle_members', 'circle_pending', 'help_list', 'mentoring_notes_list', 'notifications_list',
  'presence_circle_counts', 'presence_users_status', 'schedule_active', 'schedule_availability_get',
  'schedule_ics', 'schedule_ics_feed', 'schedule_load', 'schedule_mine',
  // moderation, read markers (issue 11)
  'accounts_session_live', 'circle_role_requests', 'moderation_audit', 'moderation_queue', 'unread_counts',
  // recording with consent (issue 15)
  'record_status',
  // profile cards (issue 11), lesson clips (issue 15)
  'circle_shared', 'media_circles', 'library_scope', 'media_person', 'media_session',
  // mentoring goals (issue 15)
  'goals_who', 'goals_pair',
];
const WRITING = [
  'accounts_logout_all', 'accounts_password_set', 'accounts_profile_update', 'accounts_register', 'accounts_resume',
  'accounts_session', 'accounts_session_end', 'accounts_sessions', 'archive_dirty', 'archive_lock', 'archive_trim', 'archive_audit_done', 'archive_relang_done', 'archive_unlock', 'circle_set_language', 'calendar_revoke', 'calendar_token', 'call_accept', 'call_end', 'call_invite',
  'call_refresh', 'call_signal', 'call_sweep', 'channel_create', 'chat_archived_publish', 'chat_delete', 'chat_edit', 'chat_send',
  'chat_typing', 'circle_create', 'circle_decide', 'circle_join', 'circle_leave', 'circle_set_role',
  'help_accept', 'help_cancel', 'help_duty', 'help_request', 'help_sweep', 'help_wait', 'mentoring_notes_add',
  'presence_gone', 'presence_refresh', 'presence_set', 'presence_sweep', 'ratelimit_take', 'room_create', 'room_join',
  'room_leave', 'room_list', 'room_place_sfu', 'room_refresh', 'room_signal', 'room_sweep', 'room_update', 'schedule_availability_set',
  'schedule_book', 'schedule_cancel', 'schedule_pending', 'schedule_reschedule', 'schedule_tick', 'session_join',
  // moderation, read markers (issue 11)
  'admin_suspend', 'admin_unsuspend', 'channel_read', 'chat_report', 'circle_remove', 'circle_role_decide',
  'circle_role_request', 'moderation_resolve',
  // recording with consent (issue 15)
  'record_consent', 'record_finished', 'record_newcomers', 'record_request', 'record_started', 'record_stop',
  // lesson clips (issue 15)
  'media_token_key',
];

let h, stack;
before(async () => {
  h = new Harness('lua-library');
  // No AOF, no RDB: a restart loses everything, the library included.
  const redis = await h.redis({ appendonly: false });
  stack = await startStack(h, { redis, args: ['--login-rate', '100000', '--login-burst', '100000'] });
  await redisReady(stack.nodes[0]);
});
after(async () => { await h.close(); });

// FUNCTION LIST (RESP2: maps as flat [key, value, …] arrays) → { libraryName: { fn: [flags] } }.
async function functionList() {
  const obj = (flat) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]]])));
  const out = {};
  for (const lib of await stack.redisCmd('FUNCTION', 'LIST')) {
    const l = obj(lib);
    out[l.library_name] = Object.fromEntries(l.functions.map((f) => { const o = obj(f); return [o.name, o.flags]; }));
  }
  return out;
}

async function freshUserWorks(prefix) {
  const c = await connect(stack.wsUrl);
  const r = await registerUser(c, uniqueName(prefix));
  assert.ok(r.user && r.user.id, JSON.stringify(r));
  await c.close();
  return r;
}

test('a fresh Redis gets the staffroom library, with every function and the right flags, and requests work', async () => {
  const libs = await functionList();
  assert.deepEqual(Object.keys(libs), ['staffroom']);
  const fns = libs.staffroom;
  assert.deepEqual(Object.keys(fns).sort(), [...READ_ONLY, ...WRITING].sort());
  for (const f of READ_ONLY) assert.deepEqual(fns[f], ['no-writes'], f);
  for (const f of WRITING) assert.deepEqual(fns[f], [], f);

  await freshUserWorks('lib');
  const admin = await newAdmin(stack);
  const r = await createCircle(admin);
  assert.equal(r.channels.length, 2);
  const got = await admin.client.request('circle.get', { circle: r.circle.id });
  assert.equal(got.type, 'ok', JSON.stringify(got));
  assert.equal(got.circle.my_role, 'moderator');
  await admin.client.close();
});

test('after FUNCTION FLUSH the next request loads the library again and succeeds', async () => {
  assert.equal(await stack.redisCmd('FUNCTION', 'FLUSH'), 'OK');
  assert.deepEqual(await functionList(), {});
  await freshUserWorks('flushed');
  assert.ok((await functionList()).staffroom.accounts_register, 'library loaded again');
});

test('after a Redis restart without persistence the node reconnects, loads the library and works', async () => {
  const before = await freshUserWorks('gone');
  const port = stack.redis.port;
  await h.stop(stack.redis);
  await eventually(async () => (await httpGet(`${stack.httpUrl}/healthz`)).status === 503,
    { what: '/healthz 503' });
  stack.redis = await h.redis({ port, appendonly: false });
  await eventually(async () => (await httpGet(`${stack.httpUrl}/healthz`)).status === 200,
    { timeoutMs: 15000, what: '/healthz 200 again' });
  // the data is gone (so is the library Redis had), yet a new user registers, the library is back
  const c = await connect(stack.wsUrl);
  const login = await c.request('auth.login', { name: before.user.name, password: before.password }, 30000);
  assert.equal(login.code, 'unauthorized', JSON.stringify(login));
  await c.close();
  await freshUserWorks('after');
  assert.ok((await functionList()).staffroom.circle_create, 'library loaded on reconnection');
  // loaded with the connection, before any call: no FCALL met "Function not found" on this Redis
  assert.doesNotMatch(await stack.redisCmd('INFO', 'errorstats'), /errorstat_ERR:/);
});
