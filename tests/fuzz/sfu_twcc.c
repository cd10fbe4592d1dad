/* sfu_twcc.c — libFuzzer target: a transport-cc feedback FCI (after the two SSRCs) decoded by
 * twcc_decode, with every decoded entry checked (consecutive sequence numbers, at most the announced
 * count), then fed to the estimator (bwe.c), whose estimate must stay within its bounds; a round trip of
 * what was decoded through twcc_build_fci when its deltas fit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bwe.h"
#include "twcc.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* the 250 µs tick an arrival time falls in, rounded down also before zero */
static int64_t tick(int64_t us)
{
    return us >= 0 ? us / 250 : -((-us + 249) / 250);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    rtcp_twcc_t t;
    t.base_seq = (uint16_t)(data[0] << 8 | data[1]);
    t.status_count = (uint16_t)(data[2] << 8 | data[3]);
    uint32_t ref = (uint32_t)data[4] << 16 | (uint32_t)data[5] << 8 | data[6];
    t.reference_time = (ref & 0x800000u) ? (int32_t)ref - 0x1000000 : (int32_t)ref;
    t.fb_count = data[7];
    /* an exactly sized copy: reading past it is caught by ASan */
    uint8_t *rest = malloc(size - 8 + 1);
    memcpy(rest, data + 8, size - 8);
    t.rest = rest;
    t.rest_len = size - 8;
    static twcc_pkt_t out[1024];
    int n = twcc_decode(&t, out, 1024);
    CHECK(n >= TWCC_ERR_SYMBOL);
    if (n >= 0) {
        CHECK((size_t)n <= t.status_count && n <= 1024);
        for (int i = 0; i < n; i++)
            CHECK(out[i].seq == (uint16_t)(t.base_seq + i));
        bwe_config_t c = {0};
        bwe_t *b = bwe_new(&c);
        for (int i = 0; i < 64; i++)
            bwe_sent(b, (uint16_t)(t.base_seq + i), 1000, 1000000 + (uint64_t)i * 1000);
        bwe_feedback(b, out, (size_t)n, 2000000);
        bwe_feedback(b, out, (size_t)n, 2500000); /* the same again: counted once */
        CHECK(bwe_estimate(b) >= 50000 && bwe_estimate(b) <= 20000000);
        bwe_free(b);
        if (n > 0 && n <= 200) {
            bool rx[200];
            int64_t at[200];
            for (int i = 0; i < n; i++) {
                rx[i] = out[i].received;
                at[i] = out[i].arrival_us;
            }
            uint8_t buf[2048];
            long m = twcc_build_fci(buf, sizeof buf, t.base_seq, rx, at, (size_t)n, 0);
            if (m > 0) {
                rtcp_twcc_t u = {.base_seq = t.base_seq, .status_count = (uint16_t)n, .rest = buf + 8, .rest_len = (size_t)m - 8};
                uint32_t r2 = (uint32_t)buf[4] << 16 | (uint32_t)buf[5] << 8 | buf[6];
                u.reference_time = (r2 & 0x800000u) ? (int32_t)r2 - 0x1000000 : (int32_t)r2;
                static twcc_pkt_t again[200];
                CHECK(twcc_decode(&u, again, 200) == n);
                for (int i = 0; i < n; i++) {
                    CHECK(again[i].received == rx[i]);
                    if (rx[i])
                        CHECK(tick(again[i].arrival_us) == tick(at[i]));
                }
            }
        }
    }
    free(rest);
    return 0;
}
