/* channels.c — channel.* and chat.* handlers (see channels.h). Each handler validates its fields, then
 * runs one store script that checks membership, writes and publishes atomically. */
#include "channels.h"

#include <stdio.h>
#include <string.h>

#include "circle_lua.h"
#include "help_lua.h"
#include "feature.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Lua shared by the channel scripts: membership of a channel's circle, and the message view. */
#define CHANNELS_LUA                                                                               \
    CIRCLE_LUA_PRELUDE                                                                             \
    HELP_LUA                                                                                       \
    "local function member_channel(chid, uid)\n"                                                   \
    "  local cid = redis.call('HGET', 'channel:' .. chid, 'circle')\n"                              \
    "  if not cid then return nil, nil, fail('not_found', 'no such channel') end\n"                 \
    "  local role = role_of(cid, uid)\n"                                                           \
    "  if not role then\n"                                                                         \
    "    return nil, nil, fail('forbidden', 'only members of the circle use its channels')\n"       \
    "  end\n"                                                                                      \
    "  return cid, role, nil\n"                                                                    \
    "end\n"                                                                                        \
    "local function msg_obj(chid, id, flat)\n"                                                     \
    "  local f = {}\n"                                                                             \
    "  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end\n"                                      \
    "  local text, edited = f.text, false\n"                                                       \
    "  local e = redis.call('HGET', 'channel:' .. chid .. ':edits', id)\n"                          \
    "  if e then text, edited = e, true end\n"                                                     \
    "  local m = {id = id, channel = chid, user = brief(f.user), text = text,\n"                    \
    "    ts = tonumber(string.match(id, '^(%d+)')), edited = edited}\n"                             \
    "  if f.help then m.help = help_brief(f.help) end\n"                                             \
    "  return m\n"                                                                                 \
    "end\n"                                                                                        \
    "local function find_msg(chid, id)\n"                                                          \
    "  local r = redis.call('XRANGE', 'channel:' .. chid .. ':log', id, id)\n"                      \
    "  if #r == 0 then return nil end\n"                                                           \
    "  return r[1][2]\n"                                                                           \
    "end\n"

/* ARGV: uid, cid, chid, name, topic. Names are unique per circle, ignoring case. */
static store_script_t create_script = STORE_SCRIPT("channel.create", CHANNELS_LUA
    "local uid, cid, chid, name, topic = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"
    "if not can_moderate(cid, uid) then\n"
    "  return fail('forbidden', 'only moderators of this circle and admins create channels')\n"
    "end\n"
    "local lname = string.lower(name)\n"
    "for _, other in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do\n"
    "  local n = redis.call('HGET', 'channel:' .. other, 'name')\n"
    "  if n and string.lower(n) == lname then\n"
    "    return fail('conflict', 'this circle already has a channel with that name')\n"
    "  end\n"
    "end\n"
    "local now = string.format('%d', now_ms())\n"
    "redis.call('HSET', 'channel:' .. chid, 'circle', cid, 'name', name, 'topic', topic, 'created', now)\n"
    "redis.call('ZADD', 'circle:' .. cid .. ':channels', now, chid)\n"
    "local ch = {id = chid, circle = cid, name = name, topic = topic}\n"
    "publish_circle(cid, {type = 'channel.created', channel = ch})\n"
    "return cjson.encode({channel = ch})\n");

/* ARGV: uid, cid */
static store_script_t list_script = STORE_SCRIPT("channel.list", CHANNELS_LUA
    "local uid, cid = ARGV[1], ARGV[2]\n"
    "if not circle_exists(cid) then return fail('not_found', 'no such circle') end\n"
    "if not role_of(cid, uid) then\n"
    "  return fail('forbidden', 'only members of the circle see its channels')\n"
    "end\n"
    "local out = {}\n"
    "for _, chid in ipairs(redis.call('ZRANGE', 'circle:' .. cid .. ':channels', 0, -1)) do\n"
    "  local c = hash('channel:' .. chid)\n"
    "  out[#out + 1] = cjson.encode({id = chid, circle = cid, name = c.name, topic = c.topic or ''})\n"
    "end\n"
    "return '{\"channels\":' .. jarr(out) .. '}'\n");

/* Lua: tells every member of circle cid named as @name in the text of message m (by uid, stored) —
 * not the sender, each once, at most MENTIONS_MAX — with chat.mention on ev:u, an entry in their
 * notification history (notif:<uid>, as scheduling's reminders) and, if they are offline, a copy that
 * waits for their next sign-in (notif:<uid>:pending). */
