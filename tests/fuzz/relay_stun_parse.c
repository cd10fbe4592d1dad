/* relay_stun_parse.c — libFuzzer target: the STUN/TURN codec on arbitrary bytes.
 * Parses as a datagram and as a TCP stream of frames, then exercises every accessor and the
 * integrity check on whatever parsed, and re-builds what it read. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stun_msg_t m;
    static const uint8_t key[16] = {1, 2, 3};
    if (stun_parse(data, size, &m) == 0) {
        addr_t a;
        uint32_t v;
        int code;
        for (size_t i = 0; i < m.nattrs; i++) {
            const stun_attr_t *at = &m.attrs[i];
            (void)stun_decode_xor_addr(&m, at, &a);
            (void)stun_get_u32(&m, at->type, &v);
        }
        (void)stun_get_error(&m, &code);
        (void)stun_check_integrity(&m, key, sizeof key);
        /* Re-encode every attribute into a new message and parse that: must succeed. */
        static uint8_t out[STUN_MAX_MSG];
        stun_builder_t b;
        stun_build(&b, out, sizeof out, m.method, m.cls, m.tid);
        for (size_t i = 0; i < m.nattrs; i++) {
            uint16_t t = m.attrs[i].type;
            if (t == STUN_A_MESSAGE_INTEGRITY || t == STUN_A_MESSAGE_INTEGRITY_SHA256 ||
                t == STUN_A_FINGERPRINT)
                continue;
            stun_add(&b, t, stun_attr_value(&m, &m.attrs[i]), m.attrs[i].len);
        }
        stun_add_integrity(&b, STUN_MI_SHA256, key, sizeof key);
        stun_add_fingerprint(&b);
        long n = stun_finish(&b);
        stun_msg_t m2;
        if (n > 0 && stun_parse(out, (size_t)n, &m2) == 0)
            (void)stun_check_integrity(&m2, key, sizeof key);
    }
    /* As a stream: frame by frame. */
    size_t off = 0;
    while (off < size) {
        long fl = stun_frame_len(data + off, size - off);
        if (fl <= 0 || (size_t)fl > size - off)
            break;
        uint16_t num;
        const uint8_t *payload;
        size_t plen;
        if (stun_channel_parse(data + off, (size_t)fl, &num, &payload, &plen) < 0)
            (void)stun_parse(data + off, (size_t)fl, &m);
        off += (size_t)fl;
    }
    return 0;
}
