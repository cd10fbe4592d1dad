/* sfu_vp8.c — libFuzzer target: the VP8 payload descriptor on arbitrary payload bytes, and its in-place
 * PictureID/TL0PICIDX rewrite on an exactly sized copy (same layout after, new values read back). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vp8.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vp8_desc_t d;
    if (vp8_parse(data, size, &d) != 0)
        return 0;
    CHECK(d.header_len >= 1 && d.header_len < size);
    CHECK(!d.keyframe || (d.start && d.partition == 0));
    uint8_t *c = malloc(size);
    memcpy(c, data, size);
    uint16_t pid = (uint16_t)(size * 2654435761u);
    uint8_t tl0 = (uint8_t)(size * 40503u);
    CHECK((vp8_set_picture_id(c, &d, pid) == 0) == d.has_picture_id);
    CHECK((vp8_set_tl0picidx(c, &d, tl0) == 0) == d.has_tl0picidx);
    vp8_desc_t e;
    CHECK(vp8_parse(c, size, &e) == 0);
    CHECK(e.header_len == d.header_len && e.keyframe == d.keyframe && e.tid == d.tid);
    CHECK(e.picture_id_15 == d.picture_id_15);
    if (d.has_picture_id)
        CHECK(e.picture_id == (pid & (d.picture_id_15 ? 0x7fff : 0x7f)));
    if (d.has_tl0picidx)
        CHECK(e.tl0picidx == tl0);
    CHECK(memcmp(c + d.header_len, data + d.header_len, size - d.header_len) == 0);
    free(c);
    return 0;
}
