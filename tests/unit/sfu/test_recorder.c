/* test_recorder.c — the recorder: synthetic RTP (VP8 in 3 packets per frame, Opus one per packet) becomes
 * WebM files that libavformat reads back and ffprobe (an independent reader) accepts, with the right codecs,
 * picture size, timestamps and duration; a video file starts at a keyframe; a lost packet drops frames
 * until the next keyframe and asks for one; the length limit. */
#include <glib.h>
#include <libavformat/avformat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "recorder.h"
#include "rtp.h"

static char dir[256];
static bool no_start_code; /* vp8_frame writes keyframes without the RFC 6386 start code */

typedef struct {
    int calls;
    recorder_file_t files[8];
    char names[8][64];
    size_t nfiles;
    int64_t duration_ms;
} done_t;

static void on_done(void *ctx, const recorder_result_t *res)
{
    done_t *d = ctx;
    d->calls++;
    d->nfiles = res->nfiles < 8 ? res->nfiles : 8;
    d->duration_ms = res->duration_ms;
    for (size_t i = 0; i < d->nfiles; i++) {
        d->files[i] = res->files[i];
        snprintf(d->names[i], sizeof d->names[i], "%s", res->files[i].file);
        d->files[i].file = d->names[i];
        d->files[i].pid = d->files[i].user = d->files[i].label = d->files[i].kind = d->files[i].codec = NULL;
    }
}

static void wait_done(done_t *d)
{
    for (int i = 0; i < 10000 && !d->calls; i++)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(1000);
    assert_int_equal(d->calls, 1);
}

/* Builds an RTP packet into buf: 12-byte header, then payload. */
static size_t rtp(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq, uint32_t ts, const uint8_t *pl, size_t n)
{
    buf[0] = 0x80;
    buf[1] = (uint8_t)(pt | (marker ? 0x80 : 0));
    buf[2] = seq >> 8;
    buf[3] = seq & 0xff;
    buf[4] = ts >> 24;
    buf[5] = (ts >> 16) & 0xff;
    buf[6] = (ts >> 8) & 0xff;
    buf[7] = ts & 0xff;
    memset(buf + 8, 0x11, 4);
    memcpy(buf + 12, pl, n);
    return 12 + n;
}

/* Sends one VP8 frame of 3 packets (RFC 7741 descriptor: S on the first, partition 0). A keyframe's first
 * bytes are the RFC 6386 §9.1 header for 320x240. skip: index of a packet to lose (-1: none). Returns the
 * OR of the flags. */
static int vp8_frame(recorder_stream_t *st, uint16_t *seq, uint32_t ts, bool key, int skip)
{
    int flags = 0;
    for (int i = 0; i < 3; i++) {
        uint8_t pl[301], pkt[400];
        memset(pl, 0x55, sizeof pl);
        pl[0] = i == 0 ? 0x10 : 0x00; /* S bit on the first packet */
        if (i == 0) {
            /* frame tag: P bit (bit 0) 0 = keyframe; then start code, 320 x 240 */
            const uint8_t hdr[10] = {key ? 0x00 : 0x01, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
            memcpy(pl + 1, hdr, no_start_code ? 3 : sizeof hdr);
        }
        size_t n = rtp(pkt, 96, i == 2, (*seq)++, ts, pl, sizeof pl);
        if (i == skip)
            continue;
        rtp_view_t v;
        assert_int_equal(rtp_parse(pkt, n, &v), 0);
        flags |= recorder_stream_rtp(st, &v, key && i == 0);
    }
    return flags;
}

static int opus_packet(recorder_stream_t *st, uint16_t seq, uint32_t ts)
{
    uint8_t pl[80], pkt[100];
    memset(pl, 0, sizeof pl);
    pl[0] = 0x78; /* TOC: config 15 (CELT FB 20 ms), mono, one frame */
    size_t n = rtp(pkt, 111, false, seq, ts, pl, sizeof pl);
    rtp_view_t v;
    assert_int_equal(rtp_parse(pkt, n, &v), 0);
    return recorder_stream_rtp(st, &v, false);
}

/* Reads the file back with libavformat: codec, size, packet count, last timestamp in ms. */
static void read_back(const char *path, enum AVCodecID codec, int *packets, int64_t *last_ms, int *w, int *h)
{
    AVFormatContext *fmt = NULL;
    assert_int_equal(avformat_open_input(&fmt, path, NULL, NULL), 0);
    assert_int_equal(fmt->nb_streams, 1);
    AVStream *s = fmt->streams[0];
    assert_int_equal(s->codecpar->codec_id, codec);
    *w = s->codecpar->width;
    *h = s->codecpar->height;
    AVPacket *pkt = av_packet_alloc();
    *packets = 0;
    int64_t prev = -1;
    while (av_read_frame(fmt, pkt) == 0) {
        int64_t ms = av_rescale_q(pkt->pts, s->time_base, (AVRational){1, 1000});
        assert_true(ms > prev); /* rising timestamps */
        if (*packets == 0 && codec == AV_CODEC_ID_VP8)
            assert_true(pkt->flags & AV_PKT_FLAG_KEY); /* starts at a keyframe */
        prev = ms;
        (*packets)++;
        av_packet_unref(pkt);
    }
    *last_ms = prev;
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
}

/* ffprobe's duration of the file in ms and its codec name. */
static int64_t ffprobe(const char *path, char *codec, size_t cap)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ffprobe -v error -show_entries stream=codec_name:format=duration -of csv=p=0 '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line1[64] = "", line2[64] = "";
    assert_non_null(fgets(line1, sizeof line1, p));
    assert_non_null(fgets(line2, sizeof line2, p));
    assert_int_equal(pclose(p), 0);
    line1[strcspn(line1, "\n")] = 0;
    snprintf(codec, cap, "%s", line1);
    return (int64_t)(atof(line2) * 1000);
}

