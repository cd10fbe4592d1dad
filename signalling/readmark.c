/* readmark.c — see readmark.h. Each handler validates its fields, then runs one library function
 * (lua/readmark.lua); its JSON is the answer. */
#include "readmark.h"

#include "feature.h"

static void channel_read(req_t *r)
{
    const char *chid, *mid;
    if (feature_req_id(r, "channel", 0, 1, &chid) < 0 || feature_req_id(r, "message", 1, 1, &mid) < 0)
        return;
    const char *args[] = {req_user(r), chid, mid};
    feature_eval_answer(r, "channel_read", 0, 3, args);
}

static void unread_counts(req_t *r)
{
    const char *args[] = {req_user(r)};
    feature_eval_answer(r, "unread_counts", 0, 1, args);
}

static const handler_t handlers[] = {
    {"channel.read", channel_read, H_RL_READ},
    {"unread.counts", unread_counts, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t readmark_module = {
    .name = "readmark",
    .handlers = handlers,
};
