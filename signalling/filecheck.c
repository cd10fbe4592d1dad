/* filecheck.c — see filecheck.h. */
#include "filecheck.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uv_work_t work;
    char *path;
    filecheck_run_fn run;
    filecheck_done_fn done;
    alignas(max_align_t) unsigned char ctx[]; /* the caller's context, copied */
} job_t;

static void job_run(uv_work_t *w)
{
    job_t *j = w->data;
    j->run(j->path, j->ctx);
}

static void job_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    j->done(j->ctx, status < 0); /* status < 0: cancelled at shutdown */
    free(j->path);
    free(j);
}

int filecheck_start(uv_loop_t *loop, const char *path, const void *ctx, size_t ctx_size, filecheck_run_fn run,
                    filecheck_done_fn done)
{
    job_t *j = calloc(1, sizeof *j + ctx_size);
    if (!j || !(j->path = strdup(path))) {
        free(j);
        return -1;
    }
    memcpy(j->ctx, ctx, ctx_size);
    j->run = run;
    j->done = done;
    j->work.data = j;
    if (uv_queue_work(loop, &j->work, job_run, job_done) < 0) {
        free(j->path);
        free(j);
        return -1;
    }
    return 0;
}
