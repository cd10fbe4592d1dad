/* probe.c — see probe.h. libavformat opens the file and reads every packet (no decoding). */
#include "probe.h"
#include "filecheck.h"

#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A video may stop this much short of its declared duration (the last frame's own length, rounding). */
#define PROBE_SLACK_MS 1000

static int is_webm_codec(enum AVCodecID id)
{
    return id == AV_CODEC_ID_VP8 || id == AV_CODEC_ID_VP9 || id == AV_CODEC_ID_OPUS || id == AV_CODEC_ID_VORBIS;
}

static int is_mp4_codec(enum AVCodecID id) { return id == AV_CODEC_ID_H264 || id == AV_CODEC_ID_AAC; }

static void refuse(probe_result_t *out, const char *code, const char *message)
{
    out->ok = 0;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "%s", message);
}

/* libavformat could not open the file: a container we know that fails to open was cut short (an MP4
 * whose index never arrived); anything else is not a video. Looks only at the container's signature. */
static void refuse_unopened(const char *path, probe_result_t *out)
{
    unsigned char head[12] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
        fclose(f);
    int ebml = n >= 4 && head[0] == 0x1a && head[1] == 0x45 && head[2] == 0xdf && head[3] == 0xa3;
    int ftyp = n >= 8 && memcmp(head + 4, "ftyp", 4) == 0;
    if (ebml || ftyp)
        refuse(out, "broken_video", "the video is incomplete or damaged (was the upload cut short?)");
    else
        refuse(out, "not_video", "not a video: upload WebM (VP8/VP9, Opus/Vorbis) or MP4 (H.264, AAC)");
}

/* Which container and codecs; 0 if acceptable, else refuse()s and returns -1. */
static int check_streams(AVFormatContext *fmt, probe_result_t *out)
{
    const char *name = fmt->iformat->name;
    int webm = strstr(name, "webm") != NULL, mp4 = strstr(name, "mp4") != NULL;
    if (!webm && !mp4) {
        refuse(out, "not_video", "not a video: upload WebM (VP8/VP9, Opus/Vorbis) or MP4 (H.264, AAC)");
        return -1;
    }
    int video = 0;
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        const AVCodecParameters *p = fmt->streams[i]->codecpar;
        if (p->codec_type != AVMEDIA_TYPE_VIDEO && p->codec_type != AVMEDIA_TYPE_AUDIO)
            continue;
        if (webm ? !is_webm_codec(p->codec_id) : !is_mp4_codec(p->codec_id)) {
            char msg[160];
            snprintf(msg, sizeof msg, "codec %s is not accepted in %s: WebM takes VP8/VP9 with Opus/Vorbis, MP4 H.264 with AAC",
                     avcodec_get_name(p->codec_id), webm ? "WebM" : "MP4");
            refuse(out, "not_video", msg);
            return -1;
        }
        char *dst = p->codec_type == AVMEDIA_TYPE_VIDEO ? out->vcodec : out->acodec;
        if (!*dst)
            snprintf(dst, sizeof out->vcodec, "%s", avcodec_get_name(p->codec_id));
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && !video) {
            video = 1;
            out->width = p->width;
            out->height = p->height;
        }
    }
    if (!video) {
        refuse(out, "not_video", "the file has no video track");
        return -1;
    }
    snprintf(out->container, sizeof out->container, "%s", webm ? "webm" : "mp4");
    snprintf(out->mime, sizeof out->mime, "%s", webm ? "video/webm" : "video/mp4");
    return 0;
}

/* Reads every packet: an error, or packets that stop short of the declared duration, mean the file was
 * cut. Sets duration_ms. 0 or -1 (refused). */
static int check_complete(AVFormatContext *fmt, probe_result_t *out)
{
    AVPacket *pkt = av_packet_alloc();
    if (!pkt) {
        refuse(out, "broken_video", "out of memory while reading the video");
        return -1;
    }
    int64_t reached_ms = 0;
    int err = 0, packets = 0;
    while ((err = av_read_frame(fmt, pkt)) >= 0) {
        const AVStream *st = fmt->streams[pkt->stream_index];
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (ts != AV_NOPTS_VALUE) {
            int64_t end = av_rescale_q(ts + (pkt->duration > 0 ? pkt->duration : 0), st->time_base, (AVRational){1, 1000});
            if (st->start_time != AV_NOPTS_VALUE)
                end -= av_rescale_q(st->start_time, st->time_base, (AVRational){1, 1000});
            if (end > reached_ms)
                reached_ms = end;
        }
        packets++;
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    int64_t declared_ms = fmt->duration != AV_NOPTS_VALUE ? fmt->duration / 1000 : -1;
    if ((err != AVERROR_EOF) || (fmt->pb && fmt->pb->error) || packets == 0 ||
        (declared_ms > 0 && reached_ms + PROBE_SLACK_MS < declared_ms)) {
        refuse(out, "broken_video", "the video is incomplete or damaged (was the upload cut short?)");
        return -1;
    }
    out->duration_ms = declared_ms > 0 ? declared_ms : reached_ms;
    return 0;
}

void probe_file(const char *path, probe_result_t *out)
{
    memset(out, 0, sizeof *out);
    av_log_set_level(AV_LOG_QUIET); /* its messages about a damaged upload are not ours to log */
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0) {
        refuse_unopened(path, out);
        return;
    }
    if (avformat_find_stream_info(fmt, NULL) < 0) {
        refuse(out, "broken_video", "the video is incomplete or damaged (was the upload cut short?)");
    } else if (check_streams(fmt, out) == 0 && check_complete(fmt, out) == 0) {
        out->ok = 1;
    }
    avformat_close_input(&fmt);
}

/* What a queued check carries (filecheck.h copies it into the job): the result and whom to tell. */
typedef struct {
    probe_result_t res;
    probe_cb cb;
    void *priv;
} check_t;

static void check_run(const char *path, void *ctx)
{
    probe_file(path, &((check_t *)ctx)->res);
}

static void check_done(void *ctx, int cancelled)
{
    check_t *c = ctx;
    if (cancelled)
        refuse(&c->res, "broken_video", "the server is stopping");
    c->cb(&c->res, c->priv);
}

int probe_start(uv_loop_t *loop, const char *path, probe_cb cb, void *priv)
{
    check_t c = {.cb = cb, .priv = priv};
    return filecheck_start(loop, path, &c, sizeof c, check_run, check_done);
}
