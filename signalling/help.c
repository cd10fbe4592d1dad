/* help.c — help.* handlers and the timeout sweep (see help.h). Each handler validates its fields, then
 * runs one store script that checks authorisation, writes and publishes atomically. */
#include "help.h"

#include <stdio.h>
#include <string.h>

#include "calls.h"
#include "circle_lua.h"
#include "config.h"
#include "feature.h"
#include "help_lua.h"
#include "store.h"

/* Lua shared by the help scripts. Offers go to experts/mentors of the circle who are on duty, are not
 * the requester, and are neither shown in_call nor holding a call (ringing counts). The channel message
 * mirrors channels.c's message view, with the `help` object (help_lua.h). */
#define HELP_SCRIPT_LUA                                                                              \
    CIRCLE_LUA_PRELUDE                                                                               \
    HELP_LUA                                                                                         \
    CALLS_LUA_OPEN_ACTIVE                                                                            \
    "local function help_obj(rid)\n"                                                                 \
    "  local h = hash('help:' .. rid)\n"                                                             \
    "  local by = cjson.null\n"                                                                      \
    "  if h.taken_by then by = brief(h.taken_by) end\n"                                              \
    "  return {id = rid, circle = h.circle, topic = h.topic, details = h.details or '',\n"            \
    "    requester = brief(h.requester), status = help_status(h.status, h.call), taken_by = by,\n"    \
    "    created = tonumber(h.created), message = h.message or cjson.null}\n"                         \
    "end\n"                                                                                          \
    "local function load(rid)\n"                                                                     \
    "  local h = hash('help:' .. rid)\n"                                                             \
    "  if not h.status then return nil end\n"                                                        \
    "  h.id = rid\n"                                                                                 \
    "  return h\n"                                                                                   \
    "end\n"                                                                                          \
    "local function help_text(h)\n"                                                                  \
    "  if (h.details or '') == '' then return h.topic end\n"                                          \
    "  return h.topic .. '\\n\\n' .. h.details\n"                                                     \
    "end\n"                                                                                          \
    "local function help_msg(h)\n"                                                                   \
    "  local text = redis.call('HGET', 'channel:' .. h.channel .. ':edits', h.message)\n"             \
    "  return {id = h.message, channel = h.channel, user = brief(h.requester),\n"                     \
    "    text = text or help_text(h), ts = tonumber(string.match(h.message, '^(%d+)')),\n"             \
    "    edited = text and true or false, help = help_brief(h.id)}\n"                                 \
    "end\n"                                                                                          \
    "local function help_channel(cid)\n"                                                             \
    "  for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do\n"       \
    "    if redis.call('HGET', 'channel:' .. chid, 'name') == 'help' then return chid end\n"          \
    "  end\n"                                                                                        \
    "  return nil\n"                                                                                 \
    "end\n"                                                                                          \
    /* a status change: chat.updated for the channel message, if the request has one */              \
    "local function post_update(h)\n"                                                                \
    "  if not h.message then return end\n"                                                           \
    "  if #redis.call('XRANGE', 'channel:' .. h.channel .. ':log', h.message, h.message) == 0 then\n" \
    "    return\n"                                                                                   \
    "  end\n"                                                                                        \
    "  publish_circle(h.circle, {type = 'chat.updated', circle = h.circle, message = help_msg(h)})\n"  \
    "end\n"                                                                                          \
    "local function set_status(h, status, by)\n"                                                     \
    "  h.status = status\n"                                                                          \
    "  redis.call('HSET', 'help:' .. h.id, 'status', status)\n"                                      \
    "  if by then h.taken_by = by; redis.call('HSET', 'help:' .. h.id, 'taken_by', by) end\n"         \
    "  post_update(h)\n"                                                                             \
    "end\n"                                                                                          \
    "local function tell_offered(h, ev, except)\n"                                                   \
    "  local s = cjson.encode(ev)\n"                                                                 \
    "  for _, uid in ipairs(redis.call('SMEMBERS', 'help:' .. h.id .. ':offered')) do\n"              \
    "    if uid ~= except then redis.call('PUBLISH', 'ev:u:' .. uid, s) end\n"                        \
    "  end\n"                                                                                        \
    "end\n"                                                                                          \
    "local function can_take(cid, uid, requester, now)\n"                                            \
    "  return uid ~= requester and help_on_duty(cid, uid, now) and\n"                                 \
    "    presence_of(uid, now) ~= 'in_call' and not calls_busy(uid)\n"                               \
    "end\n"                                                                                          \
    /* offers h to every expert who can take it now; the number offered */                          \
    "local function offer(h, now)\n"                                                                 \
    "  local ev = cjson.encode({type = 'help.offer', request = help_obj(h.id)})\n"                    \
    "  local n = 0\n"                                                                                \
    "  for _, uid in ipairs(redis.call('HKEYS', 'help:duty:' .. h.circle)) do\n"                      \
    "    if can_take(h.circle, uid, h.requester, now) then\n"                                        \
    "      redis.call('SADD', 'help:' .. h.id .. ':offered', uid)\n"                                  \
    "      redis.call('PUBLISH', 'ev:u:' .. uid, ev)\n"                                              \
    "      n = n + 1\n"                                                                              \
    "    end\n"                                                                                      \
    "  end\n"                                                                                        \
    "  return n\n"                                                                                   \
    "end\n"                                                                                          \
    "local function arm(h, now, timeout)\n"                                                          \
    "  local d = string.format('%d', now + timeout)\n"                                               \
    "  redis.call('ZADD', 'help:deadlines', d, h.id)\n"                                              \
    "  redis.call('HSET', 'help:' .. h.id, 'deadline', d)\n"                                          \
    "end\n"                                                                                          \
    /* the request rid as its asker uid may still change it (open or unanswered), or nil and an error */ \
    "local function asker_may_change(rid, uid)\n"                                                   \
    "  local h = load(rid)\n"                                                                       \
    "  if not h then return nil, fail('not_found', 'no such help request') end\n"                    \
    "  if h.requester ~= uid then return nil, fail('forbidden', 'only the person who asked may do this') end\n" \
    "  if h.status ~= 'open' and h.status ~= 'unanswered' then\n"                                   \
    "    return nil, fail('conflict', 'this request is ' .. h.status)\n"                             \
    "  end\n"                                                                                       \
    "  return h\n"                                                                                  \
    "end\n"

