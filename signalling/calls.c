/* calls.c — see calls.h. */
#include "calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "feature.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "presence.h"
#include "store.h"
#include "strmap.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define CALL_REFRESH_MS (CALL_PARTY_TTL * 1000 / 3) /* a party's node pushes its deadline back this often */
#define CALL_SWEEP_MS 500                           /* how often every node claims due deadlines */
#define CALL_SWEEP_BATCH "200"                      /* deadlines claimed per sweep: bounded work per call */

/* ---------------- scripts (one per state change; each publishes its own events) ---------------- */

/* load(): the call as a table (nil if gone). pub(): publish an event on ev:u:<uid>, with the routing
 * member KEY = dev appended when dev is given (bus.h). ended(): deletes the call and tells both sides. */
#define CALL_LUA_PRELUDE \
    "local ACTIVE_TTL = " STR(CALL_ACTIVE_TTL) "\n" \
    "local PARTY_MS = " STR(CALL_PARTY_TTL) " * 1000\n" \
    "local function now_ms() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end\n" \
    "local function load(id)\n" \
    "  local h = redis.call('HGETALL', 'call:' .. id)\n" \
    "  if #h == 0 then return nil end\n" \
    "  local c = {id = id}\n" \
    "  for i = 1, #h, 2 do c[h[i]] = h[i + 1] end\n" \
    "  return c\n" \
    "end\n" \
    "local function pub(uid, key, dev, t)\n" \
    "  local s = cjson.encode(t)\n" \
    "  if dev then s = string.sub(s, 1, -2) .. ',\"' .. key .. '\":' .. cjson.encode(dev) .. '}' end\n" \
    "  redis.call('PUBLISH', 'ev:u:' .. uid, s)\n" \
    "end\n" \
    "local function ended(c, reason, by)\n" \
    "  redis.call('DEL', 'call:' .. c.id)\n" \
    "  redis.call('ZREM', 'calls:deadlines', c.id .. '|ring', c.id .. '|caller', c.id .. '|callee')\n" \
    "  for _, u in ipairs({c.caller, c.callee}) do\n" \
    "    if redis.call('GET', 'user:' .. u .. ':call') == c.id then redis.call('DEL', 'user:' .. u .. ':call') end\n" \
    "  end\n" \
    "  local ev = {type = 'call.ended', call = c.id, reason = reason, by = by}\n" \
    "  pub(c.caller, 'to_device', c.caller_dev, ev)\n" \
    "  pub(c.callee, 'to_device', c.callee_dev, ev)\n" \
    "  return ''\n" \
    "end\n" \
    "local function accept(c, uid, dev)\n" \
    "  if c.callee ~= uid then return redis.error_reply('forbidden: only the person called can accept') end\n" \
    "  if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was already answered') end\n" \
    "  redis.call('HSET', 'call:' .. c.id, 'state', 'active', 'callee_dev', dev)\n" \
    "  redis.call('EXPIRE', 'call:' .. c.id, ACTIVE_TTL)\n" \
    "  redis.call('EXPIRE', 'user:' .. c.caller .. ':call', ACTIVE_TTL)\n" \
    "  redis.call('EXPIRE', 'user:' .. c.callee .. ':call', ACTIVE_TTL)\n" \
    "  local due = now_ms() + PARTY_MS\n" \
    "  redis.call('ZREM', 'calls:deadlines', c.id .. '|ring')\n" \
    "  redis.call('ZADD', 'calls:deadlines', due, c.id .. '|caller', due, c.id .. '|callee')\n" \
    "  pub(c.caller, 'to_device', c.caller_dev, {type = 'call.accepted', call = c.id, peer = uid, peer_device = dev, polite = false})\n" \
    "  pub(uid, 'to_device', dev, {type = 'call.accepted', call = c.id, peer = c.caller, peer_device = c.caller_dev, polite = true})\n" \
    "  pub(uid, 'not_device', dev, {type = 'call.answered_elsewhere', call = c.id})\n" \
    "  return {call = c.id, peer = c.caller, polite = true, state = 'active'}\n" \
    "end\n"

