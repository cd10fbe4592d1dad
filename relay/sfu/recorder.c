/* recorder.c — see recorder.h. */
#include "recorder.h"

#include <errno.h>
#include <glib.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "vp8.h"

#define QUEUE_FRAMES_DEFAULT 512 /* ~5 s of one participant's audio+video at 30 fps; the writer keeps up easily */
#define FRAME_MAX (4u << 20)     /* a VP8 frame larger than this is not one a browser sends: dropped */
#define QUEUE_BYTES_MAX (64u << 20) /* and at most this much waiting: a publisher cannot make the SFU hoard memory */
#define NAME_MAX_LEN 200

/* One frame handed to the writer thread (or the end marker). */
typedef struct {
    recorder_stream_t *st;
    int64_t pts; /* RTP clock units from the stream's first frame */
    bool key;
    size_t len;
    uint8_t data[];
} frame_t;

static frame_t stop_marker; /* pushed last: the writer finalises every file and ends */

struct recorder_stream {
    recorder_t *rec;
    recorder_codec_t codec;
    unsigned clock;
    char *pid, *user, *label;
    char file[NAME_MAX_LEN + 16];
    char path[4096];
    /* Loop side. */
    bool seq_known, need_key, in_frame, broken, key, sent_any;
    uint16_t next_seq;
    uint32_t frame_ts, last_ts;
    int64_t ext_ts; /* extended timestamp of last_ts, relative to the first frame (0) */
    uint8_t *buf;
    size_t len, cap;
    int64_t first_wall_us;
    uint64_t dropped;
    /* Writer side (the writer thread only, until the done callback). */
    AVFormatContext *fmt;
    AVStream *avs;
    bool failed, header_written, trailer_ok;
    int64_t last_pts, first_pts;
    uint64_t frames;
    unsigned width, height;
};

struct recorder {
    char *dir;
    unsigned max_seconds, queue_max;
    int64_t started_wall_us, started_mono_us, stop_mono_us, finished_mono_us;
    GPtrArray *streams; /* recorder_stream_t, appended on the loop; read by the writer after the stop marker */
    GAsyncQueue *queue;
    atomic_uint queued;  /* frames in the queue */
    atomic_size_t bytes; /* their payload bytes */
    uint64_t queue_dropped;
    GThread *writer;
    recorder_done_cb done;
    void *done_ctx;
};

/* ---- writer thread ------------------------------------------------------------------------------- */

/* RFC 7845 §5.1 identification header: what a WebM Opus track's CodecPrivate holds. WebRTC's Opus is
 * 48 kHz stereo-capable; the pre-skip is libopus's usual 3.25 ms. */