/* ARGV: uid, device, cid, "1"|"0" */
static store_script_t duty_script = STORE_SCRIPT("help.duty", HELP_SCRIPT_LUA
    "local uid, dev, cid, on = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'\n"
    "if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"
    "local role = role_of(cid, uid)\n"
    "if role ~= 'expert' and role ~= 'mentor' then\n"
    "  return fail('forbidden', 'only experts and mentors of the circle go on duty')\n"
    "end\n"
    "if on then redis.call('HSET', 'help:duty:' .. cid, uid, dev)\n"
    "else redis.call('HDEL', 'help:duty:' .. cid, uid) end\n"
    "local n = help_duty_count(cid, now_ms())\n"
    "publish_circle(cid, {type = 'help.duty', circle = cid, user = uid, on_duty = on, experts_on_duty = n})\n"
    "return cjson.encode({on_duty = on, experts_on_duty = n})\n");

/* ARGV: rid, uid, device, cid, topic, details, timeout (ms) */
static store_script_t request_script = STORE_SCRIPT("help.request", HELP_SCRIPT_LUA
    "local rid, uid, dev, cid, topic, details = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]\n"
    "if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"
    "if not role_of(cid, uid) then return fail('forbidden', 'only members of the circle ask for help in it') end\n"
    "if calls_busy(uid) then return fail('conflict', 'you are in a call; ask for help when it is over') end\n"
    "local now = now_ms()\n"
    "redis.call('HSET', 'help:' .. rid, 'circle', cid, 'requester', uid, 'requester_dev', dev,\n"
    "  'topic', topic, 'details', details, 'status', 'open', 'created', string.format('%d', now))\n"
    "redis.call('ZADD', 'circle:' .. cid .. ':help', string.format('%d', now), rid)\n"
    "local h = load(rid)\n"
    "local chid = help_channel(cid)\n"
    "if chid then\n"
    "  h.channel = chid\n"
    "  h.message = redis.call('XADD', 'channel:' .. chid .. ':log', '*', 'user', uid, 'text', help_text(h),\n"
    "    'help', rid)\n"
    "  redis.call('HSET', 'help:' .. rid, 'channel', chid, 'message', h.message)\n"
    "  publish_circle(cid, {type = 'chat.message', circle = cid, message = help_msg(h)})\n"
    "end\n"
    "local n = offer(h, now)\n"
    "arm(h, now, tonumber(ARGV[7]))\n"
    "return cjson.encode({request = help_obj(rid), offered = n})\n");