/* ARGV: new call id, caller, caller device, callee, ring timeout (s). */
static store_script_t invite_script = STORE_SCRIPT("call_invite", CALL_LUA_PRELUDE
    "local id, a, adev, b, ring = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
    "if a == b then return redis.error_reply('conflict: you cannot call yourself') end\n"
    "if redis.call('EXISTS', 'user:' .. b) == 0 then return redis.error_reply('not_found: no such user') end\n"
    "local mine = redis.call('GET', 'user:' .. a .. ':call')\n"
    "if mine then\n"
    "  local c = load(mine)\n"
    "  if not c then redis.call('DEL', 'user:' .. a .. ':call')\n"
    "  elseif c.state == 'ringing' and c.callee == a and c.caller == b then\n"
    "    local r = accept(c, a, adev)\n" /* glare: both called each other; this invite answers theirs */
    "    if r.err then return r end\n"
    "    r.glare = true\n"
    "    return cjson.encode(r)\n"
    "  else return redis.error_reply('conflict: you are already in a call') end\n"
    "end\n"
    "local theirs = redis.call('GET', 'user:' .. b .. ':call')\n"
    "if theirs and redis.call('EXISTS', 'call:' .. theirs) == 1 then\n"
    "  pub(a, 'to_device', adev, {type = 'call.ended', call = id, reason = 'busy'})\n"
    "  return cjson.encode({call = id, state = 'ended', reason = 'busy'})\n"
    "end\n"
    "local n = redis.call('HMGET', 'user:' .. a, 'name', 'display_name')\n"
    "redis.call('HSET', 'call:' .. id, 'caller', a, 'callee', b, 'caller_dev', adev, 'state', 'ringing')\n"
    "redis.call('EXPIRE', 'call:' .. id, ring + 30)\n"
    "redis.call('SET', 'user:' .. a .. ':call', id, 'EX', ring + 30)\n"
    "redis.call('SET', 'user:' .. b .. ':call', id, 'EX', ring + 30)\n"
    "redis.call('ZADD', 'calls:deadlines', now_ms() + ring * 1000, id .. '|ring')\n"
    "pub(b, nil, nil, {type = 'call.incoming', call = id, from = {id = a, name = n[1] or '', display_name = n[2] or n[1] or ''}})\n"
    "return cjson.encode({call = id, state = 'ringing', peer = b})\n");

/* ARGV: call id, user, device. */
static store_script_t accept_script = STORE_SCRIPT("call_accept", CALL_LUA_PRELUDE
    "local c = load(ARGV[1])\n"
    "if not c then return redis.error_reply('not_found: no such call (it may have ended)') end\n"
    "local r = accept(c, ARGV[2], ARGV[3])\n"
    "if r.err then return r end\n"
    "return cjson.encode(r)\n");

/* ARGV: call id, user, device, action (decline|cancel|hangup|disconnect), reason (hangup). */
static store_script_t end_script = STORE_SCRIPT("call_end", CALL_LUA_PRELUDE
    "local id, uid, dev, action, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local c = load(id)\n"
    "if not c then\n"
    "  if action == 'disconnect' then return '' end\n"
    "  return redis.error_reply('not_found: no such call (it may have ended)')\n"
    "end\n"
    "if action == 'disconnect' then\n"
    "  if dev ~= c.caller_dev and dev ~= c.callee_dev then return '' end\n"
    "  return ended(c, 'disconnected', uid)\n"
    "end\n"
    "if uid ~= c.caller and uid ~= c.callee then return redis.error_reply('forbidden: you are not a party to this call') end\n"
    "local caller = uid == c.caller and dev == c.caller_dev\n"
    "local callee = uid == c.callee\n"
    "if action == 'decline' then\n"
    "  if not callee then return redis.error_reply('forbidden: only the person called can decline') end\n"
    "  if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was already answered') end\n"
    "  return ended(c, 'declined', uid)\n"
    "elseif action == 'cancel' then\n"
    "  if not caller then return redis.error_reply('forbidden: only the caller can cancel') end\n"
    "  if c.state ~= 'ringing' then return redis.error_reply('conflict: the call was answered; hang up instead') end\n"
    "  return ended(c, 'cancelled', uid)\n"
    "end\n"
    "if c.state == 'ringing' then\n"
    "  if caller then return ended(c, 'cancelled', uid) end\n"
    "  if callee then return ended(c, 'declined', uid) end\n"
    "end\n"
    "if not caller and not (callee and dev == c.callee_dev) then\n"
    "  return redis.error_reply('forbidden: hang up from the device that is in the call')\n"
    "end\n"
    "return ended(c, reason, uid)\n");

