/* circles.c — circle.* handlers (see circles.h). Each handler validates its fields, then runs one store
 * script that checks authorisation, writes and publishes atomically; the script's JSON is the answer. */
#include "circles.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "circle_lua.h"
#include "help_lua.h"
#include "feature.h"

/* Lua shared by the circle scripts: the public view of a circle, and adding a member. "Experts online"
 * counts experts and mentors with a live device, as presence.h defines it. */
#define CIRCLES_LUA                                                                                \
    CIRCLE_LUA_PRELUDE                                                                             \
    HELP_LUA                                                                                       \
    "local function circle_obj(cid, uid, now)\n"                                                   \
    "  local c = hash('circle:' .. cid)\n"                                                          \
    "  local members = redis.call('HGETALL', 'circle:' .. cid .. ':members')\n"                     \
    "  local n, online, experts, my_role = 0, 0, 0, nil\n"                                          \
    "  for i = 1, #members, 2 do\n"                                                                \
    "    n = n + 1\n"                                                                              \
    "    if members[i] == uid then my_role = members[i + 1] end\n"                                  \
    "    if is_online(members[i], now) then\n"                                                      \
    "      online = online + 1\n"                                                                  \
    "      if members[i + 1] == 'expert' or members[i + 1] == 'mentor' then experts = experts + 1 end\n" \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  local status = 'none'\n"                                                                    \
    "  if my_role then status = 'member'\n"                                                        \
    "  elseif redis.call('ZSCORE', 'circle:' .. cid .. ':pending', uid) then status = 'pending' end\n" \
    "  return {id = cid, name = c.name, subject = c.subject, phase = c.phase,\n"                     \
    "    description = c.description or '', moderated = c.moderated == '1', members = n,\n"         \
    "    online = online, experts_online = experts, experts_on_duty = help_duty_count(cid, now),\n" \
    "    my_status = status,\n"                                                                   \
    "    my_role = my_role or cjson.null, created = tonumber(c.created)}\n"                          \
    "end\n"                                                                                        \
    "local function add_member(cid, uid, role)\n"                                                  \
    "  redis.call('HSET', 'circle:' .. cid .. ':members', uid, role)\n"                             \
    "  redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'member')\n"                           \
    "  publish_membership(cid, uid, 'member', role)\n"                                             \
    "  publish_circle(cid, {type = 'circle.member_joined', circle = cid, user = brief(uid), role = role})\n" \
    "end\n"                                                                                        \
    "local function need_circle(cid)\n"                                                            \
    "  if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"              \
    "end\n"                                                                                        \
    "local function need_moderator(cid, uid)\n"                                                    \
    "  local e = need_circle(cid)\n"                                                               \
    "  if e then return e end\n"                                                                   \
    "  if not can_moderate(cid, uid) then\n"                                                       \
    "    return fail('forbidden', 'only moderators of this circle and admins may do this')\n"        \
    "  end\n"                                                                                      \
    "end\n"

/* ARGV: uid, cid, general channel id, help channel id, name, subject, phase, description, moderated */
static store_script_t create_script = STORE_SCRIPT("circle.create", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "if not is_admin(uid) then return fail('forbidden', 'only admins create circles') end\n"
    "local now = now_ms()\n"
    "local nows = string.format('%d', now)\n"
    "redis.call('HSET', 'circle:' .. cid, 'name', ARGV[5], 'subject', ARGV[6], 'phase', ARGV[7],\n"
    "  'description', ARGV[8], 'moderated', ARGV[9], 'created_by', uid, 'created', nows)\n"
    "redis.call('ZADD', 'circles', nows, cid)\n"
    "redis.call('HSET', 'circle:' .. cid .. ':members', uid, 'moderator')\n"
    "redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'member')\n"
    "local chans = {}\n"
    "for i, ch in ipairs({{ARGV[3], 'general', 'Anything about the circle'},\n"
    "                     {ARGV[4], 'help', 'Ask for help here'}}) do\n"
    "  redis.call('HSET', 'channel:' .. ch[1], 'circle', cid, 'name', ch[2], 'topic', ch[3],\n"
    "    'created', nows)\n"
    "  redis.call('ZADD', 'circle:' .. cid .. ':channels', now + i - 1, ch[1])\n"
    "  chans[i] = cjson.encode({id = ch[1], circle = cid, name = ch[2], topic = ch[3]})\n"
    "end\n"
    "publish_membership(cid, uid, 'member', 'moderator')\n"
    "return '{\"circle\":' .. cjson.encode(circle_obj(cid, uid, now)) .. ',\"channels\":' ..\n"
    "  jarr(chans) .. '}'\n");

/* ARGV: uid, q (lower case), subject (lower case), phase, cursor ("" or "SCORE:CID"), limit.
 * Walks the directory in creation order from the cursor. The walk is bounded (`budget` entries per call)
 * so a rare filter cannot stall Redis: a page may then be short with a non-null next_cursor. */
