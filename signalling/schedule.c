/* schedule.c — schedule.* handlers, reminders, session.join and the .ics export (see schedule.h). */
#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "config.h"
#include "conn.h"
#include "feature.h"
#include "ics.h"
#include "log.h"
#include "rooms.h"
#include "schedule_lua.h"
#include "slots.h"
#include "ws.h"

#define SLOTS_MAX 500                 /* slots in one schedule.slots answer */
#define SLOTS_RANGE_MAX (31 * 86400)  /* widest from..to of one schedule.slots */
#define JOIN_OPENS_BEFORE 300         /* session room opens 5 minutes before the start … */
#define JOIN_CLOSES_AFTER 900         /* … and closes 15 minutes after the end */

/* ---------------- scripts ---------------- */

/* ARGV: uid, rules JSON (canonical) */
static store_script_t avail_set_script = STORE_SCRIPT("schedule.availability.set", SCHEDULE_LUA_PRELUDE
    "local uid = ARGV[1]\n"
    "if #mentor_circles(uid) == 0 then\n"
    "  return fail('forbidden', 'only mentors (role mentor in a circle) publish availability')\n"
    "end\n"
    "redis.call('SET', 'sched:avail:' .. uid, ARGV[2])\n"
    "return '{\"availability\":' .. ARGV[2] .. '}'\n");

/* ARGV: mentor. The stored text is returned as is: cjson would turn an empty windows array into {}. */
static store_script_t avail_get_script = STORE_SCRIPT("schedule.availability.get", SCHEDULE_LUA_PRELUDE
    "local m = ARGV[1]\n"
    "if redis.call('EXISTS', 'user:' .. m) == 0 then return fail('not_found', 'no such user') end\n"
    "local a = redis.call('GET', 'sched:avail:' .. m) or 'null'\n"
    "return '{\"mentor\":' .. cjson.encode(brief(m)) .. ',\"availability\":' .. a .. '}'\n");

/* ARGV: mentor, from, to → {rules text or '', active booking starts in [from, to]} */
static store_script_t load_script = STORE_SCRIPT("schedule.load", SCHEDULE_LUA_PRELUDE
    "local m = ARGV[1]\n"
    "local out = {redis.call('GET', 'sched:avail:' .. m) or ''}\n"
    "for _, s in ipairs(redis.call('ZRANGEBYSCORE', 'sched:mentor:' .. m .. ':booked', ARGV[2], ARGV[3],\n"
    "    'WITHSCORES')) do out[#out + 1] = s end\n"
    "return out\n");

/* Lua that (re)arms the reminders of booking bid starting at `start`: one per offset (ARGV from `first`),
 * skipping those already due. Writes. */
#define ARM_REMINDERS_LUA                                                                              \
    "local function arm(bid, start, first, now)\n"                                                    \
    "  for i = first, #ARGV do\n"                                                                    \
    "    local due = (start - tonumber(ARGV[i])) * 1000\n"                                            \
    "    if due > now then redis.call('ZADD', 'sched:reminders', due, bid .. '|' .. ARGV[i])\n"          \
    "    else redis.call('ZREM', 'sched:reminders', bid .. '|' .. ARGV[i]) end\n"                      \
    "  end\n"                                                                                        \
    "end\n"                                                                                          \
    "local function taken(mentor, start, gap, except)\n"                                             \
    "  local near = redis.call('ZRANGEBYSCORE', 'sched:mentor:' .. mentor .. ':booked',\n"            \
    "    '(' .. (start - gap), '(' .. (start + gap))\n"                                                \
    "  for _, bid in ipairs(near) do if bid ~= except then return true end end\n"                     \
    "  return false\n"                                                                               \
    "end\n"                                                                                          \
    /* uid has another active booking (either role) overlapping [start, finish) */                    \
    "local function busy(uid, start, finish, except)\n"                                               \
    "  for _, bid in ipairs(redis.call('ZRANGEBYSCORE', 'user:' .. uid .. ':bookings', start - 86400,\n" \
    "      '(' .. finish)) do\n"                                                                     \
    "    if bid ~= except then\n"                                                                   \
    "      local f = redis.call('HMGET', 'booking:' .. bid, 'status', 'end')\n"                       \
    "      if f[1] == 'booked' and tonumber(f[2]) > start then return true end\n"                      \
    "    end\n"                                                                                     \
    "  end\n"                                                                                       \
    "  return false\n"                                                                              \
    "end\n"                                                                                         \
    "local function tell(b, ev)\n"                                                                    \
    "  local text = cjson.encode(ev)\n"                                                              \
    "  redis.call('PUBLISH', 'ev:u:' .. b.mentor.id, text)\n"                                        \
    "  redis.call('PUBLISH', 'ev:u:' .. b.mentee.id, text)\n"                                        \
    "end\n"

