/* signalling_jsonscan.c — libFuzzer target, differential: the validating scanner (jsonscan.h) and jansson
 * must agree on whether any bytes are one JSON value. Allowed differences: jsonscan.h's stated leniency
 * (numbers out of jansson's 64-bit or double range: "too big" / "overflow"), and jansson's own (it skips
 * raw NUL bytes between tokens).
 * msg_parse_passthrough must accept only frames msg_parse accepts, with the same type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonscan.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

    msg_parsed_t lazy, full;
    if (msg_parse_passthrough(s, size, "data", &lazy) == 0) {
        if (msg_parse(s, size, &full) == 0 && strcmp(full.type, lazy.type) != 0)
            abort();
        msg_parsed_clear(&full);
        msg_parsed_clear(&lazy);
    }
    return 0;
}
