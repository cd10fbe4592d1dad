/* filecheck.h — a check of a finished upload's file (what it really is) run on libuv's thread pool, its
 * answer handed back on the loop. Reading a 2 GiB clip through or a large archive's entries takes
 * seconds: never on the loop.
 *
 * Owns: the job's memory (a copy of the caller's context, freed after done), queueing, cancellation at
 * shutdown. The caller's context (probe.c, docprobe.c) holds its result and its own callback.
 * Must not: know what is checked, the database, HTTP or who owns the file.
 */
#ifndef STAFFROOM_FILECHECK_H
#define STAFFROOM_FILECHECK_H

#include <stddef.h>
#include <uv.h>

/* On a pool thread: check the file at path, writing into ctx (the job's own copy). */
typedef void (*filecheck_run_fn)(const char *path, void *ctx);
/* On the loop: the check finished, or was cancelled (cancelled = 1: the server is stopping, run never
 * ran). ctx is freed when this returns. */
typedef void (*filecheck_done_fn)(void *ctx, int cancelled);

/* Copies ctx_size bytes of ctx and the path into a new job and queues it. Returns 0, or -1 when out of
 * memory or libuv refused the work (nothing is called then). */
int filecheck_start(uv_loop_t *loop, const char *path, const void *ctx, size_t ctx_size, filecheck_run_fn run,
                    filecheck_done_fn done);

#endif