static void test_ten_seconds_audio_and_video(void **state)
{
    (void)state;
    char rdir[300];
    snprintf(rdir, sizeof rdir, "%s/rec1", dir);
    /* A queue that holds everything: this test is about the files, the next about the bound. */
    recorder_t *r = recorder_new(&(recorder_params_t){.dir = rdir, .queue_frames = 2000});
    assert_non_null(r);
    recorder_stream_t *vid = recorder_stream_open(r, "p1", "alice", "camera", RECORDER_VP8);
    recorder_stream_t *aud = recorder_stream_open(r, "p1", "alice", "mic", RECORDER_OPUS);
    /* Before any keyframe: nothing is written and a keyframe is asked for. */
    uint16_t vseq = 65000; /* crosses the 16-bit wrap */
    uint32_t vts = 0xfffff000u; /* and the 32-bit one */
    assert_true(vp8_frame(vid, &vseq, vts, false, -1) & RECORDER_WANT_KEYFRAME);
    vts += 3000;
    /* 10 s at 30 fps, a keyframe first; Opus every 20 ms. */
    uint32_t ats = 12345;
    uint16_t aseq = 1;
    for (int i = 0; i < 300; i++) {
        assert_int_equal(vp8_frame(vid, &vseq, vts, i == 0, -1), 0);
        vts += 3000;
    }
    for (int i = 0; i < 500; i++) {
        assert_int_equal(opus_packet(aud, aseq++, ats), 0);
        ats += 960;
    }
    done_t d = {0};
    recorder_stop(r, on_done, &d);
    wait_done(&d);
    assert_int_equal(d.nfiles, 2);
    assert_string_equal(d.files[0].file, "p1-camera.webm");
    assert_string_equal(d.files[1].file, "p1-mic.webm");
    assert_true(d.files[0].ok);
    assert_true(d.files[1].ok);
    assert_int_equal(d.files[0].frames, 300);
    assert_int_equal(d.files[0].dropped, 1);
    assert_int_equal(d.files[0].width, 320);
    assert_int_equal(d.files[0].height, 240);
    assert_int_equal(d.files[1].frames, 500);
    assert_true(d.files[0].duration_ms >= 9900 && d.files[0].duration_ms <= 10000);
    assert_int_equal(d.files[1].duration_ms, 10000);
    assert_true(d.files[0].offset_ms >= 0 && d.files[0].offset_ms < 5000);

    char path[400], codec[32];
    int packets, w, h;
    int64_t last;
    snprintf(path, sizeof path, "%s/p1-camera.webm", rdir);
    read_back(path, AV_CODEC_ID_VP8, &packets, &last, &w, &h);
    assert_int_equal(packets, 300);
    assert_int_equal(w, 320);
    assert_int_equal(h, 240);
    assert_true(last >= 9900 && last <= 10000);
    int64_t dur = ffprobe(path, codec, sizeof codec);
    assert_string_equal(codec, "vp8");
    assert_true(dur >= 9900 && dur <= 10100);

    snprintf(path, sizeof path, "%s/p1-mic.webm", rdir);
    read_back(path, AV_CODEC_ID_OPUS, &packets, &last, &w, &h);
    assert_int_equal(packets, 500);
    dur = ffprobe(path, codec, sizeof codec);
    assert_string_equal(codec, "opus");
    assert_true(dur >= 9900 && dur <= 10100);
}

