/* test_vp8.c — the VP8 payload descriptor: every optional field, keyframe detection, truncation at every
 * length, in-place PictureID/TL0PICIDX rewriting, PictureID wrap arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vp8.h"

/* Chromium's first packet of a keyframe with temporal layers: X S PID=0; I L T; 15-bit PictureID 0x1234;
 * TL0PICIDX 7; TID 0 Y=1; then the VP8 payload header (P bit 0 = keyframe) and start code. */
static const uint8_t key_first[] = {0x90, 0xe0, 0x92, 0x34, 0x07, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a};

static uint8_t *dup(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    memcpy(d, p, n);
    return d;
}

static void test_keyframe_full_descriptor(void **st)
{
    (void)st;
    vp8_desc_t d;
    assert_int_equal(vp8_parse(key_first, sizeof key_first, &d), 0);
    assert_true(d.start);
    assert_int_equal(d.partition, 0);
    assert_false(d.non_reference);
    assert_true(d.has_picture_id);
    assert_true(d.picture_id_15);
    assert_int_equal(d.picture_id, 0x1234);
    assert_true(d.has_tl0picidx);
    assert_int_equal(d.tl0picidx, 7);
    assert_true(d.has_tid);
    assert_int_equal(d.tid, 0);
    assert_true(d.layer_sync);
    assert_false(d.has_keyidx);
    assert_int_equal(d.header_len, 6);
    assert_int_equal(d.picture_id_off, 2);
    assert_int_equal(d.tl0picidx_off, 4);
    assert_true(d.keyframe);
}

static void test_not_keyframes(void **st)
{
    (void)st;
    vp8_desc_t d;
    uint8_t p[sizeof key_first];
    memcpy(p, key_first, sizeof p);
    p[6] = 0x11; /* P bit 1: an interframe */
    assert_int_equal(vp8_parse(p, sizeof p, &d), 0);
    assert_false(d.keyframe);
    memcpy(p, key_first, sizeof p);
    p[0] = 0x80; /* S=0: a continuation packet, its first byte is not a payload header */
    assert_int_equal(vp8_parse(p, sizeof p, &d), 0);
    assert_false(d.keyframe);
    memcpy(p, key_first, sizeof p);
    p[0] = 0x91; /* S=1 but partition 1 */
    assert_int_equal(vp8_parse(p, sizeof p, &d), 0);
    assert_int_equal(d.partition, 1);
    assert_false(d.keyframe);
}

static void test_short_forms(void **st)
{
    (void)st;
    vp8_desc_t d;
    /* No extension byte at all: one-byte descriptor. */
    static const uint8_t plain[] = {0x10, 0x00, 0x9d};
    assert_int_equal(vp8_parse(plain, sizeof plain, &d), 0);
    assert_int_equal(d.header_len, 1);
    assert_false(d.has_picture_id);
    assert_true(d.keyframe);
    /* 7-bit PictureID, KEYIDX without TID, N bit. */
    static const uint8_t seven[] = {0xa0, 0x90, 0x55, 0x1f, 0x01};
    assert_int_equal(vp8_parse(seven, sizeof seven, &d), 0);
    assert_true(d.non_reference);
    assert_false(d.picture_id_15);
    assert_int_equal(d.picture_id, 0x55);
    assert_false(d.has_tid);
    assert_true(d.has_keyidx);
    assert_int_equal(d.keyidx, 0x1f);
    assert_int_equal(d.header_len, 4);
    /* TID 2 without Y. */
    static const uint8_t tid[] = {0x80, 0x20, 0x80, 0x01};
    assert_int_equal(vp8_parse(tid, sizeof tid, &d), 0);
    assert_int_equal(d.tid, 2);
    assert_false(d.layer_sync);
    /* A descriptor with nothing after it is malformed. */
    assert_int_equal(vp8_parse(plain, 1, &d), VP8_ERR_SHORT);
    assert_int_equal(vp8_parse(plain, 0, &d), VP8_ERR_SHORT);
}

static void test_truncated_at_every_length(void **st)
{
    (void)st;
    for (size_t l = 0; l < sizeof key_first; l++) {
        uint8_t *c = dup(key_first, l);
        vp8_desc_t d;
        int r = vp8_parse(c, l, &d);
        if (l <= 6)
            assert_int_equal(r, VP8_ERR_SHORT);
        else
            assert_int_equal(r, 0);
        free(c);
    }
}

static void test_rewrite_fields(void **st)
{
    (void)st;
    uint8_t p[sizeof key_first];
    memcpy(p, key_first, sizeof p);
    vp8_desc_t d, e;
    assert_int_equal(vp8_parse(p, sizeof p, &d), 0);
    assert_int_equal(vp8_set_picture_id(p, &d, 0x7fff), 0);
    assert_int_equal(vp8_set_tl0picidx(p, &d, 255), 0);
    assert_int_equal(vp8_parse(p, sizeof p, &e), 0);
    assert_int_equal(e.picture_id, 0x7fff);
    assert_true(e.picture_id_15);
    assert_int_equal(e.tl0picidx, 255);
    assert_int_equal(e.tid, 0);
    assert_true(e.keyframe);
    assert_memory_equal(p + 5, key_first + 5, sizeof p - 5);
    /* 15-bit values wrap to the field's width. */
    assert_int_equal(vp8_set_picture_id(p, &d, 0x8001), 0);
    assert_int_equal(vp8_parse(p, sizeof p, &e), 0);
    assert_int_equal(e.picture_id, 1);
    /* 7-bit field keeps its width. */
    uint8_t s[] = {0x90, 0x80, 0x7f, 0x00, 0x01};
    assert_int_equal(vp8_parse(s, sizeof s, &d), 0);
    assert_int_equal(vp8_set_picture_id(s, &d, 0x85), 0);
    assert_int_equal(s[2], 0x05);
    assert_int_equal(vp8_set_tl0picidx(s, &d, 1), VP8_ERR_ABSENT);
    uint8_t plain[] = {0x10, 0x00};
    assert_int_equal(vp8_parse(plain, sizeof plain, &d), 0);
    assert_int_equal(vp8_set_picture_id(plain, &d, 1), VP8_ERR_ABSENT);
}

static void test_picture_id_diff(void **st)
{
    (void)st;
    assert_int_equal(vp8_picture_id_diff(0, 0x7fff, true), 1);
    assert_int_equal(vp8_picture_id_diff(0x7fff, 0, true), -1);
    assert_int_equal(vp8_picture_id_diff(5, 3, true), 2);
    assert_int_equal(vp8_picture_id_diff(0, 127, false), 1);
    assert_int_equal(vp8_picture_id_diff(127, 0, false), -1);
    assert_int_equal(vp8_picture_id_diff(0x4000, 0, true), -0x4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyframe_full_descriptor),
        cmocka_unit_test(test_not_keyframes),
        cmocka_unit_test(test_short_forms),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_rewrite_fields),
        cmocka_unit_test(test_picture_id_diff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