static store_script_t list_script = STORE_SCRIPT("circle.list", CIRCLES_LUA
    "local uid, q, subject, phase, cursor = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local limit, now = tonumber(ARGV[6]), now_ms()\n"
    "local start, after_id = '-inf', nil\n"
    "if cursor ~= '' then start, after_id = string.match(cursor, '^(%d+):(%x+)$') end\n"
    "local function matches(c)\n"
    "  if phase ~= '' and c.phase ~= phase then return false end\n"
    "  if subject ~= '' and string.lower(c.subject or '') ~= subject then return false end\n"
    "  if q == '' then return true end\n"
    "  for _, f in ipairs({c.name or '', c.subject or '', c.description or ''}) do\n"
    "    if string.find(string.lower(f), q, 1, true) then return true end\n"
    "  end\n"
    "  return false\n"
    "end\n"
    "local found, last, next_cursor, scanned, offset, budget = {}, nil, cjson.null, 0, 0, 2000\n"
    "local done = false\n"
    "while not done do\n"
    "  local batch = redis.call('ZRANGEBYSCORE', 'circles', start, '+inf', 'WITHSCORES',\n"
    "    'LIMIT', offset, 100)\n"
    "  if #batch == 0 then break end\n"
    "  offset = offset + #batch / 2\n"
    "  for i = 1, #batch, 2 do\n"
    "    local cid, score = batch[i], batch[i + 1]\n"
    "    local pos = score .. ':' .. cid\n"
    /* entries with the cursor's score sort by id: skip those up to the cursor itself */
    "    if not (after_id and tonumber(score) == tonumber(start) and cid <= after_id) then\n"
    "      scanned = scanned + 1\n"
    "      if matches(hash('circle:' .. cid)) then\n"
    "        if #found == limit then next_cursor = last; done = true; break end\n"
    "        found[#found + 1] = cjson.encode(circle_obj(cid, uid, now))\n"
    "        last = pos\n"
    "      end\n"
    "      if scanned >= budget then next_cursor = pos; done = true; break end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return '{\"circles\":' .. jarr(found) .. ',\"next_cursor\":' .. cjson.encode(next_cursor) .. '}'\n");

/* ARGV: uid, cid */
static store_script_t get_script = STORE_SCRIPT("circle.get", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "local e = need_circle(cid)\n"
    "if e then return e end\n"
    "return cjson.encode({circle = circle_obj(cid, uid, now_ms())})\n");

/* ARGV: uid, cid. A moderated circle records a request and tells its moderators on their devices. */
static store_script_t join_script = STORE_SCRIPT("circle.join", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "local e = need_circle(cid)\n"
    "if e then return e end\n"
    "if role_of(cid, uid) then return fail('conflict', 'already a member of this circle') end\n"
    "local pending = 'circle:' .. cid .. ':pending'\n"
    "if redis.call('ZSCORE', pending, uid) then\n"
    "  return fail('conflict', 'a request to join this circle is already waiting')\n"
    "end\n"
    "if redis.call('HGET', 'circle:' .. cid, 'moderated') ~= '1' then\n"
    "  add_member(cid, uid, 'member')\n"
    "  return '{\"status\":\"member\"}'\n"
    "end\n"
    "local now = now_ms()\n"
    "redis.call('ZADD', pending, string.format('%d', now), uid)\n"
    "redis.call('HSET', 'user:' .. uid .. ':circles', cid, 'pending')\n"
    "publish_membership(cid, uid, 'pending', nil)\n"
    "local ev = cjson.encode({type = 'circle.join_request', circle = cid, user = brief(uid),\n"
    "  requested_at = now})\n"
    "local members = redis.call('HGETALL', 'circle:' .. cid .. ':members')\n"
    "for i = 1, #members, 2 do\n"
    "  if members[i + 1] == 'moderator' then redis.call('PUBLISH', 'ev:u:' .. members[i], ev) end\n"
    "end\n"
    "return '{\"status\":\"pending\"}'\n");

/* ARGV: uid, cid. Leaving also withdraws a waiting request. */
static store_script_t leave_script = STORE_SCRIPT("circle.leave", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "local e = need_circle(cid)\n"
    "if e then return e end\n"
    "local role = role_of(cid, uid)\n"
    "if role then\n"
    "  redis.call('HDEL', 'circle:' .. cid .. ':members', uid)\n"
    "  publish_circle(cid, {type = 'circle.member_left', circle = cid, user = brief(uid), role = role})\n"
    "elseif redis.call('ZREM', 'circle:' .. cid .. ':pending', uid) == 0 then\n"
    "  return fail('not_found', 'you are not a member of this circle')\n"
    "end\n"
    "redis.call('HDEL', 'user:' .. uid .. ':circles', cid)\n"
    "publish_membership(cid, uid, 'none', nil)\n"
    "return ''\n");

