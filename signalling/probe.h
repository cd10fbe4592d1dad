/* probe.h — what a file really is: its container and codecs, read by libavformat (Debian's FFmpeg), never
 * trusted from a file name or a Content-Type. The only module that includes libavformat.
 *
 * Owns: accepting WebM (VP8/VP9 video, Opus/Vorbis audio) and MP4 (H.264 video, AAC audio) by content;
 * refusing anything else (not_video) and a video that ends early (broken_video: every packet is read, and
 * they must reach the duration the container declares, within a second); the facts kept in media.meta.
 * The work runs on libuv's thread pool, never on the loop (a 2 GiB clip takes seconds to read through).
 * Must not: know the database, HTTP or who owns the file.
 */
#ifndef STAFFROOM_PROBE_H
#define STAFFROOM_PROBE_H

#include <stdint.h>
#include <uv.h>

typedef struct {
    int ok;                /* 1: a video we accept */
    char code[16];         /* when not ok: "not_video" or "broken_video" */
    char message[160];     /* when not ok: for the uploader */
    char mime[16];         /* "video/webm" or "video/mp4" */
    char container[8];     /* "webm" or "mp4" */
    char vcodec[16];       /* "vp8", "vp9", "h264" or "" (audio only) */
    char acodec[16];       /* "opus", "vorbis", "aac" or "" (no audio) */
    int width, height;
    int64_t duration_ms;
} probe_result_t;

/* Probes the file at path in the calling thread (it blocks: for the thread pool and for tests). */
void probe_file(const char *path, probe_result_t *out);

/* The result (borrowed for the call) and the caller's priv, on the loop. */
typedef void (*probe_cb)(const probe_result_t *res, void *priv);
/* Probes path (borrowed, copied) on loop's thread pool; cb is called once, on the loop, never from inside
 * this call. Returns 0, or -1 (out of memory, the pool refused: cb is then never called). */
int probe_start(uv_loop_t *loop, const char *path, probe_cb cb, void *priv);

#endif
