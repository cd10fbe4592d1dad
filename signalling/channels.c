/* channels.c — channel.* and chat.* handlers (see channels.h). Each handler validates its fields, then
 * runs one library function (lua/channels.lua) that checks membership, writes and publishes atomically. */
#include "channels.h"

#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "history.h"
#include "feature.h"


/* Lua: tells every member of circle cid named as @name in the text of message m (by uid, stored) —
 * not the sender, each once, at most MENTIONS_MAX — with chat.mention on ev:u, an entry in their
 * notification history (notif:<uid>, as scheduling's reminders) and, if they are offline, a copy that
 * waits for their next sign-in (notif:<uid>:pending). */
#define MENTIONS_MAX "20"
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
    feature_eval_answer(r, "channel_create", 0, 5, args);
}

static void channel_list(req_t *r)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, "channel_list", 0, 2, args);
}

static void chat_send(req_t *r)
{
    const char *chid, *text;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        req_chat_text(r, &text) < 0)
        return;
    const char *args[] = {req_user(r), chid, text};
    feature_eval_answer_durable(r, "chat_send", 0, 3, args); /* acknowledged once safe: chat-wait-replicas */
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
    if (archive_enabled()) { /* older pages are in PostgreSQL: history.h */
        history_read(r, chid, before, after, limit);
        return;
    }
    char lim[8];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), chid, before, after, lim};
    feature_eval_answer(r, "chat_history", 0, 5, args);
}

static void chat_edit(req_t *r)
{
    const char *chid, *id, *text;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        feature_req_id(r, "message", 1, 1, &id) < 0 ||
        req_chat_text(r, &text) < 0)
        return;
    if (archive_enabled()) { /* the message may be archived: history.h */
        history_change(r, chid, id, text);
        return;
    }
    const char *args[] = {req_user(r), chid, id, text};
    feature_eval_answer(r, "chat_edit", 0, 4, args);
}

static void chat_delete(req_t *r)
{
    const char *chid, *id;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 ||
        feature_req_id(r, "message", 1, 1, &id) < 0)
        return;
    if (archive_enabled()) {
        history_change(r, chid, id, NULL);
        return;
    }
    const char *args[] = {req_user(r), chid, id};
    feature_eval_answer(r, "chat_delete", 0, 3, args);
}

static void chat_typing(req_t *r)
{
    const char *chid;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0)
        return;
    char throttle[16];
    snprintf(throttle, sizeof throttle, "%d", TYPING_THROTTLE_MS);
    const char *args[] = {req_user(r), chid, throttle};
    feature_eval_answer(r, "chat_typing", 0, 3, args);
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