/* ARGV: uid, cid */
static store_script_t pending_script = STORE_SCRIPT("circle.pending", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "local e = need_moderator(cid, uid)\n"
    "if e then return e end\n"
    "local flat, out = redis.call('ZRANGE', 'circle:' .. cid .. ':pending', 0, 999, 'WITHSCORES'), {}\n"
    "for i = 1, #flat, 2 do\n"
    "  out[#out + 1] = cjson.encode({user = brief(flat[i]), requested_at = tonumber(flat[i + 1])})\n"
    "end\n"
    "return '{\"requests\":' .. jarr(out) .. '}'\n");

/* ARGV: uid, cid, user whose request is decided, "approve" or "reject" */
static store_script_t decide_script = STORE_SCRIPT("circle.decide", CIRCLES_LUA
    "local uid, cid, who, verdict = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local e = need_moderator(cid, uid)\n"
    "if e then return e end\n"
    "if redis.call('ZREM', 'circle:' .. cid .. ':pending', who) == 0 then\n"
    "  return fail('not_found', 'no request from this user is waiting')\n"
    "end\n"
    "if verdict == 'approve' then\n"
    "  add_member(cid, who, 'member')\n"
    "else\n"
    "  redis.call('HDEL', 'user:' .. who .. ':circles', cid)\n"
    "  publish_membership(cid, who, 'none', nil)\n"
    "end\n"
    "return ''\n");

/* ARGV: uid, cid, cursor ("0" for the first page), limit. One HSCAN step over the members hash (so
 * the work and the answer of one request stay bounded however big the circle is); the page is sorted
 * moderators first, then experts, mentors, members; by name within a role. */
static store_script_t members_script = STORE_SCRIPT("circle.members", CIRCLES_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "local e = need_circle(cid)\n"
    "if e then return e end\n"
    "if not role_of(cid, uid) and not is_admin(uid) then\n"
    "  return fail('forbidden', 'only members see the member list')\n"
    "end\n"
    "local step = redis.call('HSCAN', 'circle:' .. cid .. ':members', ARGV[3], 'COUNT', tonumber(ARGV[4]))\n"
    "local now, flat, list = now_ms(), step[2], {}\n"
    "for i = 1, #flat, 2 do\n"
    "  list[#list + 1] = {user = brief(flat[i]), role = flat[i + 1], presence = presence_of(flat[i], now),\n"
    "    on_duty = help_on_duty(cid, flat[i], now)}\n"
    "end\n"
    "local rank = {moderator = 1, expert = 2, mentor = 3, member = 4}\n"
    "table.sort(list, function(a, b)\n"
    "  local ra, rb = rank[a.role] or 5, rank[b.role] or 5\n"
    "  if ra ~= rb then return ra < rb end\n"
    "  if a.user.name ~= b.user.name then return a.user.name < b.user.name end\n"
    "  return a.user.id < b.user.id\n"
    "end)\n"
    "local out = {}\n"
    "for i, m in ipairs(list) do out[i] = cjson.encode(m) end\n"
    "return '{\"members\":' .. jarr(out) .. ',\"next_cursor\":' .. (step[1] == '0' and 'null' or cjson.encode(step[1])) .. '}'\n");

/* ARGV: uid, cid, member, role. A circle always keeps a moderator: demoting the last one is refused. */
static store_script_t set_role_script = STORE_SCRIPT("circle.set_role", CIRCLES_LUA
    "local uid, cid, who, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local e = need_moderator(cid, uid)\n"
    "if e then return e end\n"
    "local old = role_of(cid, who)\n"
    "if not old then return fail('not_found', 'this user is not a member of the circle') end\n"
    "if old == role then return '' end\n"
    "if old == 'moderator' then\n"
    "  local flat, mods = redis.call('HVALS', 'circle:' .. cid .. ':members'), 0\n"
    "  for _, r in ipairs(flat) do if r == 'moderator' then mods = mods + 1 end end\n"
    "  if mods <= 1 then return fail('conflict', 'the last moderator of a circle cannot be demoted') end\n"
    "end\n"
    "redis.call('HSET', 'circle:' .. cid .. ':members', who, role)\n"
    "publish_membership(cid, who, 'member', role)\n"
    "publish_circle(cid, {type = 'circle.role', circle = cid, user = brief(who), role = role})\n"
    "return ''\n");

static const char *const phases[] = {"primary", "secondary", "further", NULL};
static const char *const roles[] = {"member", "expert", "mentor", "moderator", NULL};

