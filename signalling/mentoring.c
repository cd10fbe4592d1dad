/* mentoring.c — mentoring.notes.* handlers (see mentoring.h). */
#include "mentoring.h"

#include <string.h>

#include "feature.h"
#include "schedule_lua.h"

/* Lua: the bookings of uid with other (booking objects, by start), found through uid's bookings. */
#define PAIR_LUA                                                                                       \
    "local function pair_sessions(uid, other)\n"                                                      \
    "  local out = {}\n"                                                                             \
    "  for _, bid in ipairs(redis.call('ZRANGE', 'user:' .. uid .. ':bookings', 0, -1)) do\n"           \
    "    local h = hash('booking:' .. bid)\n"                                                         \
    "    if h.mentor and other_party(h, uid) == other then out[#out + 1] = booking_obj(bid) end\n"      \
    "  end\n"                                                                                        \
    "  return out\n"                                                                                 \
    "end\n"

/* ARGV: uid, other, kind, text */
static store_script_t add_script = STORE_SCRIPT("mentoring.notes.add", SCHEDULE_LUA_PRELUDE PAIR_LUA
    "local uid, other = ARGV[1], ARGV[2]\n"
    "if #pair_sessions(uid, other) == 0 then\n"
    "  return fail('forbidden', 'notes are shared by a mentor and a mentee who have booked a session')\n"
    "end\n"
    "local key = pair_key(uid, other) .. ':notes'\n"
    "local note = {id = redis.call('INCR', pair_key(uid, other) .. ':seq'), by = brief(uid),\n"
    "  kind = ARGV[3], text = ARGV[4], at = now_ms()}\n"
    "redis.call('RPUSH', key, cjson.encode(note))\n"
    "redis.call('LTRIM', key, -1000, -1)\n"
    "local ev = cjson.encode({type = 'mentoring.note', with = brief(uid), note = note})\n"
    "redis.call('PUBLISH', 'ev:u:' .. other, ev)\n"
    "return cjson.encode({note = note})\n");

/* ARGV: uid, other */
static store_script_t list_script = STORE_SCRIPT("mentoring.notes.list", SCHEDULE_LUA_PRELUDE PAIR_LUA
    "local uid, other = ARGV[1], ARGV[2]\n"
    "local sessions = pair_sessions(uid, other)\n"
    "if #sessions == 0 then\n"
    "  return fail('forbidden', 'notes are shared by a mentor and a mentee who have booked a session')\n"
    "end\n"
    "local enc = {}\n"
    "for i, b in ipairs(sessions) do enc[i] = cjson.encode(b) end\n"
    "local notes = redis.call('LRANGE', pair_key(uid, other) .. ':notes', 0, -1)\n"
    "return '{\"with\":' .. cjson.encode(brief(other)) .. ',\"sessions\":' .. jarr(enc) ..\n"
    "  ',\"notes\":' .. jarr(notes) .. '}'\n");

static const char *const kinds[] = {"note", "goal", NULL};

static int read_with(req_t *r, const char **with)
{
    if (feature_req_id(r, "with", 0, 1, with) < 0)
        return -1;
    if (strcmp(*with, req_user(r)) == 0) {
        req_error_ex(r, E_BAD_REQUEST, "with", 0, "with: the other person of the pair, not yourself");
        return -1;
    }
    return 0;
}

static void notes_add(req_t *r)
{
    const char *with, *kind, *text;
    if (read_with(r, &with) < 0 || feature_req_enum(r, "kind", kinds, 1, &kind) < 0 ||
        req_str(r, "text", 1, 2000, 1, &text) < 0)
        return;
    const char *args[] = {req_user(r), with, kind, text};
    feature_eval_answer(r, &add_script, 4, args);
}

static void notes_list(req_t *r)
{
    const char *with;
    if (read_with(r, &with) < 0)
        return;
    const char *args[] = {req_user(r), with};
    feature_eval_answer(r, &list_script, 2, args);
}

static const handler_t handlers[] = {
    {"mentoring.notes.add", notes_add, H_RL_MSG},
    {"mentoring.notes.list", notes_list, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t mentoring_module = {
    .name = "mentoring",
    .handlers = handlers,
};