/* ARGV: call id, user, device, event text (a JSON object; the target device is appended). */
static store_script_t signal_script = STORE_SCRIPT("call_signal", CALL_LUA_PRELUDE
    "local c = load(ARGV[1])\n"
    "if not c then return redis.error_reply('not_found: no such call (it may have ended)') end\n"
    "local uid, dev = ARGV[2], ARGV[3]\n"
    "local to, todev\n"
    "if uid == c.caller and dev == c.caller_dev then to, todev = c.callee, c.callee_dev\n"
    "elseif uid == c.callee and dev == c.callee_dev then to, todev = c.caller, c.caller_dev\n"
    "else return redis.error_reply('forbidden: you are not a party to this call') end\n"
    "if c.state ~= 'active' or not todev then return redis.error_reply('conflict: the call has not been accepted yet') end\n"
    "redis.call('PUBLISH', 'ev:u:' .. to, string.sub(ARGV[4], 1, -2) .. ',\"to_device\":' .. cjson.encode(todev) .. '}')\n"
    "return ''\n");

/* ARGV: (call id, device) pairs of this node's connections in active calls → keeps those calls' keys
 * alive and pushes back that party's deadline. */
static store_script_t refresh_script = STORE_SCRIPT("call_refresh", CALL_LUA_PRELUDE
    "local n, due = 0, now_ms() + PARTY_MS\n"
    "for i = 1, #ARGV - 1, 2 do\n"
    "  local c = load(ARGV[i])\n"
    "  local side = c and ((ARGV[i + 1] == c.caller_dev and 'caller') or (ARGV[i + 1] == c.callee_dev and 'callee'))\n"
    "  if side and c.state == 'active' then\n"
    "    redis.call('EXPIRE', 'call:' .. c.id, ACTIVE_TTL)\n"
    "    redis.call('EXPIRE', 'user:' .. c.caller .. ':call', ACTIVE_TTL)\n"
    "    redis.call('EXPIRE', 'user:' .. c.callee .. ':call', ACTIVE_TTL)\n"
    "    redis.call('ZADD', 'calls:deadlines', 'XX', due, c.id .. '|' .. side)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n");

/* ARGV: how many due deadlines to claim. Claiming (ZRANGEBYSCORE + ZREM in one script) makes each
 * deadline handled by exactly one node: a ring deadline ends a call still ringing (timeout); a party's
 * deadline ends an active call whose party's node stopped refreshing it (disconnected, by that party). */
static store_script_t sweep_script = STORE_SCRIPT("call_sweep", CALL_LUA_PRELUDE
    "local n = 0\n"
    "for _, m in ipairs(redis.call('ZRANGEBYSCORE', 'calls:deadlines', '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))) do\n"
    "  redis.call('ZREM', 'calls:deadlines', m)\n"
    "  local id, side = string.match(m, '^(%x+)|(%a+)$')\n"
    "  local c = id and load(id)\n"
    "  if c and side == 'ring' and c.state == 'ringing' then ended(c, 'timeout') n = n + 1\n"
    "  elseif c and side ~= 'ring' and c.state == 'active' then ended(c, 'disconnected', c[side]) n = n + 1 end\n"
    "end\n"
    "return n\n");

/* ---------------- this node's part: who is in which call; the deadline sweep ---------------- */

