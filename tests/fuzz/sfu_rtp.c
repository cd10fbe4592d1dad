/* sfu_rtp.c — libFuzzer target: the RTP view, its accessors and setters, the VP8 descriptor, the
 * outgoing-stream rewriter and the retransmission buffer, on arbitrary bytes.
 *
 * The input is used twice: (1) as one datagram: demultiplexed, parsed, every accessor called, every
 * setter applied to an exactly sized copy which must then parse to the same layout with the new values;
 * (2) as a stream of records [length byte][packet], each parsed and fed to one rewriter (forwarding
 * into a NACK buffer) or dropped by it (padding probes), so that sequences of switches, wraps,
 * reordering and drops are explored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nackbuf.h"
#include "rewrite.h"
#include "rtp.h"
#include "speaker.h"
#include "vp8.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void one_datagram(const uint8_t *data, size_t size)
{
    (void)rtp_demux(data, size);
    (void)rtp_is_rtcp(data, size);
    rtp_view_t v;
    if (rtp_parse(data, size, &v) != 0)
        return;
    CHECK(v.payload_off + v.payload_len + v.padding_len == size);
    /* Every element reported by the iterator is found by id with the same value. */
    size_t pos = 0, len;
    uint8_t id;
    const uint8_t *val;
    unsigned n = 0;
    while (rtp_ext_next(&v, &pos, &id, &val, &len) == 1 && n++ < 300) {
        CHECK(val >= data && val + len <= data + size);
        const uint8_t *found;
        size_t flen;
        CHECK(rtp_find_ext(&v, id, &found, &flen) == 0);
    }
    for (unsigned i = 0; i < 256; i++)
        (void)rtp_find_ext(&v, (uint8_t)i, &val, &len);

    /* Setters on an exactly sized copy. */
    uint8_t *c = malloc(size);
    memcpy(c, data, size);
    rtp_set_ssrc(c, ~v.ssrc);
    rtp_set_seq(c, (uint16_t)(v.seq + 1));
    rtp_set_ts(c, v.ts + 1);
    rtp_set_pt(c, (uint8_t)(v.pt ^ 1));
    rtp_set_marker(c, !v.marker);
    pos = 0;
    while (rtp_ext_next(&v, &pos, &id, &val, &len) == 1) {
        uint8_t ones[256];
        memset(ones, 0xff, sizeof ones);
        rtp_view_t cv;
        CHECK(rtp_parse(c, size, &cv) == 0);
        /* With a repeated id the first element is the one set: use its length. */
        const uint8_t *first;
        size_t flen;
        CHECK(rtp_find_ext(&cv, id, &first, &flen) == 0);
        CHECK(rtp_set_ext(c, &cv, id, ones, flen) == 0);
        CHECK(flen == 0 || first[0] == 0xff);
    }
    rtp_view_t w;
    CHECK(rtp_parse(c, size, &w) == 0);
    CHECK(w.ssrc == ~v.ssrc && w.seq == (uint16_t)(v.seq + 1) && w.ts == v.ts + 1);
    CHECK(w.pt == (v.pt ^ 1) && w.marker == !v.marker);
    CHECK(w.payload_off == v.payload_off && w.payload_len == v.payload_len);

    /* VP8 descriptor, and its in-place rewrite. */
    vp8_desc_t d;
    if (vp8_parse(c + w.payload_off, w.payload_len, &d) == 0) {
        CHECK(d.header_len < w.payload_len);
        (void)vp8_set_picture_id(c + w.payload_off, &d, (uint16_t)(d.picture_id + 1));
        (void)vp8_set_tl0picidx(c + w.payload_off, &d, (uint8_t)(d.tl0picidx + 1));
        vp8_desc_t e;
        CHECK(vp8_parse(c + w.payload_off, w.payload_len, &e) == 0);
        CHECK(e.header_len == d.header_len && e.keyframe == d.keyframe);
        if (d.has_picture_id)
            CHECK(vp8_picture_id_diff(e.picture_id, d.picture_id, d.picture_id_15) == 1);
        if (d.has_tl0picidx)
            CHECK(e.tl0picidx == (uint8_t)(d.tl0picidx + 1));
    }
    free(c);
}