static void test_loss_waits_for_keyframe(void **state)
{
    (void)state;
    char rdir[300], path[400];
    snprintf(rdir, sizeof rdir, "%s/rec2", dir);
    recorder_t *r = recorder_new(&(recorder_params_t){.dir = rdir});
    recorder_stream_t *vid = recorder_stream_open(r, "p/2", "bob", "camera", RECORDER_VP8);
    recorder_stream_t *again = recorder_stream_open(r, "p/2", "bob", "camera", RECORDER_VP8);
    (void)again; /* never sends: no file */
    uint16_t seq = 1;
    uint32_t ts = 0;
    assert_int_equal(vp8_frame(vid, &seq, ts, true, -1), 0);
    ts += 3000;
    assert_int_equal(vp8_frame(vid, &seq, ts, false, -1), 0);
    ts += 3000;
    /* The middle packet of a frame is lost: this frame and the next (not a keyframe) are dropped. */
    assert_true(vp8_frame(vid, &seq, ts, false, 1) & RECORDER_WANT_KEYFRAME);
    ts += 3000;
    assert_true(vp8_frame(vid, &seq, ts, false, -1) & RECORDER_WANT_KEYFRAME);
    ts += 3000;
    assert_int_equal(vp8_frame(vid, &seq, ts, true, -1), 0);
    ts += 3000;
    assert_int_equal(vp8_frame(vid, &seq, ts, false, -1), 0);
    done_t d = {0};
    recorder_stop(r, on_done, &d);
    wait_done(&d);
    assert_int_equal(d.nfiles, 2);
    assert_string_equal(d.files[0].file, "p_2-camera.webm"); /* a '/' never reaches the file name */
    assert_string_equal(d.files[1].file, "p_2-camera-2.webm");
    assert_int_equal(d.files[0].frames, 4);
    assert_int_equal(d.files[0].dropped, 2);
    assert_false(d.files[1].ok);
    snprintf(path, sizeof path, "%s/p_2-camera-2.webm", rdir);
    assert_int_equal(access(path, F_OK), -1);
    int packets, w, h;
    int64_t last;
    snprintf(path, sizeof path, "%s/p_2-camera.webm", rdir);
    read_back(path, AV_CODEC_ID_VP8, &packets, &last, &w, &h);
    assert_int_equal(packets, 4);
    assert_true(last >= 166 && last <= 167); /* 5 frames of 3000 ticks at 90 kHz */
}

/* A writer that cannot keep up costs frames, never the loop: a full queue drops and counts. */
static void test_full_queue_drops(void **state)
{
    (void)state;
    char rdir[300];
    snprintf(rdir, sizeof rdir, "%s/rec4", dir);
    recorder_t *r = recorder_new(&(recorder_params_t){.dir = rdir, .queue_frames = 2});
    recorder_stream_t *aud = recorder_stream_open(r, "p4", "dan", "mic", RECORDER_OPUS);
    for (int i = 0; i < 3000; i++)
        opus_packet(aud, (uint16_t)i, (uint32_t)i * 960);
    done_t d = {0};
    recorder_stop(r, on_done, &d);
    wait_done(&d);
    assert_true(d.files[0].dropped > 0);
    assert_int_equal(d.files[0].frames + d.files[0].dropped, 3000);
}

/* A "keyframe" without the start code and picture size cannot open a WebM track: the file waits for a real one. */
static void test_keyframe_without_size(void **state)
{
    (void)state;
    char rdir[300];
    snprintf(rdir, sizeof rdir, "%s/rec5", dir);
    recorder_t *r = recorder_new(&(recorder_params_t){.dir = rdir});
    recorder_stream_t *vid = recorder_stream_open(r, "p5", "eve", "camera", RECORDER_VP8);
    uint16_t seq = 1;
    no_start_code = true;
    assert_true(vp8_frame(vid, &seq, 0, true, -1) & RECORDER_WANT_KEYFRAME);
    no_start_code = false;
    assert_int_equal(vp8_frame(vid, &seq, 3000, true, -1), 0);
    assert_int_equal(vp8_frame(vid, &seq, 6000, false, -1), 0);
    done_t d = {0};
    recorder_stop(r, on_done, &d);
    wait_done(&d);
    assert_true(d.files[0].ok);
    assert_int_equal(d.files[0].frames, 2);
    assert_int_equal(d.files[0].dropped, 1);
    assert_int_equal(d.files[0].width, 320);
}

static void test_limit(void **state)
{
    (void)state;
    char rdir[300];
    snprintf(rdir, sizeof rdir, "%s/rec3", dir);
    recorder_t *r = recorder_new(&(recorder_params_t){.dir = rdir, .max_seconds = 1});
    recorder_stream_t *aud = recorder_stream_open(r, "p3", "carol", "mic", RECORDER_OPUS);
    assert_int_equal(opus_packet(aud, 1, 0), 0);
    g_usleep(1100 * 1000);
    assert_int_equal(opus_packet(aud, 2, 960), RECORDER_LIMIT);
    done_t d = {0};
    recorder_stop(r, on_done, &d);
    wait_done(&d);
    assert_int_equal(d.files[0].frames, 1);
    assert_true(d.duration_ms >= 1000);
}

static void test_bad_directory(void **state)
{
    (void)state;
    assert_null(recorder_new(&(recorder_params_t){.dir = "/nonexistent-parent/x/y"}));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_recorder.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_seconds_audio_and_video),
        cmocka_unit_test(test_loss_waits_for_keyframe),
        cmocka_unit_test(test_keyframe_without_size),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_full_queue_drops),
        cmocka_unit_test(test_bad_directory),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            return 1;
    }
    return rc;
}