/* ARGV: bid, mentee, mentor, start, end, topic, gap seconds, reminder offsets (seconds)… */
static store_script_t book_script = STORE_SCRIPT("schedule.book", SCHEDULE_LUA_PRELUDE ARM_REMINDERS_LUA
    "local bid, uid, m, topic = ARGV[1], ARGV[2], ARGV[3], ARGV[6]\n"
    "local start, gap = tonumber(ARGV[4]), tonumber(ARGV[7])\n"
    "if not may_book(uid, m) then\n"
    "  return fail('forbidden', 'you can book a mentor of a circle you belong to')\n"
    "end\n"
    "if taken(m, start, gap, nil) then return fail('conflict', 'this slot is already booked') end\n"
    "if busy(uid, start, tonumber(ARGV[5]), nil) then\n"
    "  return fail('conflict', 'you already have a session at that time')\n"
    "end\n"
    "if busy(m, start, tonumber(ARGV[5]), nil) then\n"
    "  return fail('conflict', 'the mentor already has a session at that time')\n"
    "end\n"
    "local now = now_ms()\n"
    "local nows = string.format('%d', now)\n"
    "redis.call('HSET', 'booking:' .. bid, 'mentor', m, 'mentee', uid, 'start', ARGV[4], 'end', ARGV[5],\n"
    "  'topic', topic, 'status', 'booked', 'sequence', '0', 'created', nows, 'updated', nows)\n"
    "redis.call('ZADD', 'sched:mentor:' .. m .. ':booked', start, bid)\n"
    "redis.call('ZADD', 'user:' .. m .. ':bookings', start, bid)\n"
    "redis.call('ZADD', 'user:' .. uid .. ':bookings', start, bid)\n"
    "arm(bid, start, 8, now)\n"
    "local b = booking_obj(bid)\n"
    "tell(b, {type = 'schedule.booked', booking = b})\n"
    "return cjson.encode({booking = b})\n");

/* Lua: the booking bid as seen by uid, or an error (not found, not a party, not active, started). */
#define ACTIVE_BOOKING_LUA                                                                             \
    "local function active_booking(bid, uid, now)\n"                                                 \
    "  local h = hash('booking:' .. bid)\n"                                                           \
    "  if not h.mentor then return nil, fail('not_found', 'no such booking') end\n"                   \
    "  if not other_party(h, uid) then return nil, fail('forbidden', 'not your booking') end\n"        \
    "  if h.status ~= 'booked' then return nil, fail('conflict', 'this booking was cancelled') end\n"  \
    "  if tonumber(h.start) * 1000 <= now then\n"                                                     \
    "    return nil, fail('conflict', 'this session has already started')\n"                          \
    "  end\n"                                                                                        \
    "  return h, nil\n"                                                                              \
    "end\n"

/* ARGV: uid, bid, reminder offsets… */
static store_script_t cancel_script = STORE_SCRIPT("schedule.cancel", SCHEDULE_LUA_PRELUDE ARM_REMINDERS_LUA
    ACTIVE_BOOKING_LUA ROOMS_LUA_PRIVATE
    "local uid, bid, now = ARGV[1], ARGV[2], now_ms()\n"
    "local h, e = active_booking(bid, uid, now)\n"
    "if e then return e end\n"
    "redis.call('HSET', 'booking:' .. bid, 'status', 'cancelled', 'updated', string.format('%d', now),\n"
    "  'cancelled_by', uid)\n"
    "redis.call('HINCRBY', 'booking:' .. bid, 'sequence', 1)\n"
    "redis.call('ZREM', 'sched:mentor:' .. h.mentor .. ':booked', bid)\n"
    "for i = 3, #ARGV do redis.call('ZREM', 'sched:reminders', bid .. '|' .. ARGV[i]) end\n"
    "private_room_close(bid)\n"
    "local b = booking_obj(bid)\n"
    "tell(b, {type = 'schedule.cancelled', booking = b, by = uid})\n"
    "return cjson.encode({booking = b})\n");

/* ARGV: uid, bid → {booking} if uid may still change it */
static store_script_t active_script = STORE_SCRIPT("schedule.active", SCHEDULE_LUA_PRELUDE ACTIVE_BOOKING_LUA
    "local h, e = active_booking(ARGV[2], ARGV[1], now_ms())\n"
    "if e then return e end\n"
    "return cjson.encode({booking = booking_obj(ARGV[2])})\n");