static int opus_head(AVCodecParameters *par)
{
    static const uint8_t head[19] = {'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0x38, 0x01,
                                     0x80, 0xbb, 0, 0, 0, 0, 0};
    par->extradata = av_mallocz(sizeof head + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return -1;
    memcpy(par->extradata, head, sizeof head);
    par->extradata_size = sizeof head;
    return 0;
}

/* RFC 6386 §9.1: a keyframe's 10-byte header carries the start code and 14-bit width and height. */
static void vp8_size(const uint8_t *f, size_t len, unsigned *w, unsigned *h)
{
    if (len >= 10 && f[3] == 0x9d && f[4] == 0x01 && f[5] == 0x2a) {
        *w = (f[6] | (f[7] << 8)) & 0x3fff;
        *h = (f[8] | (f[9] << 8)) & 0x3fff;
    }
}

static void av_err(const char *what, const recorder_stream_t *st, int rc)
{
    char msg[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(rc, msg, sizeof msg);
    log_warn("recorder: %s %s: %s", what, st->path, msg);
}

/* Opens the file at the stream's first frame (a video's is a keyframe: it gives the picture size). */
static int writer_open(recorder_stream_t *st, const frame_t *f)
{
    int rc = avformat_alloc_output_context2(&st->fmt, NULL, "webm", st->path);
    if (rc < 0 || !st->fmt) {
        av_err("cannot create muxer for", st, rc);
        return -1;
    }
    st->avs = avformat_new_stream(st->fmt, NULL);
    if (!st->avs)
        return -1;
    AVCodecParameters *par = st->avs->codecpar;
    if (st->codec == RECORDER_VP8) {
        vp8_size(f->data, f->len, &st->width, &st->height);
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = AV_CODEC_ID_VP8;
        par->width = (int)st->width;
        par->height = (int)st->height;
    } else {
        par->codec_type = AVMEDIA_TYPE_AUDIO;
        par->codec_id = AV_CODEC_ID_OPUS;
        par->sample_rate = 48000;
        av_channel_layout_default(&par->ch_layout, 2);
        if (opus_head(par) < 0)
            return -1;
    }
    st->avs->time_base = (AVRational){1, (int)st->clock};
    if ((rc = avio_open(&st->fmt->pb, st->path, AVIO_FLAG_WRITE)) < 0) {
        av_err("cannot open", st, rc);
        return -1;
    }
    if ((rc = avformat_write_header(st->fmt, NULL)) < 0) {
        av_err("cannot write the header of", st, rc);
        return -1;
    }
    st->header_written = true;
    st->first_pts = f->pts;
    st->last_pts = f->pts - 1;
    return 0;
}

static void writer_frame(recorder_stream_t *st, const frame_t *f)
{
    if (st->failed)
        return;
    if (!st->fmt && writer_open(st, f) < 0) {
        st->failed = true;
        return;
    }
    if (f->pts <= st->last_pts)
        return; /* the muxer needs rising timestamps; a repeated RTP timestamp would be a duplicate frame */
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        st->failed = true;
        return;
    }
    pkt->data = (uint8_t *)f->data;
    pkt->size = (int)f->len;
    pkt->pts = pkt->dts = f->pts;
    pkt->stream_index = 0;
    if (f->key || st->codec == RECORDER_OPUS)
        pkt->flags |= AV_PKT_FLAG_KEY;
    av_packet_rescale_ts(pkt, (AVRational){1, (int)st->clock}, st->avs->time_base);
    int rc = av_write_frame(st->fmt, pkt);
    av_packet_free(&pkt);
    if (rc < 0) {
        av_err("cannot write a frame to", st, rc);
        st->failed = true;
        return;
    }
    st->last_pts = f->pts;
    st->frames++;
}

static void writer_close(recorder_stream_t *st)
{
    if (!st->fmt)
        return;
    if (st->header_written)
        st->trailer_ok = av_write_trailer(st->fmt) == 0 && !st->failed;
    if (st->fmt->pb)
        avio_closep(&st->fmt->pb);
    avformat_free_context(st->fmt);
    st->fmt = NULL;
}

static gboolean done_on_loop(gpointer data);

static gpointer writer_main(gpointer data)
{
    recorder_t *r = data;
    for (;;) {
        frame_t *f = g_async_queue_pop(r->queue);
        if (f == &stop_marker)
            break;
        atomic_fetch_sub(&r->queued, 1);
        atomic_fetch_sub(&r->bytes, f->len);
        writer_frame(f->st, f);
        free(f);
    }
    for (guint i = 0; i < r->streams->len; i++)
        writer_close(r->streams->pdata[i]);
    r->finished_mono_us = g_get_monotonic_time();
    g_idle_add(done_on_loop, r);
    return NULL;
}

/* ---- loop side ----------------------------------------------------------------------------------- */

recorder_t *recorder_new(const recorder_params_t *p)
{
    if (mkdir(p->dir, 0750) < 0 && errno != EEXIST) {
        log_warn("recorder: cannot create %s: %s", p->dir, strerror(errno));
        return NULL;
    }
    recorder_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->dir = strdup(p->dir);
    r->max_seconds = p->max_seconds;
    r->queue_max = p->queue_frames ? p->queue_frames : QUEUE_FRAMES_DEFAULT;
    r->started_wall_us = g_get_real_time();
    r->started_mono_us = g_get_monotonic_time();
    r->streams = g_ptr_array_new();
    r->queue = g_async_queue_new();
    r->writer = g_thread_try_new("recorder", writer_main, r, NULL);
    if (!r->dir || !r->writer) {
        log_warn("recorder: cannot start the writer thread for %s", p->dir);
        g_async_queue_unref(r->queue);
        g_ptr_array_free(r->streams, TRUE);
        free(r->dir);
        free(r);
        return NULL;
    }
    return r;
}

/* Copies s into out (cap bytes) with every character outside [A-Za-z0-9_-] replaced by '_'. */
static void safe_name(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) {
        char c = s[i];
        out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
                     ? c : '_';
    }
    out[i] = 0;
}

static bool name_taken(const recorder_t *r, const char *file)
{
    for (guint i = 0; i < r->streams->len; i++)
        if (!strcmp(((recorder_stream_t *)r->streams->pdata[i])->file, file))
            return true;
    return false;
}

