// bench-history.mjs — the cost of a mentorship's history and of linking a note (goals.h) on loopback, against
// an optimised staffroom-signal with its own Redis and PostgreSQL. The pair gets BOOKINGS bookings (written
// into Redis as schedule.lua writes them, 0 … the 1000 that goals_pair looks at) and one recording per booking
// (media rows as record.c stores them); then RUNS sequential mentorship.history requests per size: median and
// 95th percentile round trip, events and bytes per answer, and once each, alone: the goals_pair call (the
// Redis side) and the recordings' lookup by session in PostgreSQL (EXPLAIN ANALYZE). Then the pair's notes
// list is filled to NOTES notes (the list keeps 1000) and goal.link {note} of the last one (the longest scan)
// is timed the same way.
//   make bench-history   (RUNS=50 NOTES=1000)
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { Harness, eventually } from '../lib/harness.mjs';
import { newAdmin, createCircle, joined, SIGNIN, startReadyStack } from '../lib/community.mjs';

const RUNS = Number(process.env.RUNS || 50);
const NOTES = Number(process.env.NOTES || 1000);
const SIZES = [0, 10, 100, 1000];

const h = new Harness('bench-history');
const pg = await h.postgres();
const stack = await startReadyStack(h, { args: [...SIGNIN, '--postgres-conninfo-file', pg.conninfoFile, '--log-level', 'warn',
  '--request-rate', '100000', '--request-burst', '100000', '--message-rate', '100000', '--message-burst', '100000'] });
const admin = await newAdmin(stack);
const { circle } = await createCircle(admin, { name: 'Bench mentoring' });
const mentor = await joined(stack, circle.id, 'mentor');
const mentee = await joined(stack, circle.id, 'mentee');
let m;
await eventually(async () => {
  const r = await mentor.client.request('mentorship.propose', { mentee: mentee.user.id, goals: [{ title: 'Bench goal' }] });
  if (r.type === 'ok') m = r.mentorship;
  return Boolean(m);
}, { timeoutMs: 30000, what: 'PostgreSQL up' });
await mentee.client.ok('mentorship.accept', { mentorship: m.id });

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
async function timed(fn) {
  const ms = [];
  let last;
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    last = await fn();
    ms.push(performance.now() - t);
  }
  return { p50: pct(ms, 0.5).toFixed(2), p95: pct(ms, 0.95).toFixed(2), last };
}

console.log(`# bench-history: ${RUNS} sequential requests per row, ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('bookings  recordings  events  bytes    p50 ms  p95 ms  fcall ms  recordings sql ms');
let made = 0;
const start0 = Math.floor(Date.now() / 1000) + 86400;
for (const n of SIZES) {
  for (; made < n; made++) {
    const bid = made.toString(16).padStart(32, '0');
    const s = start0 + made * 1800;
    await stack.redisCmd('HSET', `booking:${bid}`, 'mentor', mentor.user.id, 'mentee', mentee.user.id, 'start', String(s),
      'end', String(s + 1800), 'topic', `Session ${made}`, 'status', made % 5 ? 'booked' : 'cancelled', 'sequence', '0',
      'created', '0', 'updated', '0');
    for (const u of [mentor.user.id, mentee.user.id]) await stack.redisCmd('ZADD', `user:${u}:bookings`, String(s), bid);
  }
  h.psql(pg, `INSERT INTO media (id, owner, kind, title, mime, duration_ms, path, state, session)
    SELECT md5('rec' || i), '${mentee.user.id}', 'recording', 'Recording ' || i, 'video/webm', 600000, 'recordings/' || md5('rec' || i),
    'ready', lpad(to_hex(i), 32, '0') FROM generate_series(0, ${n - 1}) i ON CONFLICT DO NOTHING`);
  const r = await timed(() => mentee.client.ok('mentorship.history', { mentorship: m.id }));
  const recs = r.last.history.filter((e) => e.kind === 'recording').length;
  // the two parts of the answer alone: the Redis function (the pair's bookings) and the SQL statement's run
  const fstart = performance.now();
  await stack.redisCmd('FCALL', 'goals_pair', '0', mentor.user.id, mentee.user.id, '');
  const fcall = (performance.now() - fstart).toFixed(1);
  const plan = h.psql(pg, `EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM media x WHERE x.kind = 'recording'
    AND x.session IN (SELECT lpad(to_hex(i), 32, '0') FROM generate_series(0, ${Math.max(0, n - 1)}) i)`);
  const sqlMs = JSON.parse(plan)[0]['Execution Time'].toFixed(1);
  console.log(`${String(n).padStart(8)}  ${String(recs).padStart(10)}  ${String(r.last.history.length).padStart(6)}  ${String(JSON.stringify(r.last).length).padStart(7)}  ${r.p50.padStart(6)}  ${r.p95.padStart(6)}  ${fcall.padStart(8)}  ${sqlMs.padStart(8)}`);
}

for (let i = 0; i < NOTES; i++) await mentee.client.ok('mentoring.notes.add', { with: mentor.user.id, kind: 'note', text: `Note ${i}: ${'x'.repeat(200)}` });
const notes = (await mentee.client.ok('mentoring.notes.list', { with: mentor.user.id })).notes;
const lastNote = notes[notes.length - 1].id;
const g = m.goals[0].id;
const l = await timed(() => mentee.client.ok('goal.link', { goal: g, note: lastNote }));
console.log(`goal.link {note} with ${notes.length} notes in the pair (the last one): p50 ${l.p50} ms, p95 ${l.p95} ms`);
const s = await timed(() => mentee.client.ok('goal.link', { goal: g, session: (SIZES.at(-1) - 1).toString(16).padStart(32, '0') }));
console.log(`goal.link {session} for comparison: p50 ${s.p50} ms, p95 ${s.p95} ms`);
await h.close();