/* ARGV: uid, bid, new start, new end, gap seconds, reminder offsets… */
static store_script_t reschedule_script = STORE_SCRIPT("schedule.reschedule", SCHEDULE_LUA_PRELUDE
    ARM_REMINDERS_LUA ACTIVE_BOOKING_LUA ROOMS_LUA_PRIVATE
    "local uid, bid, now = ARGV[1], ARGV[2], now_ms()\n"
    "local start, gap = tonumber(ARGV[3]), tonumber(ARGV[5])\n"
    "local h, e = active_booking(bid, uid, now)\n"
    "if e then return e end\n"
    "if taken(h.mentor, start, gap, bid) then return fail('conflict', 'this slot is already booked') end\n"
    "for _, who in ipairs({h.mentor, h.mentee}) do\n"
    "  if busy(who, start, tonumber(ARGV[4]), bid) then\n"
    "    return fail('conflict', 'one of you already has a session at that time')\n"
    "  end\n"
    "end\n"
    "local old = tonumber(h.start)\n"
    "redis.call('HSET', 'booking:' .. bid, 'start', ARGV[3], 'end', ARGV[4], 'updated',\n"
    "  string.format('%d', now))\n"
    "redis.call('HINCRBY', 'booking:' .. bid, 'sequence', 1)\n"
    "redis.call('ZADD', 'sched:mentor:' .. h.mentor .. ':booked', start, bid)\n"
    "redis.call('ZADD', 'user:' .. h.mentor .. ':bookings', start, bid)\n"
    "redis.call('ZADD', 'user:' .. h.mentee .. ':bookings', start, bid)\n"
    "arm(bid, start, 6, now)\n"
    "private_room_close(bid) -- it opens again around the new time (session.join)\n"
    "local b = booking_obj(bid)\n"
    "tell(b, {type = 'schedule.rescheduled', booking = b, old_start = old, by = uid})\n"
    "return cjson.encode({booking = b})\n");

/* ARGV: uid. The latest 200 bookings; upcoming (not ended) ascending, past descending. */
static store_script_t mine_script = STORE_SCRIPT("schedule.mine", SCHEDULE_LUA_PRELUDE
    "local uid, now = ARGV[1], now_ms()\n"
    "local ids = redis.call('ZREVRANGE', 'user:' .. uid .. ':bookings', 0, 199)\n"
    "local up, past = {}, {}\n"
    "for _, bid in ipairs(ids) do\n"
    "  local b = booking_obj(bid)\n"
    "  if b then\n"
    "    b.role = (b.mentor.id == uid) and 'mentor' or 'mentee'\n"
    "    if b['end'] * 1000 > now then table.insert(up, 1, cjson.encode(b))\n"
    "    else past[#past + 1] = cjson.encode(b) end\n"
    "  end\n"
    "end\n"
    "return '{\"upcoming\":' .. jarr(up) .. ',\"past\":' .. jarr(past) .. '}'\n");

/* ARGV: uid, bid, seconds the room opens before the start, seconds it stays open after the end */
static store_script_t join_script = STORE_SCRIPT("session.join", SCHEDULE_LUA_PRELUDE ROOMS_LUA_PRIVATE
    "local uid, bid, now = ARGV[1], ARGV[2], now_ms()\n"
    "local h = hash('booking:' .. bid)\n"
    "if not h.mentor then return fail('not_found', 'no such booking') end\n"
    "local peer = other_party(h, uid)\n"
    "if not peer then return fail('forbidden', 'only the mentor and the mentee join this session') end\n"
    "if h.status ~= 'booked' then return fail('conflict', 'this booking was cancelled') end\n"
    "local opens = tonumber(h.start) - tonumber(ARGV[3])\n"
    "local closes = tonumber(h['end']) + tonumber(ARGV[4])\n"
    "if now < opens * 1000 then return fail('conflict', 'not open yet: the room opens 5 minutes before the start') end\n"
    "if now >= closes * 1000 then return fail('conflict', 'this session is over') end\n"
    "private_room_set(bid, 'Mentoring session', h.mentor, h.mentee, opens, closes)\n"
    "return cjson.encode({booking = booking_obj(bid), peer = brief(peer), opens_at = opens,\n"
    "  closes_at = closes, open = true, room = bid})\n");

/* Claims up to 100 due reminders (ZRANGEBYSCORE + ZREM in one step: exactly one node sends each) and
 * sends them: an event on ev:u of both parties, an entry in their notification history, and a copy
 * that waits in notif:<uid>:pending for a party who is offline. → number sent. */
