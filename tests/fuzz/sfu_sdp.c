/* sfu_sdp.c — libFuzzer target for the SFU's SDP codec: any bytes parse or fail cleanly; what parses
 * passes (or fails) the WebRTC check, is written back, and the written text parses again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    sdp_t *s = sdp_parse((const char *)data, size, err, sizeof err);
    if (!s)
        return 0;
    (void)sdp_check_webrtc(s, err, sizeof err);
    for (size_t i = 0; i < s->nmedia; i++) {
        const char *alg;
        (void)sdp_fingerprint(s, i, &alg);
        (void)sdp_find_codec(&s->media[i], "VP8", NULL);
        (void)sdp_find_rtx(&s->media[i], 96);
    }
    char *text = sdp_write(s);
    if (text) {
        size_t n = 0;
        while (text[n])
            n++;
        sdp_t *again = sdp_parse(text, n, err, sizeof err);
        /* What we write from a parsed description must parse: a failure here is a writer bug. */
        if (!again && n <= SDP_MAX_TEXT)
            abort();
        sdp_free(again);
        free(text);
    }
    sdp_free(s);
    return 0;
}
