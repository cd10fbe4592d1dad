/* signalling_slots_rules.c — libFuzzer target for availability rules (slots_rules_parse) and the slot
 * computation over them: any JSON a client sends as schedule.availability.set either fails naming a
 * field, or gives rules whose canonical JSON parses back to the same rules, and whose slots over a week
 * are ascending, inside the range and bounded by the cap. Nothing may crash or leak. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *o = json_loadb((const char *)data, size, 0, NULL);
    if (!o)
        return 0;
    slots_rules_t r, back;
    const char *field = NULL;
    char err[160];
    if (slots_rules_parse(o, &r, &field, err, sizeof err) < 0) {
        if (!field || !*err)
            abort();
        json_decref(o);
        return 0;
    }
    json_decref(o);
    /* the zone is not checked by the parser: use a fixed one so the fuzzer never reads arbitrary files */
    strcpy(r.tz, "Europe/London");
    json_t *j = slots_rules_json(&r);
    if (!j || slots_rules_parse(j, &back, &field, err, sizeof err) < 0 || back.n != r.n ||
        back.slot_min != r.slot_min || memcmp(back.w, r.w, sizeof r.w[0] * r.n) != 0)
        abort();
    json_decref(j);
    int64_t out[64], from = 1805760000, to = from + 7 * 86400;
    size_t n = slots_list(&r, from, to, from - 86400, NULL, 0, out, 64);
    for (size_t i = 0; i < n; i++)
        if (out[i] < from || out[i] >= to || (i && out[i] < out[i - 1]))
            abort();
    return 0;
}