static store_script_t tick_script = STORE_SCRIPT("schedule.tick", SCHEDULE_LUA_PRELUDE
    "local now = now_ms()\n"
    "local due = redis.call('ZRANGEBYSCORE', 'sched:reminders', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 100)\n"
    "local sent = 0\n"
    "for i = 1, #due, 2 do\n"
    "  redis.call('ZREM', 'sched:reminders', due[i])\n"
    "  local bid, off = string.match(due[i], '^(%x+)|(%d+)$')\n"
    "  local b = bid and booking_obj(bid)\n"
    "  if b and b.status == 'booked' and (b.start - tonumber(off)) * 1000 == tonumber(due[i + 1]) then\n"
    "    local secs = tonumber(off)\n"
    "    local ev = cjson.encode({type = 'schedule.reminder', booking = b, minutes = math.floor(secs / 60),\n"
    "      seconds = secs})\n"
    "    for _, uid in ipairs({b.mentor.id, b.mentee.id}) do\n"
    "      redis.call('PUBLISH', 'ev:u:' .. uid, ev)\n"
    "      redis.call('LPUSH', 'notif:' .. uid, cjson.encode({at = now, kind = 'schedule.reminder',\n"
    "        event = cjson.decode(ev)}))\n"
    "      redis.call('LTRIM', 'notif:' .. uid, 0, 99)\n"
    "      if not is_online(uid, now) then\n"
    "        redis.call('RPUSH', 'notif:' .. uid .. ':pending', ev)\n"
    "        redis.call('LTRIM', 'notif:' .. uid .. ':pending', -100, -1)\n"
    "      end\n"
    "    end\n"
    "    sent = sent + 1\n"
    "  end\n"
    "end\n"
    "return sent\n");

/* ARGV: uid → the events that waited, oldest first (and they wait no more) */
static store_script_t pending_script = STORE_SCRIPT("schedule.pending",
    "local k = 'notif:' .. ARGV[1] .. ':pending'\n"
    "local evs = redis.call('LRANGE', k, 0, -1)\n"
    "redis.call('DEL', k)\n"
    "return evs\n");

/* ARGV: uid */
static store_script_t notif_list_script = STORE_SCRIPT("notifications.list",
    "local items = redis.call('LRANGE', 'notif:' .. ARGV[1], 0, 49)\n"
    "return '{\"notifications\":[' .. table.concat(items, ',') .. ']}'\n");

/* ARGV: session key, bid → {booking} for a party of the booking */
static store_script_t ics_script = STORE_SCRIPT("schedule.ics", SCHEDULE_LUA_PRELUDE
    "local uid = redis.call('GET', ARGV[1])\n"
    "if not uid then return fail('unauthorized', 'sign in first') end\n"
    "local h = hash('booking:' .. ARGV[2])\n"
    "if not h.mentor then return fail('not_found', 'no such booking') end\n"
    "if not other_party(h, uid) then return fail('forbidden', 'not your booking') end\n"
    "return cjson.encode(booking_obj(ARGV[2]))\n");

/* ---------------- helpers ---------------- */

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* The configured reminder offsets as decimal strings in buf, pointed to by args[first…]; returns the
 * number of args in total. */
typedef struct {
    char text[CONFIG_MAX_REMINDERS][24];
} offsets_t;

static int push_offsets(const char **args, int first, offsets_t *o)
{
    long long secs[CONFIG_MAX_REMINDERS];
    int n = config_reminder_offsets(config_get()->reminder_offsets, secs);
    for (int i = 0; i < n; i++) {
        snprintf(o->text[i], sizeof o->text[i], "%lld", secs[i]);
        args[first + i] = o->text[i];
    }
    return first + (n > 0 ? n : 0);
}

/* The rules stored as text (len bytes), or -1 if absent or unreadable (then r is answered). */
static int rules_from_text(req_t *r, const char *text, size_t len, slots_rules_t *rules)
{
    if (len == 0) {
        req_error(r, E_NOT_FOUND, "this mentor has not published availability");
        return -1;
    }
    json_error_t jerr;
    json_t *o = json_loadb(text, len, 0, &jerr);
    const char *field;
    char err[160];
    int rc = o ? slots_rules_parse(o, rules, &field, err, sizeof err) : -1;
    json_decref(o);
    if (rc < 0) {
        log_error("schedule: stored availability is unreadable");
        req_error(r, E_INTERNAL, "internal error");
    }
    return rc;
}

/* Answers a slot that the rules refuse; returns -1 if it did (r answered), 0 if the slot is fine. */
static int refuse_slot(req_t *r, const slots_rules_t *rules, int64_t start)
{
    switch (slots_check(rules, start, now_s())) {
    case SLOTS_OK: return 0;
    case SLOTS_TOO_SOON:
        req_error_ex(r, E_CONFLICT, "start", 0, "too soon: book at least %d minutes ahead", rules->notice_min);
        return -1;
    case SLOTS_TOO_FAR:
        req_error_ex(r, E_CONFLICT, "start", 0, "too far ahead: book at most %d days ahead", rules->ahead_days);
        return -1;
    default:
        req_error_ex(r, E_BAD_REQUEST, "start", 0, "start: not a slot of this mentor's availability");
        return -1;
    }
}

