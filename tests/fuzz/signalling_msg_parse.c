/* signalling_msg_parse.c — libFuzzer target for the request parser (msg_parse) and the error answer
 * built from a failed parse: any bytes must either parse into an object with a string type and a valid
 * id, or fail with bad_request; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msg_parsed_t p;
    if (msg_parse((const char *)data, size, &p) == 0) {
        if (!json_is_object(p.root) || !p.type || !*p.type || !p.id)
            abort();
    } else {
        if (!p.code || strcmp(p.code, E_BAD_REQUEST) != 0)
            abort();
        char *text = msg_error_text(p.id, p.code, p.field, 0, p.message);
        if (!text)
            abort();
        free(text);
    }
    msg_parsed_clear(&p);
    return 0;
}