recorder_stream_t *recorder_stream_open(recorder_t *r, const char *pid, const char *user, const char *label,
                                        recorder_codec_t codec)
{
    recorder_stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->rec = r;
    st->codec = codec;
    st->clock = codec == RECORDER_VP8 ? 90000 : 48000;
    st->pid = strdup(pid);
    st->user = strdup(user);
    st->label = strdup(label);
    st->need_key = codec == RECORDER_VP8;
    char a[NAME_MAX_LEN / 2], b[NAME_MAX_LEN / 2];
    safe_name(a, sizeof a, pid);
    safe_name(b, sizeof b, label);
    snprintf(st->file, sizeof st->file, "%s-%s.webm", a, b);
    for (int n = 2; name_taken(r, st->file); n++) /* the same participant back after a reconnection */
        snprintf(st->file, sizeof st->file, "%s-%s-%d.webm", a, b, n);
    snprintf(st->path, sizeof st->path, "%s/%s", r->dir, st->file);
    g_ptr_array_add(r->streams, st);
    return st;
}

/* Hands a whole frame to the writer, or drops it (and counts) when the queue is full. */
static int push_frame(recorder_stream_t *st, const uint8_t *data, size_t len, uint32_t ts, bool key)
{
    recorder_t *r = st->rec;
    unsigned w = 0, h = 0;
    if (st->codec == RECORDER_VP8 && !st->sent_any && key)
        vp8_size(data, len, &w, &h); /* a file's first frame gives the picture size: it must have one */
    if (st->codec == RECORDER_VP8 && st->need_key && (!key || (!st->sent_any && (!w || !h)))) {
        st->dropped++;
        return RECORDER_WANT_KEYFRAME;
    }
    if (atomic_load(&r->queued) >= r->queue_max || atomic_load(&r->bytes) + len > QUEUE_BYTES_MAX) {
        st->dropped++;
        r->queue_dropped++;
        if (st->codec == RECORDER_VP8) {
            st->need_key = true; /* the frames after a lost one refer to it: restart at a keyframe */
            return RECORDER_WANT_KEYFRAME;
        }
        return 0;
    }
    if (!st->sent_any) {
        st->sent_any = true;
        st->first_wall_us = g_get_real_time();
        st->ext_ts = 0;
    } else {
        st->ext_ts += rtp_ts_diff(ts, st->last_ts);
    }
    st->last_ts = ts;
    frame_t *f = malloc(sizeof *f + len);
    if (!f) {
        st->dropped++;
        return 0;
    }
    f->st = st;
    f->pts = st->ext_ts;
    f->key = key;
    f->len = len;
    memcpy(f->data, data, len);
    st->need_key = false;
    atomic_fetch_add(&r->queued, 1);
    atomic_fetch_add(&r->bytes, len);
    g_async_queue_push(r->queue, f);
    return 0;
}

static int frame_append(recorder_stream_t *st, const uint8_t *p, size_t n)
{
    if (st->len + n > FRAME_MAX)
        return -1;
    if (st->len + n > st->cap) {
        size_t cap = st->cap ? st->cap : 16384;
        while (cap < st->len + n)
            cap *= 2;
        uint8_t *b = realloc(st->buf, cap);
        if (!b)
            return -1;
        st->buf = b;
        st->cap = cap;
    }
    memcpy(st->buf + st->len, p, n);
    st->len += n;
    return 0;
}

/* Ends the frame being gathered: to the writer when whole, else dropped (then only a keyframe helps). */
static int frame_end(recorder_stream_t *st)
{
    int flags = 0;
    if (st->in_frame) {
        if (st->broken) {
            st->dropped++;
            st->need_key = true;
            flags = RECORDER_WANT_KEYFRAME;
        } else {
            flags = push_frame(st, st->buf, st->len, st->frame_ts, st->key);
        }
    }
    st->in_frame = false;
    st->len = 0;
    return flags;
}

/* RFC 7741 §4.4: a frame is the packets of one timestamp, from the one with S=1 and partition 0 to the
 * one with the marker bit. A gap in the sequence numbers breaks the frame it falls into. */