/* A local connection's part in a call. The peer's device comes with call.accepted: from then on this
 * node can authorise and route the connection's call.signal itself (the fast path). */
typedef struct part {
    struct part *next;   /* every part on this node (the refresh walks them) */
    struct part *cnext;  /* the same connection's other parts (by_conn) */
    uint64_t conn;
    char call[FEATURE_ID_LEN + 1];
    int active; /* counted in the connection's presence (presence_media) */
    char peer_dev[96]; /* "" until call.accepted named it */
} part_t;

static part_t *parts;
static strmap_t *by_conn; /* decimal connection id → its first part */
static uv_timer_t refresher, sweeper;
static int started;

static void conn_key(uint64_t conn, char key[24]) { snprintf(key, 24, "%llu", (unsigned long long)conn); }

/* O(the connection's parts): a connection is in one or two calls at most. */
static part_t *part_find(uint64_t conn, const char *call)
{
    char key[24];
    conn_key(conn, key);
    for (part_t *p = by_conn ? strmap_get(by_conn, key) : NULL; p; p = p->cnext)
        if (!call || strcmp(p->call, call) == 0)
            return p;
    return NULL;
}

static part_t *part_add(uint64_t conn, const char *call)
{
    char key[24];
    part_t *p = part_find(conn, call);
    if (p || (!by_conn && !(by_conn = strmap_new())) || !(p = calloc(1, sizeof *p)))
        return p;
    conn_key(conn, key);
    p->conn = conn;
    snprintf(p->call, sizeof p->call, "%s", call);
    p->cnext = strmap_get(by_conn, key);
    if (strmap_put(by_conn, key, p) < 0) {
        free(p);
        return NULL;
    }
    p->next = parts;
    parts = p;
    return p;
}

static void part_unindex(part_t *p)
{
    char key[24];
    conn_key(p->conn, key);
    part_t *first = strmap_get(by_conn, key);
    if (first == p) {
        if (p->cnext)
            strmap_put(by_conn, key, p->cnext); /* replaces: no allocation */
        else
            strmap_del(by_conn, key);
        return;
    }
    for (part_t *q = first; q; q = q->cnext) {
        if (q->cnext == p) {
            q->cnext = p->cnext;
            return;
        }
    }
}

/* Unlinks and frees p; gives the connection's in_call back if p counted. */
static void part_remove(part_t *p)
{
    for (part_t **pp = &parts; *pp; pp = &(*pp)->next) {
        if (*pp != p)
            continue;
        *pp = p->next;
        part_unindex(p);
        conn_t *c = conn_find(p->conn);
        if (p->active && c)
            presence_media(c, 0);
        free(p);
        return;
    }
}

static void part_activate(part_t *p)
{
    conn_t *c = conn_find(p->conn);
    if (p->active || !c)
        return;
    p->active = 1;
    presence_media(c, 1);
}

/* bus.h hook: follows this node's connections' calls from the events the scripts publish. */
static void on_targeted(conn_t *c, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *call = json_string_value(json_object_get(ev, "call"));
    if (!type || !call || strlen(call) != FEATURE_ID_LEN)
        return;
    if (strcmp(type, "call.accepted") == 0) {
        part_t *p = part_add(conn_id(c), call);
        const char *peer_dev = json_string_value(json_object_get(ev, "peer_device"));
        if (p && peer_dev)
            snprintf(p->peer_dev, sizeof p->peer_dev, "%s", peer_dev);
        if (p)
            part_activate(p);
    } else if (strcmp(type, "call.ended") == 0) {
        part_t *p = part_find(conn_id(c), call);
        if (p)
            part_remove(p);
    }
}

static void refresh_fire(uv_timer_t *t)
{
    (void)t;
    enum { MAX = 256 };
    const char *args[2 * MAX];
    int n = 0;
    for (part_t *p = parts; p; p = p->next) {
        conn_t *c = conn_find(p->conn);
        if (!p->active || !c)
            continue;
        args[n++] = p->call;
        args[n++] = conn_device(c);
        if (n == 2 * MAX) {
            store_eval(&refresh_script, NULL, NULL, 0, n, args);
            n = 0;
        }
    }
    if (n && store_is_up())
        store_eval(&refresh_script, NULL, NULL, 0, n, args);
}