/* ---------------- availability ---------------- */

static void availability_set(req_t *r)
{
    slots_rules_t rules;
    const char *field = NULL;
    char err[160];
    if (slots_rules_parse(req_json(r), &rules, &field, err, sizeof err) < 0) {
        req_error_ex(r, E_BAD_REQUEST, field, 0, "%s", err);
        return;
    }
    if (!accounts_tz_valid(rules.tz)) {
        req_error_ex(r, E_BAD_REQUEST, "tz", 0, "tz: '%s' is not a known IANA time zone", rules.tz);
        return;
    }
    json_t *j = slots_rules_json(&rules);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    const char *args[] = {req_user(r), text};
    feature_eval_answer(r, &avail_set_script, 2, args);
    free(text);
}

static void availability_get(req_t *r)
{
    const char *mentor = req_user(r);
    if (feature_req_id(r, "mentor", 0, 0, &mentor) < 0)
        return;
    const char *args[] = {mentor};
    feature_eval_answer(r, &avail_get_script, 1, args);
}

/* ---------------- slots ---------------- */

/* A schedule.slots request waiting for the mentor's rules and bookings. */
typedef struct {
    req_t *r;
    char mentor[FEATURE_ID_LEN + 1];
    int64_t from, to;
} slots_req_t;

/* The slots of rules in [q->from, q->to) minus the bookings in rep (flat: id, start, …) as an ok answer. */
static void answer_slots(slots_req_t *q, const slots_rules_t *rules, const store_reply_t *rep)
{
    size_t nb = (store_len(rep) - 1) / 2;
    int64_t *booked = calloc(nb + 1, sizeof *booked), *out = calloc(SLOTS_MAX, sizeof *out);
    if (!booked || !out) {
        free(booked);
        free(out);
        req_error(q->r, E_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < nb; i++) {
        const char *s = store_str(store_elem(rep, 2 + 2 * i), NULL);
        booked[i] = s ? strtoll(s, NULL, 10) : 0;
    }
    size_t n = slots_list(rules, q->from, q->to, now_s(), booked, nb, out, SLOTS_MAX);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:I}", "start", (json_int_t)out[i], "end",
                                             (json_int_t)(out[i] + rules->slot_min * 60)));
    free(booked);
    free(out);
    req_ok(q->r, json_pack("{s:s,s:o,s:s,s:i}", "mentor", q->mentor, "slots", arr, "tz", rules->tz,
                           "slot_minutes", rules->slot_min));
}

static void slots_loaded(const store_reply_t *rep, void *priv)
{
    slots_req_t *q = priv;
    slots_rules_t rules;
    if (!rep || store_type(rep) != STORE_ARR || store_len(rep) < 1) {
        req_store_error(q->r, rep);
    } else {
        size_t len = 0;
        const char *text = store_str(store_elem(rep, 0), &len);
        if (rules_from_text(q->r, text, text ? len : 0, &rules) == 0)
            answer_slots(q, &rules, rep);
    }
    free(q);
}

static void schedule_slots(req_t *r)
{
    const char *mentor;
    long long now = now_s(), from = now, to = 0;
    if (feature_req_id(r, "mentor", 0, 1, &mentor) < 0 ||
        req_int(r, "from", 0, 32503680000LL, 0, &from) < 0 || req_int(r, "to", 0, 32503680000LL, 0, &to) < 0)
        return;
    if (!to)
        to = from + 14 * 86400;
    if (to <= from || to - from > SLOTS_RANGE_MAX) {
        req_error_ex(r, E_BAD_REQUEST, "to", 0, "to: must be after from, at most 31 days later");
        return;
    }
    slots_req_t *q = calloc(1, sizeof *q);
    if (!q) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    q->r = r;
    strcpy(q->mentor, mentor);
    q->from = from;
    q->to = to;
    char f[24], t[24];
    /* bookings up to a day around the range can block its edges (slot + buffer is under a day) */
    snprintf(f, sizeof f, "%lld", from - 86400);
    snprintf(t, sizeof t, "%lld", to + 86400);
    const char *args[] = {mentor, f, t};
    store_eval(&load_script, slots_loaded, q, 0, 3, args);
}

/* ---------------- book, reschedule ---------------- */

/* A booking or rescheduling waiting for the mentor's rules. Strings are borrowed from the request or
 * from the answer of the first step (copied into bid/mentor). */
