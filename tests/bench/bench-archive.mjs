// bench-archive.mjs — figures for the PostgreSQL chat archive (make bench-archive; not pass/fail):
// BENCH_MESSAGES messages (default 1,000,000) in BENCH_CHANNELS channels (default 200), written straight
// into the channels' Redis streams (redis-cli --pipe) while PostgreSQL is stopped, then PostgreSQL started:
//   - archiver throughput: messages copied per second while it catches up (target ≥ 10,000/s),
//   - Redis memory of one channel's stream before and after trimming to archive-keep,
//   - chat.history p50/p95 for pages that cross the boundary between the stream and the archive,
//   - chat.search p50/p95 over the whole archive (target p95 ≤ 50 ms), selective and broad queries.
// Everything on 127.0.0.1, private Redis and PostgreSQL in build/test-run/ (harness.mjs), bounded in count
// and time. STAFFROOM_BUILD picks the binary (the Makefile passes the optimised build/).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, eventually } from '../lib/harness.mjs';
import { nodeLog } from '../lib/client.mjs';
import { newAdmin, createCircle, joined, SIGNIN, startReadyStack } from '../lib/community.mjs';

const N = Number(process.env.BENCH_MESSAGES || 1000000);
const CHANNELS = Number(process.env.BENCH_CHANNELS || 200);
const KEEP = Number(process.env.BENCH_KEEP || 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES || 200);
const WORDS = ('p-value confidence interval hypothesis sampling distribution variance regression rubric ' +
  'assessment feedback curriculum fractions algebra geometry photosynthesis enzyme ecosystem sonnet essay ' +
  'grammar vocabulary phonics lab safety fieldtrip parents homework detention timetable').split(' ');

const h = new Harness('bench-archive');
const out = {};
try {
  const pg = await h.postgres();
  const stack = await startReadyStack(h, { args: [...SIGNIN, '--log-level', 'warn', '--postgres-conninfo-file',
    pg.conninfoFile, '--archive-keep', String(KEEP), '--archive-interval', '20', '--archive-batch', '5000',
    '--postgres-retry-max', '200'] });
  const admin = await newAdmin(stack);
  const { circle } = await createCircle(admin);
  const alice = await joined(stack, circle.id, 'alice');
  const chids = [];
  for (let i = 0; i < CHANNELS; i++) chids.push((await admin.client.ok('channel.create', { circle: circle.id, name: `bench-${i}` })).channel.id);
  await h.postgresStop(pg);

  // Writes the messages as XADD lines (inline commands) for redis-cli --pipe, in chunks.
  const file = path.join(h.dir, 'xadd.txt');
  const fd = fs.openSync(file, 'w');
  let rnd = 12345;
  const next = () => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd; };
  for (let i = 0; i < N; i += 10000) {
    let chunk = '';
    for (let j = i; j < Math.min(N, i + 10000); j++) {
      const text = Array.from({ length: 8 }, () => WORDS[next() % WORDS.length]).join(' ');
      chunk += `XADD channel:${chids[j % CHANNELS]}:log * user ${alice.user.id} text "${text} ${j}"\n`;
    }
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
  execFileSync('sh', ['-c', `redis-cli -p ${stack.redisPort} --pipe < ${file} > /dev/null`]);
  const sampleKey = `channel:${chids[0]}:log`;
  out.stream_bytes_before = Number(await stack.redisCmd('MEMORY', 'USAGE', sampleKey, 'SAMPLES', '0'));
  out.stream_len_before = Number(await stack.redisCmd('XLEN', sampleKey));

  await h.postgresStart(pg);
  const t0 = Date.now();
  const count = () => Number(h.psql(pg, 'SELECT count(*) FROM messages').trim());
  await eventually(async () => count() === N && Number(await stack.redisCmd('XLEN', sampleKey)) <= KEEP,
    { timeoutMs: 1800000, everyMs: 500, what: 'archive caught up' });
  const secs = (Date.now() - t0) / 1000;
  out.archived = N;
  out.archiver_seconds = secs;
  out.archiver_messages_per_s = Math.round(N / secs);
  out.stream_bytes_after = Number(await stack.redisCmd('MEMORY', 'USAGE', sampleKey, 'SAMPLES', '0'));
  out.stream_len_after = Number(await stack.redisCmd('XLEN', sampleKey));

  const lat = async (fn) => {
    const a = [];
    for (let i = 0; i < SAMPLES; i++) { const s = process.hrtime.bigint(); await fn(i); a.push(Number(process.hrtime.bigint() - s) / 1e6); }
    a.sort((x, y) => x - y);
    return { p50_ms: +a[Math.floor(SAMPLES * 0.5)].toFixed(2), p95_ms: +a[Math.floor(SAMPLES * 0.95)].toFixed(2) };
  };
  // Pages of 100 ending 50 messages into the stream: half from the archive, half from the stream.
  const bounds = [];
  for (const chid of chids.slice(0, 20)) {
    const page = (await alice.client.ok('chat.history', { channel: chid, limit: 50 })).messages;
    bounds.push([chid, page[0].id]);
  }
  out.history_across_boundary = await lat(async (i) => {
    const [chid, before] = bounds[i % bounds.length];
    const r = await alice.client.ok('chat.history', { channel: chid, limit: 100, before: bounds[i % bounds.length][1] });
    if (r.messages.length !== 100) throw new Error(`short page in ${chid} before ${before}`);
  });
  out.search_selective = await lat(async (i) => { await alice.client.ok('chat.search', { query: `"${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]}"`, limit: 20 }); });
  out.search_one_word = await lat(async (i) => { await alice.client.ok('chat.search', { query: WORDS[i % WORDS.length], limit: 20 }); });
  out.node_log_tail = nodeLog(stack.nodes[0]).split('\n').filter((l) => /warn|error/.test(l)).slice(-3);
  console.log(JSON.stringify({ messages: N, channels: CHANNELS, keep: KEEP, ...out }, null, 2));
} finally {
  await h.close();
}