#define MENTIONS_MAX "20"
#define MENTIONS_LUA                                                                               \
    "local function tell_mentions(cid, chid, uid, text, m)\n"                                     \
    "  local told, n, now = {}, 0, now_ms()\n"                                                    \
    "  for raw in string.gmatch(text, '@([%w_%.%-]+)') do\n"                                      \
    "    if n >= " MENTIONS_MAX " then break end\n"                                              \
    "    local name = string.lower((string.gsub(raw, '[%.%-]+$', '')))\n"                       \
    "    local who = redis.call('GET', 'username:' .. name)\n"                                    \
    "    if who and who ~= uid and not told[who] and role_of(cid, who) then\n"                   \
    "      told[who], n = true, n + 1\n"                                                         \
    "      local ev = cjson.encode({type = 'chat.mention', circle = cid, channel = chid, message = m,\n" \
    "        by = brief(uid)})\n"                                                                \
    "      redis.call('PUBLISH', 'ev:u:' .. who, ev)\n"                                            \
    "      redis.call('LPUSH', 'notif:' .. who, cjson.encode({at = now, kind = 'chat.mention', event = cjson.decode(ev)}))\n" \
    "      redis.call('LTRIM', 'notif:' .. who, 0, 99)\n"                                          \
    "      if not is_online(who, now) then\n"                                                   \
    "        redis.call('RPUSH', 'notif:' .. who .. ':pending', ev)\n"                             \
    "        redis.call('LTRIM', 'notif:' .. who .. ':pending', -100, -1)\n"                       \
    "      end\n"                                                                               \
    "    end\n"                                                                                 \
    "  end\n"                                                                                   \
    "end\n"

/* ARGV: uid, chid, text. XADD and PUBLISH in one script: the event order is the stream order and the
 * answer (ok) is only sent once the message is stored. */
static store_script_t send_script = STORE_SCRIPT("chat.send", CHANNELS_LUA MENTIONS_LUA
    "local uid, chid, text = ARGV[1], ARGV[2], ARGV[3]\n"
    "local cid, _, e = member_channel(chid, uid)\n"
    "if e then return e end\n"
    "local id = redis.call('XADD', 'channel:' .. chid .. ':log', '*', 'user', uid, 'text', text)\n"
    "local m = msg_obj(chid, id, {'user', uid, 'text', text})\n"
    "publish_circle(cid, {type = 'chat.message', circle = cid, message = m})\n"
    "tell_mentions(cid, chid, uid, text, m)\n"
    "return cjson.encode({message = m})\n");

/* ARGV: uid, chid, before ("" = none), after ("" = none), limit. Both bounds are exclusive. Without
 * `after` the newest messages before `before` are read backwards; answers are always oldest first. */
static store_script_t history_script = STORE_SCRIPT("chat.history", CHANNELS_LUA
    "local uid, chid, before, after = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local limit = tonumber(ARGV[5])\n"
    "local _, _, e = member_channel(chid, uid)\n"
    "if e then return e end\n"
    "local log, hi = 'channel:' .. chid .. ':log', '+'\n"
    "if before ~= '' then hi = '(' .. before end\n"
    "local entries\n"
    "if after ~= '' then\n"
    "  entries = redis.pcall('XRANGE', log, '(' .. after, hi, 'COUNT', limit + 1)\n"
    "else\n"
    "  entries = redis.pcall('XREVRANGE', log, hi, '-', 'COUNT', limit + 1)\n"
    "end\n"
    /* Redis refuses an exclusive bound past the ends of the id space ("(0-0" as end, the largest id as
     * start): nothing lies beyond them, so that is an empty page, not an error */
    "if entries.err then entries = {} end\n"
    "local has_more = #entries > limit\n"
    "local n = math.min(#entries, limit)\n"
    "local out = {}\n"
    "for i = 1, n do\n"
    "  local en = entries[i]\n"
    "  if after == '' then en = entries[n + 1 - i] end\n"
    "  out[i] = cjson.encode(msg_obj(chid, en[1], en[2]))\n"
    "end\n"
    "return '{\"messages\":' .. jarr(out) .. ',\"has_more\":' .. tostring(has_more) .. '}'\n");

/* ARGV: uid, chid, message id, text. Only the author edits. */
static store_script_t edit_script = STORE_SCRIPT("chat.edit", CHANNELS_LUA
    "local uid, chid, id, text = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "local cid, _, e = member_channel(chid, uid)\n"
    "if e then return e end\n"
    "local flat = find_msg(chid, id)\n"
    "if not flat then return fail('not_found', 'no such message') end\n"
    "local m = msg_obj(chid, id, flat)\n"
    "if m.user.id ~= uid then return fail('forbidden', 'only the author edits a message') end\n"
    "redis.call('HSET', 'channel:' .. chid .. ':edits', id, text)\n"
    "m.text, m.edited = text, true\n"
    "publish_circle(cid, {type = 'chat.updated', circle = cid, message = m})\n"
    "return cjson.encode({message = m})\n");