typedef struct {
    req_t *r;
    char bid[FEATURE_ID_LEN + 1];
    char mentor[FEATURE_ID_LEN + 1];
    int64_t start;
    const char *topic; /* book only; borrowed from r */
    int reschedule;
} book_t;

static void book_rules(const store_reply_t *rep, void *priv)
{
    book_t *b = priv;
    req_t *r = b->r;
    slots_rules_t rules;
    if (!rep || (store_type(rep) != STORE_STR && store_type(rep) != STORE_NIL)) {
        req_store_error(r, rep);
        goto out;
    }
    size_t len = 0;
    const char *text = store_type(rep) == STORE_STR ? store_str(rep, &len) : NULL;
    if (rules_from_text(r, text, text ? len : 0, &rules) < 0 || refuse_slot(r, &rules, b->start) < 0)
        goto out;
    char start[24], end[24], gap[24];
    snprintf(start, sizeof start, "%lld", (long long)b->start);
    snprintf(end, sizeof end, "%lld", (long long)(b->start + rules.slot_min * 60));
    snprintf(gap, sizeof gap, "%d", (rules.slot_min + rules.buffer_min) * 60);
    const char *args[8 + CONFIG_MAX_REMINDERS];
    offsets_t o;
    int n;
    if (b->reschedule) {
        args[0] = req_user(r), args[1] = b->bid, args[2] = start, args[3] = end, args[4] = gap;
        n = push_offsets(args, 5, &o);
        feature_eval_answer(r, &reschedule_script, n, args);
    } else {
        args[0] = b->bid, args[1] = req_user(r), args[2] = b->mentor, args[3] = start, args[4] = end;
        args[5] = b->topic, args[6] = gap;
        n = push_offsets(args, 7, &o);
        feature_eval_answer(r, &book_script, n, args);
    }
out:
    free(b);
}

static void load_rules(book_t *b)
{
    store_cmdf(book_rules, b, "GET sched:avail:%s", b->mentor);
}

static void schedule_book(req_t *r)
{
    const char *mentor, *topic = "";
    long long start;
    if (feature_req_id(r, "mentor", 0, 1, &mentor) < 0 || req_int(r, "start", 0, 32503680000LL, 1, &start) < 0 ||
        req_str(r, "topic", 0, 200, 0, &topic) < 0)
        return;
    if (strcmp(mentor, req_user(r)) == 0) {
        req_error_ex(r, E_BAD_REQUEST, "mentor", 0, "mentor: you cannot book yourself");
        return;
    }
    book_t *b = calloc(1, sizeof *b);
    if (!b || feature_id_new(b->bid) < 0) {
        free(b);
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    b->r = r;
    strcpy(b->mentor, mentor);
    b->start = start;
    b->topic = topic;
    load_rules(b);
}

static void reschedule_active(const store_reply_t *rep, void *priv)
{
    book_t *b = priv;
    json_t *o = NULL;
    if (rep && store_type(rep) == STORE_STR) {
        size_t len;
        const char *text = store_str(rep, &len);
        o = json_loadb(text, len, 0, NULL);
    }
    const char *m = json_string_value(json_object_get(json_object_get(json_object_get(o, "booking"), "mentor"), "id"));
    if (!m || !feature_id_valid(m)) {
        if (o)
            req_error(b->r, E_INTERNAL, "internal error");
        else
            req_store_error(b->r, rep);
        json_decref(o);
        free(b);
        return;
    }
    strcpy(b->mentor, m);
    json_decref(o);
    load_rules(b);
}

static void schedule_reschedule(req_t *r)
{
    const char *bid;
    long long start;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0 || req_int(r, "start", 0, 32503680000LL, 1, &start) < 0)
        return;
    book_t *b = calloc(1, sizeof *b);
    if (!b) {
        req_error(r, E_INTERNAL, "out of memory");
        return;
    }
    b->r = r;
    strcpy(b->bid, bid);
    b->start = start;
    b->reschedule = 1;
    const char *args[] = {req_user(r), bid};
    store_eval(&active_script, reschedule_active, b, 0, 2, args);
}

/* ---------------- cancel, mine, join, notifications ---------------- */

static void schedule_cancel(req_t *r)
{
    const char *bid;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0)
        return;
    const char *args[2 + CONFIG_MAX_REMINDERS] = {req_user(r), bid};
    offsets_t o;
    int n = push_offsets(args, 2, &o);
    feature_eval_answer(r, &cancel_script, n, args);
}

static void schedule_mine(req_t *r)
{
    const char *args[] = {req_user(r)};
    feature_eval_answer(r, &mine_script, 1, args);
}