static int vp8_packet(recorder_stream_t *st, const rtp_view_t *v, bool keyframe)
{
    int flags = 0;
    const uint8_t *payload = v->data + v->payload_off;
    vp8_desc_t d;
    if (vp8_parse(payload, v->payload_len, &d) < 0)
        return 0;
    bool gap = st->seq_known && v->seq != st->next_seq;
    if (st->seq_known && rtp_seq_diff(v->seq, st->next_seq) < 0)
        return 0; /* late (reordered or repeated): its frame was already given up */
    st->seq_known = true;
    st->next_seq = (uint16_t)(v->seq + 1);
    if (gap) {
        /* The lost packets belong to this frame or to a whole frame in between: either way what follows
         * refers to something missing, so the file continues at the next keyframe. */
        st->broken = st->in_frame;
        st->need_key = true;
        flags |= RECORDER_WANT_KEYFRAME;
    }
    if (st->in_frame && v->ts != st->frame_ts)
        flags |= frame_end(st); /* the previous frame lost its last packet, or ended without a marker */
    if (d.start && d.partition == 0) {
        if (st->in_frame) {
            st->broken = true; /* a second frame start within one timestamp */
            flags |= frame_end(st);
        }
        st->in_frame = true;
        st->broken = false;
        st->key = keyframe;
        st->frame_ts = v->ts;
        st->len = 0;
    } else if (!st->in_frame) {
        st->dropped += v->marker;
        return flags;
    }
    if (frame_append(st, payload + d.header_len, v->payload_len - d.header_len) < 0)
        st->broken = true;
    if (v->marker)
        flags |= frame_end(st);
    return flags;
}

int recorder_stream_rtp(recorder_stream_t *st, const rtp_view_t *v, bool keyframe)
{
    recorder_t *r = st->rec;
    if (r->max_seconds && g_get_monotonic_time() - r->started_mono_us > (int64_t)r->max_seconds * 1000000)
        return RECORDER_LIMIT;
    if (v->payload_len == 0)
        return 0; /* padding-only bandwidth probe */
    if (st->codec == RECORDER_OPUS) /* RFC 7587 §4.2: one packet carries one Opus packet */
        return push_frame(st, v->data + v->payload_off, v->payload_len, v->ts, true);
    int flags = vp8_packet(st, v, keyframe);
    bool key_coming = st->in_frame && st->key && !st->broken; /* a keyframe is arriving: no need to ask */
    return st->need_key && !key_coming ? flags | RECORDER_WANT_KEYFRAME : flags;
}

static void stream_free(recorder_stream_t *st)
{
    free(st->pid);
    free(st->user);
    free(st->label);
    free(st->buf);
    free(st);
}

static gboolean done_on_loop(gpointer data)
{
    recorder_t *r = data;
    g_thread_join(r->writer);
    size_t n = r->streams->len;
    recorder_file_t *files = calloc(n ? n : 1, sizeof *files);
    for (size_t i = 0; files && i < n; i++) {
        recorder_stream_t *st = r->streams->pdata[i];
        recorder_file_t *f = &files[i];
        f->file = st->file;
        f->pid = st->pid;
        f->user = st->user;
        f->label = st->label;
        f->kind = st->codec == RECORDER_VP8 ? "video" : "audio";
        f->codec = st->codec == RECORDER_VP8 ? "VP8" : "opus";
        f->offset_ms = st->sent_any ? (st->first_wall_us - r->started_wall_us) / 1000 : 0;
        /* One Opus frame is 20 ms in WebRTC; a video's last frame is shown until the end. */
        int64_t tail = st->codec == RECORDER_OPUS ? 960 : 0;
        f->duration_ms = st->frames ? (st->last_pts - st->first_pts + tail) * 1000 / st->clock : 0;
        f->width = st->width;
        f->height = st->height;
        f->frames = st->frames;
        f->dropped = st->dropped;
        f->ok = st->trailer_ok && st->frames > 0;
    }
    recorder_result_t res = {
        .started_at_ms = r->started_wall_us / 1000,
        .duration_ms = (r->stop_mono_us - r->started_mono_us) / 1000,
        .files = files,
        .nfiles = files ? n : 0,
        .queue_dropped = r->queue_dropped,
        .finalize_ms = (r->finished_mono_us - r->stop_mono_us) / 1000,
    };
    if (r->done)
        r->done(r->done_ctx, &res);
    free(files);
    for (size_t i = 0; i < n; i++)
        stream_free(r->streams->pdata[i]);
    g_ptr_array_free(r->streams, TRUE);
    g_async_queue_unref(r->queue);
    free(r->dir);
    free(r);
    return G_SOURCE_REMOVE;
}

void recorder_stop(recorder_t *r, recorder_done_cb done, void *ctx)
{
    r->done = done;
    r->done_ctx = ctx;
    r->stop_mono_us = g_get_monotonic_time();
    /* Frames still being gathered are incomplete: they are not written. */
    g_async_queue_push(r->queue, &stop_marker);
}