/* ARGV: rid, uid, device, new call id. The status check and the call are one step: first accept wins. */
static store_script_t accept_script = STORE_SCRIPT("help.accept", HELP_SCRIPT_LUA
    "local rid, uid, dev, call = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local h = load(rid)\n"
    "if not h then return fail('not_found', 'no such help request') end\n"
    "if redis.call('SISMEMBER', 'help:' .. rid .. ':offered', uid) == 0 then\n"
    "  return fail('forbidden', 'this request was not offered to you')\n"
    "end\n"
    "if h.status == 'taken' then return fail('conflict', 'someone else already took this request') end\n"
    "if h.status ~= 'open' then return fail('conflict', 'this request is ' .. help_status(h.status, h.call)) end\n"
    "if calls_busy(uid) then return fail('conflict', 'you are already in a call') end\n"
    "if calls_busy(h.requester) then return fail('conflict', 'the person who asked is in another call') end\n"
    "local live = redis.call('ZSCORE', 'presence:devices', h.requester .. '/' .. h.requester_dev)\n"
    "if not (live and tonumber(live) > now_ms()) then\n"
    "  return fail('conflict', 'the person who asked is no longer connected')\n"
    "end\n"
    "redis.call('ZREM', 'help:deadlines', rid)\n"
    "redis.call('HSET', 'help:' .. rid, 'call', call)\n"
    "calls_open_active(call, h.requester, h.requester_dev, uid, dev,\n"
    "  {help = rid, peer_user = brief(uid)}, {help = rid, peer_user = brief(h.requester)})\n"
    "set_status(h, 'taken', uid)\n"
    "tell_offered(h, {type = 'help.taken', request = rid, circle = h.circle, by = brief(uid)}, uid)\n"
    "return cjson.encode({request = help_obj(rid), call = call, peer = h.requester, polite = true,\n"
    "  state = 'active'})\n");

/* ARGV: rid, uid */
static store_script_t cancel_script = STORE_SCRIPT("help.cancel", HELP_SCRIPT_LUA
    "local h, e = asker_may_change(ARGV[1], ARGV[2])\n"
    "if e then return e end\n"
    "redis.call('ZREM', 'help:deadlines', h.id)\n"
    "local was = h.status\n"
    "set_status(h, 'cancelled')\n"
    "if was == 'open' then\n"
    "  tell_offered(h, {type = 'help.cancelled', request = h.id, circle = h.circle, reason = 'cancelled'})\n"
    "end\n"
    "return cjson.encode({request = help_obj(h.id)})\n");

/* ARGV: rid, uid, timeout (ms). Offers again, to whoever can take it now. */
static store_script_t wait_script = STORE_SCRIPT("help.wait", HELP_SCRIPT_LUA
    "local h, e = asker_may_change(ARGV[1], ARGV[2])\n"
    "if e then return e end\n"
    "local now = now_ms()\n"
    "if h.status ~= 'open' then set_status(h, 'open') end\n"
    "local n = offer(h, now)\n"
    "arm(h, now, tonumber(ARGV[3]))\n"
    "return cjson.encode({request = help_obj(h.id), offered = n})\n");

/* ARGV: uid, cid, limit. Newest first. */
static store_script_t list_script = STORE_SCRIPT("help.list", HELP_SCRIPT_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"
    "if not role_of(cid, uid) and not is_admin(uid) then\n"
    "  return fail('forbidden', 'only members of the circle see its help requests')\n"
    "end\n"
    "local out = {}\n"
    "for _, rid in ipairs(redis.call('ZREVRANGE', 'circle:' .. cid .. ':help', 0, tonumber(ARGV[3]) - 1)) do\n"
    "  if redis.call('EXISTS', 'help:' .. rid) == 1 then out[#out + 1] = cjson.encode(help_obj(rid)) end\n"
    "end\n"
    "return '{\"requests\":' .. jarr(out) .. '}'\n");