/* Lower-cases an ASCII copy for case-insensitive matching in Lua (string.lower is ASCII-only too). */
static void lower_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static void circle_create(req_t *r)
{
    const char *name, *subject, *phase, *description = "";
    int moderated = 0;
    if (req_str(r, "name", 1, 64, 1, &name) < 0 || req_str(r, "subject", 1, 64, 1, &subject) < 0 ||
        feature_req_enum(r, "phase", phases, 1, &phase) < 0 ||
        req_str(r, "description", 0, 2000, 0, &description) < 0 ||
        req_bool(r, "moderated", 0, &moderated) < 0)
        return;
    char cid[FEATURE_ID_LEN + 1], general[FEATURE_ID_LEN + 1], help[FEATURE_ID_LEN + 1];
    if (feature_id_new(cid) < 0 || feature_id_new(general) < 0 || feature_id_new(help) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    const char *args[] = {req_user(r), cid, general, help, name, subject, phase, description,
                          moderated ? "1" : "0"};
    feature_eval_answer(r, &create_script, 9, args);
}

/* Cursors are "SCORE:CID" as handed out by circle.list; anything else is refused here so the script can
 * trust them. */
static int cursor_valid(const char *c)
{
    size_t digits = strspn(c, "0123456789");
    return digits >= 1 && digits <= 20 && c[digits] == ':' && feature_id_valid(c + digits + 1);
}

static void circle_list(req_t *r)
{
    const char *q = "", *subject = "", *phase = "", *cursor = "";
    long long limit = 20;
    if (req_str(r, "q", 0, 64, 0, &q) < 0 || req_str(r, "subject", 0, 64, 0, &subject) < 0 ||
        feature_req_enum(r, "phase", phases, 0, &phase) < 0 ||
        req_str(r, "cursor", 0, 64, 0, &cursor) < 0 || req_int(r, "limit", 1, 100, 0, &limit) < 0)
        return;
    if (*cursor && !cursor_valid(cursor)) {
        req_error_ex(r, E_BAD_REQUEST, "cursor", 0, "cursor: not a cursor from circle.list");
        return;
    }
    char ql[65], sl[65], lim[8];
    lower_copy(ql, sizeof ql, q);
    lower_copy(sl, sizeof sl, subject);
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), ql, sl, phase, cursor, lim};
    feature_eval_answer(r, &list_script, 6, args);
}

/* The handlers that take just {circle}: run `s` with ARGV uid, cid. */
static void circle_only(req_t *r, store_script_t *s)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, s, 2, args);
}

static void circle_get(req_t *r) { circle_only(r, &get_script); }
static void circle_join(req_t *r) { circle_only(r, &join_script); }
static void circle_leave(req_t *r) { circle_only(r, &leave_script); }
static void circle_pending(req_t *r) { circle_only(r, &pending_script); }
/* circle.members {circle, cursor?, limit?}: cursor is HSCAN's (decimal digits), "0" or absent for the
 * first page. */
static void circle_members(req_t *r)
{
    const char *cid, *cursor = "0";
    long long limit = 200;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_str(r, "cursor", 1, 20, 0, &cursor) < 0 ||
        req_int(r, "limit", 1, 500, 0, &limit) < 0)
        return;
    if (strspn(cursor, "0123456789") != strlen(cursor)) {
        req_error_ex(r, E_BAD_REQUEST, "cursor", 0, "cursor: not a cursor from circle.members");
        return;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), cid, cursor, lim};
    feature_eval_answer(r, &members_script, 4, args);
}

static void circle_decide(req_t *r, const char *verdict)
{
    const char *cid, *who;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "user", 0, 1, &who) < 0)
        return;
    const char *args[] = {req_user(r), cid, who, verdict};
    feature_eval_answer(r, &decide_script, 4, args);
}

static void circle_approve(req_t *r) { circle_decide(r, "approve"); }
static void circle_reject(req_t *r) { circle_decide(r, "reject"); }

static void circle_set_role(req_t *r)
{
    const char *cid, *who, *role;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "user", 0, 1, &who) < 0 ||
        feature_req_enum(r, "role", roles, 1, &role) < 0)
        return;
    const char *args[] = {req_user(r), cid, who, role};
    feature_eval_answer(r, &set_role_script, 4, args);
}

static const handler_t handlers[] = {
    {"circle.create", circle_create, H_RL_READ},
    {"circle.list", circle_list, H_RL_READ},
    {"circle.get", circle_get, H_RL_READ},
    {"circle.join", circle_join, H_RL_READ},
    {"circle.leave", circle_leave, H_RL_READ},
    {"circle.pending", circle_pending, H_RL_READ},
    {"circle.approve", circle_approve, H_RL_READ},
    {"circle.reject", circle_reject, H_RL_READ},
    {"circle.members", circle_members, H_RL_READ},
    {"circle.set_role", circle_set_role, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t circles_module = {
    .name = "circles",
    .handlers = handlers,
};