static bool count_resend(void *ctx, const uint8_t *buf, size_t len)
{
    CHECK(len >= RTP_HEADER_LEN && len <= 256);
    (void)buf;
    (*(size_t *)ctx)++;
    return true;
}

static void stream(const uint8_t *data, size_t size)
{
    rewrite_config_t cfg = {.out_ssrc = 0x5f0, .clock_rate = 90000, .out_pt = 96, .vp8 = true};
    rewrite_t *rw = rewrite_new(&cfg);
    nackbuf_t *nb = nackbuf_new(16, 256, 1000);
    nackbuf_bodies_t *bodies = nackbuf_bodies_new(16 * 256, 1000);
    speaker_t *sp = speaker_new(NULL);
    if (!rw || !nb || !bodies || !sp)
        abort();
    nackbuf_share(nb, bodies);
    nackbuf_bodies_unref(bodies); /* nb holds it now */
    uint64_t now = 0;
    bool have_last = false;
    uint16_t last_seq = 0;
    size_t off = 0;
    while (off < size) {
        size_t l = data[off++];
        if (l > size - off)
            l = size - off;
        uint8_t *p = malloc(l ? l : 1);
        memcpy(p, data + off, l);
        off += l;
        now += 7 + (l & 31);
        rtp_view_t v;
        if (rtp_parse(p, l, &v) == 0) {
            if (v.seq == 0xdead) /* a sparse trigger for a reconnect on the same SSRC */
                rewrite_reset_source(rw);
            const uint8_t *lvl;
            size_t ll;
            if (rtp_find_ext(&v, 1, &lvl, &ll) == 0 && ll >= 1) {
                speaker_add(sp, v.ssrc | 1);
                speaker_level(sp, v.ssrc | 1, lvl[0], now);
                (void)speaker_tick(sp, now, NULL);
            }
            rewrite_result_t res;
            /* Padding-only probes (and, to explore more, every 7th number) are not forwarded. */
            if (v.payload_len == 0 || v.seq % 7 == 3) {
                uint16_t before = rewrite_last_seq(rw);
                (void)rewrite_drop(rw, &v);
                CHECK(rewrite_last_seq(rw) == before);
            } else if (rewrite_packet(rw, p, l, &v, now, &res) == REWRITE_FORWARD) {
                rtp_view_t o;
                CHECK(rtp_parse(p, l, &o) == 0);
                CHECK(o.ssrc == 0x5f0 && o.seq == res.seq && o.ts == res.ts && o.pt == 96);
                /* The first packet of a new segment continues the highest seq sent so far. */
                if (res.switched && have_last)
                    CHECK(res.seq == (uint16_t)(last_seq + 1));
                if (!have_last || rtp_seq_diff(res.seq, last_seq) > 0)
                    last_seq = res.seq;
                have_last = true;
                CHECK(rewrite_last_seq(rw) == last_seq);
                /* Half the packet the leg's own, the rest in the shared bodies store. */
                if (nackbuf_store(nb, p, l, l / 2, res.seq, now) == 0) {
                    uint8_t g[NACKBUF_MAX_SLOT_SIZE];
                    size_t gl = nackbuf_get(nb, res.seq, now, g, sizeof g);
                    CHECK(gl == l && memcmp(g, p, l) == 0);
                }
                uint16_t ask[3] = {res.seq, (uint16_t)(res.seq - 1), (uint16_t)(res.seq - 20)};
                size_t missed;
                size_t resent = 0;
                (void)nackbuf_answer(nb, ask, 3, now, count_resend, &resent, &missed);
            }
        }
        free(p);
    }
    uint32_t t;
    (void)rewrite_map_ts(rw, 1234, &t);
    speaker_free(sp);
    nackbuf_free(nb);
    rewrite_free(rw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one_datagram(data, size);
    stream(data, size);
    return 0;
}
