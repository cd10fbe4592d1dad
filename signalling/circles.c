/* circles.c — circle.* handlers (see circles.h). Each handler validates its fields, then runs one
 * library function (lua/circles.lua) that checks authorisation, writes and publishes atomically; its JSON
 * is the answer. */
#include "circles.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "feature.h"

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
    feature_eval_answer(r, "circle_create", 0, 9, args);
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
    int mine = 0;
    if (req_bool(r, "mine", 0, &mine) < 0 || req_str(r, "q", 0, 64, 0, &q) < 0 ||
        req_str(r, "subject", 0, 64, 0, &subject) < 0 ||
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
    const char *args[] = {req_user(r), ql, sl, phase, cursor, lim, mine ? "1" : "0"};
    feature_eval_answer(r, "circle_list", 0, 7, args);
}

/* The handlers that take just {circle}: run library function fn with args uid, cid. */
static void circle_only(req_t *r, const char *fn)
{
    const char *cid;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0)
        return;
    const char *args[] = {req_user(r), cid};
    feature_eval_answer(r, fn, 0, 2, args);
}

static void circle_get(req_t *r) { circle_only(r, "circle_get"); }
static void circle_join(req_t *r) { circle_only(r, "circle_join"); }
static void circle_leave(req_t *r) { circle_only(r, "circle_leave"); }
static void circle_pending(req_t *r) { circle_only(r, "circle_pending"); }
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
    feature_eval_answer(r, "circle_members", 0, 4, args);
}

static void circle_decide(req_t *r, const char *verdict)
{
    const char *cid, *who;
    if (feature_req_id(r, "circle", 0, 1, &cid) < 0 || feature_req_id(r, "user", 0, 1, &who) < 0)
        return;
    const char *args[] = {req_user(r), cid, who, verdict};
    feature_eval_answer(r, "circle_decide", 0, 4, args);
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
    feature_eval_answer(r, "circle_set_role", 0, 4, args);
}

/* circle.shared {user}: the circles `user` is in that the asker shares (all for an admin), with the role. */
static void circle_shared(req_t *r)
{
    const char *who;
    if (feature_req_id(r, "user", 0, 1, &who) < 0)
        return;
    const char *args[] = {req_user(r), who};
    feature_eval_answer(r, "circle_shared", 0, 2, args);
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
    {"circle.shared", circle_shared, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t circles_module = {
    .name = "circles",
    .handlers = handlers,
};
