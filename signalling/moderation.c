/* moderation.c — see moderation.h. Each handler validates its fields, then runs one library function
 * (lua/moderation.lua) that checks authorisation, writes, logs and publishes atomically; its JSON is the
 * answer. */
#include "moderation.h"

#include <stdio.h>

#include "archive.h"
#include "feature.h"
#include "history.h"

static const char *const requestable_roles[] = {"expert", "mentor", NULL};
static const char *const verdicts[] = {"dismiss", "remove", NULL};

static void role_request(req_t *r)
{
    const char *cid, *role, *note = "";
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_enum(r, "role", requestable_roles, 1, &role) < 0 ||
        req_str(r, "note", 0, MODERATION_NOTE_MAX, 0, &note) < 0)
        return;
    const char *args[] = {req_user(r), cid, role, note};
    feature_eval_answer(r, "circle_role_request", 0, 4, args);
}

static void role_requests(req_t *r)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, "circle_role_requests", 0, 2, args);
}

static void role_decide(req_t *r)
{
    const char *cid, *who, *role;
    int approve = 0;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "user", 0, 1, &who) < 0 ||
        feature_req_enum(r, "role", requestable_roles, 1, &role) < 0 || req_bool(r, "approve", 1, &approve) < 0)
        return;
    const char *args[] = {req_user(r), cid, who, role, approve ? "1" : "0"};
    feature_eval_answer(r, "circle_role_decide", 0, 5, args);
}

static void circle_remove(req_t *r)
{
    const char *cid, *who, *reason = "";
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "user", 0, 1, &who) < 0 ||
        req_str(r, "reason", 0, MODERATION_NOTE_MAX, 0, &reason) < 0)
        return;
    const char *args[] = {req_user(r), cid, who, reason};
    feature_eval_answer(r, "circle_remove", 0, 4, args);
}

static void chat_report(req_t *r)
{
    const char *chid, *mid, *reason;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 || feature_req_id(r, "message", 1, 1, &mid) < 0 ||
        req_str(r, "reason", 1, MODERATION_REASON_MAX, 1, &reason) < 0)
        return;
    char id[FEATURE_ID_LEN + 1];
    if (feature_id_new(id) < 0) {
        req_error(r, E_INTERNAL, "no random ids available");
        return;
    }
    const char *args[] = {req_user(r), chid, mid, reason, id};
    feature_eval_answer(r, "chat_report", 0, 5, args);
}

static void queue(req_t *r)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, "moderation_queue", 0, 2, args);
}

static void resolve(req_t *r)
{
    const char *cid, *report, *action;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "report", 0, 1, &report) < 0 ||
        feature_req_enum(r, "action", verdicts, 1, &action) < 0)
        return;
    const char *args[] = {req_user(r), cid, report, action};
    feature_eval_answer(r, "moderation_resolve", 0, 4, args);
}

static void audit(req_t *r)
{
    const char *cid, *before = "";
    long long limit = 50;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "before", 1, 0, &before) < 0 ||
        req_int(r, "limit", 1, MODERATION_AUDIT_PAGE, 0, &limit) < 0)
        return;
    if (archive_enabled()) { /* older entries are in PostgreSQL */
        history_audit(r, cid, before, limit);
        return;
    }
    char lim[8];
    snprintf(lim, sizeof lim, "%lld", limit);
    const char *args[] = {req_user(r), cid, before, lim};
    feature_eval_answer(r, "moderation_audit", 0, 4, args);
}

static void suspend(req_t *r)
{
    const char *who, *reason = "";
    if (feature_req_id(r, "user", 0, 1, &who) < 0 || req_str(r, "reason", 0, MODERATION_NOTE_MAX, 0, &reason) < 0)
        return;
    const char *args[] = {req_user(r), who, reason};
    feature_eval_answer(r, "admin_suspend", 0, 3, args);
}

static void unsuspend(req_t *r)
{
    const char *who;
    if (feature_req_id(r, "user", 0, 1, &who) < 0)
        return;
    const char *args[] = {req_user(r), who};
    feature_eval_answer(r, "admin_unsuspend", 0, 2, args);
}

static const handler_t handlers[] = {
    {"circle.role_request", role_request, H_RL_MSG},
    {"circle.role_requests", role_requests, H_RL_READ},
    {"circle.role_decide", role_decide, H_RL_READ},
    {"circle.remove", circle_remove, H_RL_READ},
    {"chat.report", chat_report, H_RL_MSG},
    {"moderation.queue", queue, H_RL_READ},
    {"moderation.resolve", resolve, H_RL_READ},
    {"moderation.audit", audit, H_RL_READ},
    {"admin.suspend", suspend, H_RL_READ},
    {"admin.unsuspend", unsuspend, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t moderation_module = {
    .name = "moderation",
    .handlers = handlers,
};