/* ARGV: uid, chid, message id. The author, the circle's moderators and admins delete. */
static store_script_t delete_script = STORE_SCRIPT("chat.delete", CHANNELS_LUA
    "local uid, chid, id = ARGV[1], ARGV[2], ARGV[3]\n"
    "local cid, role, e = member_channel(chid, uid)\n"
    "if e then return e end\n"
    "local flat = find_msg(chid, id)\n"
    "if not flat then return fail('not_found', 'no such message') end\n"
    "local author = nil\n"
    "for i = 1, #flat, 2 do if flat[i] == 'user' then author = flat[i + 1] end end\n"
    "if author ~= uid and role ~= 'moderator' and not is_admin(uid) then\n"
    "  return fail('forbidden', 'only the author or a moderator deletes a message')\n"
    "end\n"
    "redis.call('XDEL', 'channel:' .. chid .. ':log', id)\n"
    "redis.call('HDEL', 'channel:' .. chid .. ':edits', id)\n"
    "publish_circle(cid, {type = 'chat.deleted', circle = cid, channel = chid, message = id})\n"
    "return ''\n");

/* ARGV: uid, chid. Nothing is stored but a short-lived throttle key; repeated calls inside the window
 * are answered ok without a new event. */
static store_script_t typing_script = STORE_SCRIPT("chat.typing", CHANNELS_LUA
    "local uid, chid = ARGV[1], ARGV[2]\n"
    "local cid, _, e = member_channel(chid, uid)\n"
    "if e then return e end\n"
    "if redis.call('SET', 'typing:' .. chid .. ':' .. uid, '1', 'PX', '" STR(TYPING_THROTTLE_MS) "',\n"
    "   'NX') then\n"
    "  publish_circle(cid, {type = 'chat.typing', circle = cid, channel = chid, user = brief(uid)})\n"
    "end\n"
    "return ''\n");

/* Reads the chat text: 1–CHAT_TEXT_MAX characters (req_str counts code points) and at most CHAT_TEXT_MAX
 * bytes, the limit that bounds storage. Errors as req_str. */
static int req_chat_text(req_t *r, const char **text)
{
    if (req_str(r, "text", 1, CHAT_TEXT_MAX, 1, text) < 0)
        return -1;
    if (strlen(*text) > CHAT_TEXT_MAX) {
        req_error_ex(r, E_BAD_REQUEST, "text", 0, "text: longer than %d bytes of UTF-8", CHAT_TEXT_MAX);
        return -1;
    }
    return 0;
}

static void channel_create(req_t *r)
{
    const char *cid, *name, *topic = "";
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || req_str(r, "name", 1, 32, 1, &name) < 0 ||
        req_str(r, "topic", 0, 200, 0, &topic) < 0)
        return;
    char chid[FEATURE_ID_LEN + 1];
    if (feature_id_new(chid) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    const char *args[] = {req_user(r), cid, chid, name, topic};
    feature_eval_answer(r, &create_script, 5, args);
}

static void channel_list(req_t *r)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, &list_script, 2, args);
}

static void chat_send(req_t *r)
{
    const char *chid, *text;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        req_chat_text(r, &text) < 0)
        return;
    const char *args[] = {req_user(r), chid, text};
    feature_eval_answer(r, &send_script, 3, args);
}

static void chat_history(req_t *r)
{
    const char *chid, *before = "", *after = "";
    long long limit = 50;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        feature_req_id(r, "before", 1, 0, &before) < 0 ||
        feature_req_id(r, "after", 1, 0, &after) < 0 ||
        req_int(r, "limit", 1, CHAT_HISTORY_MAX, 0, &limit) < 0)
        return;
    char lim[8];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), chid, before, after, lim};
    feature_eval_answer(r, &history_script, 5, args);
}

static void chat_edit(req_t *r)
{
    const char *chid, *id, *text;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        feature_req_id(r, "message", 1, 1, &id) < 0 ||
        req_chat_text(r, &text) < 0)
        return;
    const char *args[] = {req_user(r), chid, id, text};
    feature_eval_answer(r, &edit_script, 4, args);
}

static void chat_delete(req_t *r)
{
    const char *chid, *id;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        feature_req_id(r, "message", 1, 1, &id) < 0)
        return;
    const char *args[] = {req_user(r), chid, id};
    feature_eval_answer(r, &delete_script, 3, args);
}

static void chat_typing(req_t *r)
{
    const char *chid;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0)
        return;
    const char *args[] = {req_user(r), chid};
    feature_eval_answer(r, &typing_script, 2, args);
}

static const handler_t handlers[] = {
    {"channel.create", channel_create, H_RL_READ},
    {"channel.list", channel_list, H_RL_READ},
    {"chat.send", chat_send, H_RL_MSG},
    {"chat.history", chat_history, H_RL_READ},
    {"chat.edit", chat_edit, H_RL_MSG},
    {"chat.delete", chat_delete, H_RL_READ},
    {"chat.typing", chat_typing, H_RL_SIGNAL},
    {NULL, NULL, 0},
};

const module_t channels_module = {
    .name = "channels",
    .handlers = handlers,
};
