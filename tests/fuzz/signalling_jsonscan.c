/* signalling_jsonscan.c — libFuzzer target, differential: the validating scanner (jsonscan.h) and jansson
 * must agree on whether any bytes are one JSON value. Allowed differences: jsonscan.h's stated leniency
 * (numbers out of jansson's 64-bit or double range: "too big" / "overflow"), and jansson's own (it skips
 * raw NUL bytes between tokens).
 * jsonscan_object must accept exactly the valid texts that are objects, and walk the members jsonscan_members
 * walks. msg_parse_passthrough must accept only frames msg_parse accepts (but for the same leniency inside
 * the pass-through member), with the same type and id, and — when nothing was left as text — the same tree. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_member(const char *key, size_t klen, const char *val, size_t vlen, void *arg)
{
    (void)key, (void)klen, (void)val, (void)vlen;
    ++*(size_t *)arg;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    json_error_t err;
    json_t *j = json_loadb(s, size, JSON_DECODE_ANY, &err);
    int scan = jsonscan_valid(s, size) == 0;
    /* Refusing what jansson takes only sends a frame to the full parser (jansson skips raw NUL bytes
     * between tokens, which JSON does not allow): checked for NUL-free input only. Accepting what
     * jansson refuses would pass a bad payload on: never allowed. */
    if (j && !scan && !memchr(s, 0, size))
        abort(); /* the scanner refused JSON */
    if (!j && scan && !strstr(err.text, "too big") && !strstr(err.text, "overflow"))
        abort(); /* the scanner accepted what is not JSON */
    json_decref(j);
    size_t first = 0;
    while (first < size && (s[first] == ' ' || s[first] == '\t' || s[first] == '\r' || s[first] == '\n'))
        first++;
    int is_object = first < size && s[first] == '{';

    size_t walked = 0, walked_again = 0;
    int obj = jsonscan_object(s, size, count_member, &walked) == 0;
    if (obj != (scan && is_object))
        abort(); /* the one-pass walk and the validator disagree (on an object text) */
    if (obj && (jsonscan_members(s, size, count_member, &walked_again) != 0 || walked != walked_again))
        abort();

    msg_parsed_t lazy, full;
    if (msg_parse_passthrough(s, size, "data", &lazy) == 0) {
        int full_ok = msg_parse(s, size, &full) == 0;
        if (!full_ok && !lazy.pass_stubbed)
            abort(); /* the lazy parse accepted a frame the full parser refuses */
        if (full_ok && (strcmp(full.type, lazy.type) != 0 || !json_equal(full.id, lazy.id)))
            abort();
        if (full_ok && !lazy.pass_stubbed && !json_equal(full.root, lazy.root))
            abort(); /* the lazily built tree differs from jansson's */
        msg_parsed_clear(&full);
        msg_parsed_clear(&lazy);
    }
    return 0;
}