/* ARGV: batch size. ZREM claims a deadline: with every node sweeping, each timeout is handled once. */
static store_script_t sweep_script = STORE_SCRIPT("help.sweep", HELP_SCRIPT_LUA
    "local now = now_ms()\n"
    "local due = redis.call('ZRANGEBYSCORE', 'help:deadlines', '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))\n"
    "for _, rid in ipairs(due) do\n"
    "  local h = redis.call('ZREM', 'help:deadlines', rid) == 1 and load(rid)\n"
    "  if h and h.status == 'open' then\n"
    "    set_status(h, 'unanswered')\n"
    "    redis.call('PUBLISH', 'ev:u:' .. h.requester, cjson.encode({type = 'help.unanswered',\n"
    "      request = rid, circle = h.circle, options = {'wait', 'post', 'book'}}))\n"
    "    tell_offered(h, {type = 'help.cancelled', request = rid, circle = h.circle, reason = 'unanswered'})\n"
    "  end\n"
    "end\n"
    "return #due\n");

/* ---------------- requests ---------------- */

/* The request's device id, or NULL (answered: the connection is gone). */
static const char *req_device(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return conn_device(c);
}

static void timeout_ms(char out[24])
{
    snprintf(out, 24, "%lld", config_get()->help_timeout * 1000);
}

static void help_duty(req_t *r)
{
    const char *cid, *dev;
    int on;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_bool(r, "on", 1, &on) < 0 ||
        !(dev = req_device(r)))
        return;
    const char *args[] = {req_user(r), dev, cid, on ? "1" : "0"};
    feature_eval_answer(r, &duty_script, 4, args);
}

static void help_request(req_t *r)
{
    const char *cid, *topic, *details = "", *dev;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 ||
        req_str(r, "topic", 1, HELP_TOPIC_MAX, 1, &topic) < 0 ||
        req_str(r, "details", 0, HELP_DETAILS_MAX, 0, &details) < 0 || !(dev = req_device(r)))
        return;
    char rid[FEATURE_ID_LEN + 1], tmo[24];
    if (feature_id_new(rid) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    timeout_ms(tmo);
    const char *args[] = {rid, req_user(r), dev, cid, topic, details, tmo};
    feature_eval_answer(r, &request_script, 7, args);
}

static void help_accept(req_t *r)
{
    const char *rid, *dev;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0 || !(dev = req_device(r)))
        return;
    char call[FEATURE_ID_LEN + 1];
    if (feature_id_new(call) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    const char *args[] = {rid, req_user(r), dev, call};
    feature_eval_answer(r, &accept_script, 4, args);
}

static void help_cancel(req_t *r)
{
    const char *rid;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0)
        return;
    const char *args[] = {rid, req_user(r)};
    feature_eval_answer(r, &cancel_script, 2, args);
}

static void help_wait(req_t *r)
{
    const char *rid;
    if (feature_req_id(r, "request", 0, 1, &rid) < 0)
        return;
    char tmo[24];
    timeout_ms(tmo);
    const char *args[] = {rid, req_user(r), tmo};
    feature_eval_answer(r, &wait_script, 3, args);
}

static void help_list(req_t *r)
{
    const char *cid;
    long long limit = 20;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_int(r, "limit", 1, 100, 0, &limit) < 0)
        return;
    char lim[8];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), cid, lim};
    feature_eval_answer(r, &list_script, 3, args);
}

static const handler_t handlers[] = {
    {"help.duty", help_duty, H_RL_READ},
    {"help.request", help_request, H_RL_MSG},
    {"help.accept", help_accept, H_RL_READ},
    {"help.cancel", help_cancel, H_RL_READ},
    {"help.wait", help_wait, H_RL_MSG},
    {"help.list", help_list, H_RL_READ},
    {NULL, NULL, 0},
};

static int help_start(uv_loop_t *loop);
static void help_stop(void);

const module_t help_module = {
    .name = "help",
    .handlers = handlers,
    .start = help_start,
    .stop = help_stop,
};

/* ---------------- the timeout sweep ---------------- */

static uv_timer_t sweeper;
static int started;

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    static const char batch[] = "100";
    _Static_assert(HELP_SWEEP_BATCH == 100, "batch text");
    const char *args[] = {batch};
    if (store_is_up())
        store_eval(&sweep_script, NULL, NULL, 0, 1, args);
}

static int help_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->help_sweep_interval;
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&sweeper, sweep_fire, every, every);
    started = 1;
    return 0;
}

static void help_stop(void)
{
    if (!started)
        return;
    started = 0;
    uv_close((uv_handle_t *)&sweeper, NULL);
}
