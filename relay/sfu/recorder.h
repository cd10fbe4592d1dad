/* recorder.h — in-call recording: one WebM file (VP8 or Opus) per participant track, written with
 * libavformat (the only libav* user).
 *
 * Owns: depacketising a track's decrypted RTP into whole frames (VP8 by timestamp, marker bit and the
 * partition start of RFC 7741 §4.4; Opus one packet = one frame, RFC 7587 §4.2); the bounded queue that
 * hands frames to one writer thread per recording; the writer thread (muxing, file writes, trailers); the
 * per-track facts a player needs to play the files in sync (each track's wall-clock start offset).
 * Must not: block the caller's loop (the loop side only copies into the queue; a full queue drops the frame
 * and counts it), touch sockets, Redis or JSON, or know about rooms and peers.
 *
 * Threads: every function here is called on the SFU loop. The writer thread only touches the writer-side
 * half of each stream; the loop learns the end of a recording from the done callback, run on the GLib
 * default main context.
 *
 * Timestamps come from the RTP clock (90 kHz VP8, 48 kHz Opus), extended over wraps and made relative to
 * the stream's first frame. A video stream starts at a keyframe: until one arrives, and after any packet
 * loss inside a frame, frames are dropped and recorder_stream_rtp asks for a keyframe.
 */
#ifndef STAFFROOM_SFU_RECORDER_H
#define STAFFROOM_SFU_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

typedef struct recorder recorder_t;
typedef struct recorder_stream recorder_stream_t;

typedef enum { RECORDER_VP8, RECORDER_OPUS } recorder_codec_t;

/* What recorder_stream_rtp asks of its caller (bit flags). */
enum {
    RECORDER_WANT_KEYFRAME = 1, /* send the publisher a PLI (the caller throttles it) */
    RECORDER_LIMIT = 2,         /* the recording reached its maximum length: stop it */
};

/* One file of a finished recording, as the done callback reports it. Strings borrowed for the callback. */
typedef struct {
    const char *file;            /* name inside the recording's directory */
    const char *pid, *user, *label, *kind; /* kind: audio, video */
    const char *codec;           /* VP8, opus */
    int64_t offset_ms;           /* wall-clock arrival of its first frame, from the recording's start */
    int64_t duration_ms;         /* last frame's timestamp - first's (+ one frame) */
    unsigned width, height;      /* video: from the first keyframe */
    uint64_t frames, dropped;    /* frames written; frames lost (queue full, gaps, before a keyframe) */
    bool ok;                     /* the file has a header and a trailer and can be played */
} recorder_file_t;

typedef struct {
    int64_t started_at_ms;       /* wall clock (Unix ms) of recorder_new */
    int64_t duration_ms;         /* from start to stop */
    const recorder_file_t *files;
    size_t nfiles;
    uint64_t queue_dropped;      /* frames the full queue refused, over all files */
    int64_t finalize_ms;         /* from recorder_stop to every file closed (the "stop to playable" time) */
} recorder_result_t;

typedef void (*recorder_done_cb)(void *ctx, const recorder_result_t *res);

typedef struct {
    const char *dir;             /* created if missing (its parent must exist); files go here */
    unsigned max_seconds;        /* 0 = no limit */
    unsigned queue_frames;       /* bound of the writer queue; 0 = 512 (and at most 64 MiB of frames) */
} recorder_params_t;

/* Starts a recording (its writer thread). Returns NULL if the directory cannot be made or the thread not
 * started (errno-like reason logged). */
recorder_t *recorder_new(const recorder_params_t *p);

/* A new file for one track. The strings are copied. pid/label name the file (<pid>-<label>[-n].webm, with
 * characters outside [A-Za-z0-9_-] replaced). The stream is owned by the recorder: valid until
 * recorder_stop, after which the caller must forget it. */
recorder_stream_t *recorder_stream_open(recorder_t *r, const char *pid, const char *user, const char *label,
                                        recorder_codec_t codec);

/* One decrypted RTP packet of the stream's track (v borrowed for the call: payload copied if needed).
 * keyframe: the packet starts a VP8 keyframe (vp8.h). Returns RECORDER_* flags (0: nothing to do). */
int recorder_stream_rtp(recorder_stream_t *st, const rtp_view_t *v, bool keyframe);

/* Ends the recording: the writer thread drains the queue, writes every file's trailer and closes it; then
 * done(ctx, result) runs once on the loop and the recorder frees itself. r must not be used after this. */
void recorder_stop(recorder_t *r, recorder_done_cb done, void *ctx);

#endif