static void session_join(req_t *r)
{
    const char *bid;
    if (feature_req_id(r, "booking", 0, 1, &bid) < 0)
        return;
    char before[16], after[16];
    snprintf(before, sizeof before, "%d", JOIN_OPENS_BEFORE);
    snprintf(after, sizeof after, "%d", JOIN_CLOSES_AFTER);
    const char *args[] = {req_user(r), bid, before, after};
    feature_eval_answer(r, &join_script, 4, args);
}

static void notifications_list(req_t *r)
{
    const char *args[] = {req_user(r)};
    feature_eval_answer(r, &notif_list_script, 1, args);
}

const handler_t schedule_handlers[] = {
    {"schedule.availability.set", availability_set, 0},
    {"schedule.availability.get", availability_get, 0},
    {"schedule.slots", schedule_slots, 0},
    {"schedule.book", schedule_book, H_RL_MSG},
    {"schedule.cancel", schedule_cancel, 0},
    {"schedule.reschedule", schedule_reschedule, 0},
    {"schedule.mine", schedule_mine, 0},
    {"session.join", session_join, 0},
    {"notifications.list", notifications_list, 0},
    {NULL, NULL, 0},
};

/* ---------------- reminders ---------------- */

static uv_timer_t tick_timer;
static int ticking, tick_busy;

static void tick_done(const store_reply_t *rep, void *priv)
{
    (void)priv;
    tick_busy = 0;
    if (rep && store_type(rep) == STORE_INT && store_int(rep) > 0)
        log_info("schedule: sent %lld reminders", store_int(rep));
    else if (rep && store_type(rep) == STORE_ERR)
        log_error("schedule: reminder claim failed: %s", store_str(rep, NULL));
}

static void tick(uv_timer_t *t)
{
    (void)t;
    /* one claim at a time per node; while Redis is down there is nothing to claim from */
    if (tick_busy || !store_is_up())
        return;
    tick_busy = 1;
    store_eval(&tick_script, tick_done, NULL, 0, 0, NULL);
}

void schedule_start(uv_loop_t *loop)
{
    uint64_t every = (uint64_t)config_get()->schedule_tick;
    uv_timer_init(loop, &tick_timer);
    uv_timer_start(&tick_timer, tick, every, every);
    ticking = 1;
}

void schedule_stop(void)
{
    if (!ticking)
        return;
    ticking = 0;
    uv_timer_stop(&tick_timer);
    uv_close((uv_handle_t *)&tick_timer, NULL);
}

typedef struct {
    uint64_t conn;
} signed_in_t;

static void pending_cb(const store_reply_t *rep, void *priv)
{
    signed_in_t *s = priv;
    conn_t *c = conn_find(s->conn);
    for (size_t i = 0; c && rep && store_type(rep) == STORE_ARR && i < store_len(rep); i++) {
        size_t len = 0;
        const char *text = store_str(store_elem(rep, i), &len);
        if (text)
            conn_send_text(c, text, len);
    }
    free(s);
}

void schedule_signed_in(uint64_t conn, const char *uid)
{
    signed_in_t *s = malloc(sizeof *s);
    if (!s)
        return;
    s->conn = conn;
    const char *args[] = {uid};
    store_eval(&pending_script, pending_cb, s, 0, 1, args);
}

/* ---------------- .ics ---------------- */

/* The answer of a lookup: status is an HTTP status (200, 401, 403, 404, 503, 500); body is the calendar
 * (text/calendar) for 200, a short text otherwise; both borrowed for the call only. */
typedef void (*ics_cb)(int status, const char *body, size_t len, void *priv);

typedef struct {
    ics_cb cb;
    void *priv;
    char *join_url;
} ics_job_t;

static int http_status_of(const store_reply_t *rep)
{
    if (!rep)
        return 503;
    const char *e = store_type(rep) == STORE_ERR ? store_str(rep, NULL) : NULL;
    if (e && strncmp(e, "unauthorized:", 13) == 0)
        return 401;
    if (e && strncmp(e, "forbidden:", 10) == 0)
        return 403;
    if (e && strncmp(e, "not_found:", 10) == 0)
        return 404;
    return 500;
}

static void ics_answer(ics_job_t *j, int status, const char *text)
{
    j->cb(status, text, strlen(text), j->priv);
}

