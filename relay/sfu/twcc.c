/* twcc.c — see twcc.h. */
#include "twcc.h"

#include <string.h>

#define DELTA_US 250 /* receive deltas are multiples of 250 µs (§3.1.5) */

/* The statuses of one chunk: appends up to *left symbols to syms, lowers *left. */
/* a / b rounded down (C's / rounds towards zero): arrival times before the reference (negative) must
 * round the same way as those after it, or the rebuilt times drift a tick from the originals. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static size_t chunk_symbols(uint16_t chunk, uint8_t *syms, size_t left)
{
    size_t n = 0;
    if (!(chunk & 0x8000)) { /* run length: |0|S S|run length (13)| */
        uint8_t sym = (chunk >> 13) & 3;
        size_t run = chunk & 0x1fff;
        for (; n < run && n < left; n++)
            syms[n] = sym;
    } else if (!(chunk & 0x4000)) { /* status vector of 14 one-bit symbols */
        for (int i = 13; i >= 0 && n < left; i--)
            syms[n++] = (chunk >> i) & 1;
    } else { /* 7 two-bit symbols */
        for (int i = 6; i >= 0 && n < left; i--)
            syms[n++] = (chunk >> (2 * i)) & 3;
    }
    return n;
}

int twcc_decode(const rtcp_twcc_t *fb, twcc_pkt_t *out, size_t max)
{
    size_t total = fb->status_count < max ? fb->status_count : max;
    /* A chunk gives at least one status (a run of 0 gives none: still bounded by the bytes). */
    uint8_t syms[8192 + 14];
    if (total > 8192)
        total = 8192; /* more statuses than this in one message are not believable: decode the first ones */
    size_t nsym = 0, off = 0;
    const uint8_t *p = fb->rest;
    size_t len = fb->rest_len;
    /* All chunks come before all deltas: walk chunks until every announced status is covered. */
    size_t need = fb->status_count, have = 0;
    while (have < need) {
        if (off + 2 > len)
            return TWCC_ERR_SHORT;
        uint16_t chunk = (uint16_t)(p[off] << 8 | p[off + 1]);
        off += 2;
        uint8_t tmp[8192];
        size_t k = chunk_symbols(chunk, tmp, need - have < 8192 ? need - have : 8192);
        if (k == 0 && !(chunk & 0x8000) && (chunk & 0x1fff) == 0)
            continue; /* an empty run: legal, useless */
        for (size_t i = 0; i < k && nsym < total; i++)
            syms[nsym++] = tmp[i];
        have += k;
    }
    int64_t t = (int64_t)fb->reference_time * 64000;
    for (size_t i = 0; i < nsym; i++) {
        out[i].seq = (uint16_t)(fb->base_seq + i);
        out[i].received = syms[i] == 1 || syms[i] == 2;
        out[i].arrival_us = 0;
        if (syms[i] == 3)
            return TWCC_ERR_SYMBOL;
        if (syms[i] == 1) {
            if (off + 1 > len)
                return TWCC_ERR_SHORT;
            t += (int64_t)p[off] * DELTA_US;
            off += 1;
        } else if (syms[i] == 2) {
            if (off + 2 > len)
                return TWCC_ERR_SHORT;
            t += (int64_t)(int16_t)(uint16_t)(p[off] << 8 | p[off + 1]) * DELTA_US;
            off += 2;
        }
        out[i].arrival_us = t;
    }
    return (int)nsym;
}

long twcc_build_fci(uint8_t *out, size_t cap, uint16_t base_seq, const bool *received, const int64_t *arrival_us,
                    size_t n, uint8_t fb_count)
{
    if (n == 0 || n > 0xffff)
        return -1;
    int64_t first = 0;
    for (size_t i = 0; i < n; i++)
        if (received[i]) {
            first = arrival_us[i];
            break;
        }
    int64_t ref64 = floor_div(first, 64000);
    if (ref64 < -0x800000 || ref64 > 0x7fffff) /* the reference time is a 24-bit signed field */
        return -1;
    int32_t ref = (int32_t)ref64;
    size_t off = 0;
#define PUT(b)                 \
    do {                       \
        if (off >= cap)        \
            return -1;         \
        out[off++] = (uint8_t)(b); \
    } while (0)
    PUT(base_seq >> 8);
    PUT(base_seq);
    PUT(n >> 8);
    PUT(n);
    PUT(ref >> 16);
    PUT(ref >> 8);
    PUT(ref);
    PUT(fb_count);
    /* Symbols: 2 (large/negative delta) for every received packet keeps the builder simple. */
    for (size_t i = 0; i < n; i += 7) {
        uint16_t chunk = 0xc000;
        for (size_t j = 0; j < 7; j++)
            if (i + j < n && received[i + j])
                chunk |= (uint16_t)(2u << (2 * (6 - j)));
        PUT(chunk >> 8);
        PUT(chunk);
    }
    int64_t t = (int64_t)ref * 64000;
    for (size_t i = 0; i < n; i++) {
        if (!received[i])
            continue;
        int64_t d = floor_div(arrival_us[i] - t, DELTA_US);
        if (d < -32768 || d > 32767)
            return -1;
        PUT((uint16_t)(int16_t)d >> 8);
        PUT((uint16_t)(int16_t)d);
        t += d * DELTA_US;
    }
    while (off % 4)
        PUT(0);
#undef PUT
    return (long)off;
}
