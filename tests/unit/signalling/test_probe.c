/* test_probe.c — probe_file on media made at test time by ffmpeg (Debian; no committed binaries): WebM and
 * MP4 accepted with their facts, a text file and a WebM in Matroska's clothing with a foreign codec refused,
 * a cut-short WebM and MP4 refused as broken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "probe.h"

static char dir[] = "/tmp/probe-XXXXXX";

static const char *at(const char *name)
{
    static char p[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static void run(const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof full, "cd %s && %s >/dev/null 2>&1", dir, cmd);
    assert_int_equal(system(full), 0);
}

/* The first n bytes of src into dst. */
static void cut(const char *src, const char *dst, long keep_percent)
{
    FILE *in = fopen(at(src), "rb"), *out = fopen(at(dst), "wb");
    assert_non_null(in);
    assert_non_null(out);
    fseek(in, 0, SEEK_END);
    long n = ftell(in) * keep_percent / 100;
    fseek(in, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    assert_int_equal(fread(buf, 1, (size_t)n, in), (size_t)n);
    fwrite(buf, 1, (size_t)n, out);
    free(buf);
    fclose(in);
    fclose(out);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    const char *src = "ffmpeg -y -f lavfi -i testsrc=size=160x120:rate=15 -f lavfi -i sine=frequency=440 -t 4 ";
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c:v libvpx -b:v 200k -c:a libopus clip.webm", src);
    run(cmd);
    snprintf(cmd, sizeof cmd, "%s -c:v libx264 -preset ultrafast -c:a aac clip.mp4", src);
    run(cmd);
    snprintf(cmd, sizeof cmd, "%s -c:v mpeg4 -c:a mp3 clip.mkv", src);
    run(cmd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void accepts_webm_and_mp4(void **state)
{
    (void)state;
    probe_result_t r;
    probe_file(at("clip.webm"), &r);
    assert_int_equal(r.ok, 1);
    assert_string_equal(r.mime, "video/webm");
    assert_string_equal(r.vcodec, "vp8");
    assert_string_equal(r.acodec, "opus");
    assert_true(r.width == 160 && r.height == 120);
    assert_true(r.duration_ms >= 3900 && r.duration_ms <= 4200);
    probe_file(at("clip.mp4"), &r);
    assert_int_equal(r.ok, 1);
    assert_string_equal(r.mime, "video/mp4");
    assert_string_equal(r.vcodec, "h264");
    assert_string_equal(r.acodec, "aac");
}

static void refuses_what_is_not_an_accepted_video(void **state)
{
    (void)state;
    probe_result_t r;
    FILE *f = fopen(at("notes.webm"), "w");
    fputs("These are my lesson notes, not a video at all.\n", f);
    fclose(f);
    probe_file(at("notes.webm"), &r);
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "not_video");
    probe_file(at("clip.mkv"), &r); /* Matroska with MPEG-4 part 2 and MP3: a video, not one we take */
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "not_video");
    probe_file(at("missing.webm"), &r);
    assert_int_equal(r.ok, 0);
}

static void refuses_a_cut_short_video(void **state)
{
    (void)state;
    probe_result_t r;
    cut("clip.webm", "half.webm", 50);
    probe_file(at("half.webm"), &r);
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "broken_video");
    cut("clip.mp4", "half.mp4", 50); /* the index (moov) comes last: it never arrived */
    probe_file(at("half.mp4"), &r);
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "broken_video");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_webm_and_mp4),
        cmocka_unit_test(refuses_what_is_not_an_accepted_video),
        cmocka_unit_test(refuses_a_cut_short_video),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
