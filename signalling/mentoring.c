/* mentoring.c — mentoring.notes.* handlers (see mentoring.h). */
#include "mentoring.h"

#include <string.h>

#include "feature.h"

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
    feature_eval_answer(r, "mentoring_notes_add", 0, 4, args);
}

static void notes_list(req_t *r)
{
    const char *with;
    if (read_with(r, &with) < 0)
        return;
    const char *args[] = {req_user(r), with};
    feature_eval_answer(r, "mentoring_notes_list", 0, 2, args);
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