static void ics_loaded(const store_reply_t *rep, void *priv)
{
    ics_job_t *j = priv;
    json_t *b = NULL;
    if (rep && store_type(rep) == STORE_STR) {
        size_t len;
        const char *text = store_str(rep, &len);
        b = json_loadb(text, len, 0, NULL);
    }
    if (!b) {
        int st = http_status_of(rep);
        ics_answer(j, st, st == 401 ? "sign in first\n" : st == 403 ? "not your booking\n" :
                   st == 404 ? "no such booking\n" : st == 503 ? "unavailable\n" : "internal error\n");
        goto out;
    }
    char uid[64], summary[160], desc[512];
    const char *peer_m = json_string_value(json_object_get(json_object_get(b, "mentor"), "display_name"));
    const char *peer_e = json_string_value(json_object_get(json_object_get(b, "mentee"), "display_name"));
    const char *topic = json_string_value(json_object_get(b, "topic"));
    snprintf(uid, sizeof uid, "%s@staffroom", json_string_value(json_object_get(b, "id")));
    snprintf(summary, sizeof summary, "Mentoring: %s with %s", peer_e ? peer_e : "", peer_m ? peer_m : "");
    snprintf(desc, sizeof desc, "%s%sJoin the session: %s", topic && *topic ? topic : "", topic && *topic ? "\n" : "",
             j->join_url ? j->join_url : "");
    json_t *cancelled_str = json_string("cancelled");
    ics_event_t ev = {
        .uid = uid,
        .start = json_integer_value(json_object_get(b, "start")),
        .end = json_integer_value(json_object_get(b, "end")),
        .stamp = json_integer_value(json_object_get(b, "updated")) / 1000,
        .sequence = (long)json_integer_value(json_object_get(b, "sequence")),
        .cancelled = json_equal(json_object_get(b, "status"), cancelled_str),
        .summary = summary,
        .description = desc,
        .url = j->join_url,
    };
    json_decref(cancelled_str);
    size_t len;
    char *text = ics_render(&ev, &len);
    if (text)
        j->cb(200, text, len, j->priv);
    else
        ics_answer(j, 500, "internal error\n");
    free(text);
out:
    json_decref(b);
    free(j->join_url);
    free(j);
}

/* Checks the session token (hex, borrowed) against Redis and renders booking bid's calendar with
 * join_url (borrowed, may be NULL) as its join link. cb is called exactly once, later, from the loop. */
static void ics_lookup(const char *bid, const char *token, const char *join_url, ics_cb cb, void *priv)
{
    ics_job_t *j = calloc(1, sizeof *j);
    char key[80];
    if (!j) {
        cb(500, "internal error\n", 15, priv);
        return;
    }
    j->cb = cb;
    j->priv = priv;
    j->join_url = join_url ? strdup(join_url) : NULL;
    /* A malformed token or id is answered like an unknown one, but still later (from the loop): the
     * script is given a key no session can have. */
    if (!token || accounts_session_key(token, key) < 0)
        snprintf(key, sizeof key, "session:-");
    const char *args[] = {key, feature_id_valid(bid) ? bid : "-"};
    store_eval(&ics_script, ics_loaded, j, 0, 2, args);
}

/* ---------------- GET /ics/<booking>.ics (a ws.h route) ---------------- */

static void ics_answered(int status, const char *body, size_t len, void *priv)
{
    ws_http_answer(priv, status, status == 200 ? "text/calendar; charset=utf-8" : "text/plain; charset=utf-8", body,
                   len);
}

/* The token: ?token=… or "Authorization: Bearer …"; "" if neither. */
static void ics_token(ws_http_req_t *req, char *out, size_t cap)
{
    char auth[128];
    if (ws_http_arg(req, "token", out, cap) >= 0)
        return;
    if (ws_http_header(req, "authorization", auth, sizeof auth) > 7 && strncmp(auth, "Bearer ", 7) == 0)
        snprintf(out, cap, "%s", auth + 7);
}

/* Answered once Redis has checked the token; the join link points at the host the client asked for
 * (a calendar app opens it from the same network), unless that Host header is unusable. */
static void ics_route(ws_http_req_t *req, void *arg)
{
    (void)arg;
    const char *uri = ws_http_path(req);
    char bid[40], token[128], host[128], url[256];
    size_t n = strlen(uri);
    if (n != 5 + 32 + 4 || strcmp(uri + n - 4, ".ics") != 0) {
        ws_http_answer(req, 404, "text/plain; charset=utf-8", "no such booking\n", 16);
        return;
    }
    memcpy(bid, uri + 5, 32);
    bid[32] = '\0';
    ics_token(req, token, sizeof token);
    if (ws_http_header(req, "host", host, sizeof host) <= 0 || strpbrk(host, "\r\n \"<>")) {
        const signal_config_t *cfg = config_get();
        snprintf(host, sizeof host, "%s:%lld", cfg->listen_address, cfg->listen_port);
    }
    snprintf(url, sizeof url, "http://%s/#/sessions/join/%s", host, bid); /* the web client's route */
    ics_lookup(bid, token, url, ics_answered, req);
}

int schedule_routes(void)
{
    return ws_route_add("/ics", ics_route, NULL);
}