static void sweep_fire(uv_timer_t *t)
{
    (void)t;
    const char *args[] = {CALL_SWEEP_BATCH};
    if (store_is_up())
        store_eval(&sweep_script, NULL, NULL, 0, 1, args);
}

static void signal_arrived(conn_t *target, const char *call, const char *text, size_t len);

static int calls_start(uv_loop_t *loop)
{
    uv_timer_init(loop, &refresher);
    uv_timer_init(loop, &sweeper);
    uv_timer_start(&refresher, refresh_fire, CALL_REFRESH_MS, CALL_REFRESH_MS);
    uv_timer_start(&sweeper, sweep_fire, CALL_SWEEP_MS, CALL_SWEEP_MS);
    bus_set_device_hook(on_targeted);
    bus_direct_register("call", signal_arrived);
    started = 1;
    return 0;
}

static void calls_stop(void)
{
    if (!started)
        return;
    started = 0;
    bus_set_device_hook(NULL);
    uv_close((uv_handle_t *)&refresher, NULL);
    uv_close((uv_handle_t *)&sweeper, NULL);
    while (parts) {
        part_t *p = parts;
        parts = p->next;
        free(p);
    }
    strmap_free(by_conn);
    by_conn = NULL;
}

static void calls_conn_gone(conn_t *c)
{
    part_t *p;
    while ((p = part_find(conn_id(c), NULL))) {
        const char *args[] = {p->call, conn_user(c), conn_device(c), "disconnect", "disconnected"};
        store_eval(&end_script, NULL, NULL, 0, 5, args);
        p->active = 0; /* the connection is going: no presence change for it */
        part_remove(p);
    }
}

/* ---------------- requests ---------------- */

/* call.invite / call.accept answered: the connection now takes part in the call the answer names, ringing
 * or active (call.accepted from the bus activates it, in whichever order the two come). */
static void after_join(req_t *r, const json_t *fields, void *priv)
{
    (void)priv;
    const char *call = json_string_value(json_object_get(fields, "call"));
    const char *state = json_string_value(json_object_get(fields, "state"));
    if (call && state && (strcmp(state, "ringing") == 0 || strcmp(state, "active") == 0))
        part_add(req_conn(r), call);
}

/* call.decline / cancel / hangup answered ok: the connection is out of that call. priv: the call id. */
static void after_end(req_t *r, const json_t *fields, void *priv)
{
    part_t *p = fields ? part_find(req_conn(r), priv) : NULL;
    if (p)
        part_remove(p);
    free(priv);
}

/* The request's signed-in connection, or NULL (answered). */
static conn_t *req_conn_live(req_t *r)
{
    conn_t *c = conn_find(req_conn(r));
    if (!c || !conn_user(c)) {
        req_error(r, E_UNAUTHORIZED, "sign in first");
        return NULL;
    }
    return c;
}

static void on_invite(req_t *r)
{
    const char *user;
    if (feature_req_id(r, "user", 0, 1, &user) < 0)
        return;
    conn_t *c = req_conn_live(r);
    char id[FEATURE_ID_LEN + 1], ring[24];
    if (!c)
        return;
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random source");
        return;
    }
    snprintf(ring, sizeof ring, "%lld", config_get()->call_ring_timeout);
    const char *args[] = {id, conn_user(c), conn_device(c), user, ring};
    feature_eval_then(r, &invite_script, 5, args, after_join, NULL);
}

static void on_accept(req_t *r)
{
    const char *call;
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    const char *args[] = {call, conn_user(c), conn_device(c)};
    feature_eval_then(r, &accept_script, 3, args, after_join, NULL);
}

static void end_request(req_t *r, const char *action)
{
    const char *call, *reason = "hangup";
    static const char *const reasons[] = {"hangup", "failed", NULL};
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    if (strcmp(action, "hangup") == 0 && feature_req_enum(r, "reason", reasons, 0, &reason) < 0)
        return;
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    char *id = strdup(call);
    if (!id) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    const char *args[] = {call, conn_user(c), conn_device(c), action, reason};
    feature_eval_then(r, &end_script, 5, args, after_end, id);
}

static void on_decline(req_t *r) { end_request(r, "decline"); }
static void on_cancel(req_t *r) { end_request(r, "cancel"); }
static void on_hangup(req_t *r) { end_request(r, "hangup"); }

/* call.signal's fast path, on the device's node: a signal for one of its connections. The sender's node
 * authorised it from its own part in the call; the target is the peer device that call.accepted named,
 * so it is delivered as it is. */
static void signal_arrived(conn_t *target, const char *call, const char *text, size_t len)
{
    (void)call;
    if (!conn_user(target))
        return;
    conn_send_text(target, text, len);
    metrics_event_delivered();
}

/* The call.signal event for the peer: {"type":"call.signal","call":…,"from":…,"data":…} with the data
 * member's text copied from the client's frame as it is (parsed once, never re-serialised). NULL when
 * out of memory. */
static char *signal_event(req_t *r, const char *call, const char *from, json_t *data, size_t *len)
{
    const char *raw;
    size_t rawlen;
    char *dumped = NULL;
    if (req_raw_member(r, "data", &raw, &rawlen) < 0) {
        if (!(dumped = json_dumps(data, JSON_COMPACT)))
            return NULL;
        raw = dumped;
        rawlen = strlen(dumped);
    }
    size_t cap = 64 + strlen(call) + strlen(from) + rawlen;
    char *text = malloc(cap);
    if (text) {
        int n = snprintf(text, cap, "{\"type\":\"call.signal\",\"call\":\"%s\",\"from\":\"%s\",\"data\":", call, from);
        memcpy(text + n, raw, rawlen);
        text[n + rawlen] = '}';
        text[n + rawlen + 1] = '\0';
        *len = (size_t)n + rawlen + 1;
    }
    free(dumped);
    return text;
}

static void on_signal(req_t *r)
{
    const char *call;
    if (feature_req_id(r, "call", 0, 1, &call) < 0)
        return;
    json_t *data = json_object_get(req_json(r), "data");
    if (!json_is_object(data)) {
        req_error_ex(r, E_BAD_REQUEST, "data", 0, "'data' must be an object (an SDP description or an ICE candidate)");
        return;
    }
    conn_t *c = req_conn_live(r);
    if (!c)
        return;
    size_t len;
    char *text = signal_event(r, call, conn_device(c), data, &len);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    part_t *p = part_find(conn_id(c), call);
    if (p && p->active && p->peer_dev[0]) {
        /* Fast path: this connection is a party of the active call (the call's own events said so), and
         * the peer's device is known: straight to it, on this node or through its node's channel. */
        bus_direct("call", call, p->peer_dev, text, len);
        free(text);
        req_ok(r, NULL);
        return;
    }
    /* Not known here as an active party (ringing, ended, or not a party at all): the script decides, and
     * answers not_found / forbidden / conflict exactly. */
    const char *args[] = {call, conn_user(c), conn_device(c), text};
    feature_eval_answer(r, &signal_script, 4, args);
    free(text);
}

static const handler_t handlers[] = {
    {"call.invite", on_invite, H_RL_MSG},
    {"call.accept", on_accept, H_RL_READ},
    {"call.decline", on_decline, H_RL_READ},
    {"call.cancel", on_cancel, H_RL_READ},
    {"call.hangup", on_hangup, H_RL_READ},
    {"call.signal", on_signal, H_RL_SIGNAL},
    {NULL, NULL, 0},
};

static int calls_start(uv_loop_t *loop);
static void calls_stop(void);
static void calls_conn_gone(conn_t *c);

const module_t calls_module = {
    .name = "calls",
    .handlers = handlers,
    .start = calls_start,
    .stop = calls_stop,
    .conn_gone = calls_conn_gone,
};
