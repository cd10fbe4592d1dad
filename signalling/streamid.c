/* streamid.c — see streamid.h. */
#include "streamid.h"

#include <stdint.h>
#include <stdlib.h>

int streamid_parse(const char *s, streamid_t *out)
{
    *out = (streamid_t){0, 0};
    if (!s || !*s)
        return 0;
    char *end;
    out->ms = strtoull(s, &end, 10);
    out->seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
    if (out->ms > INT64_MAX)
        out->ms = INT64_MAX;
    if (out->seq > INT64_MAX)
        out->seq = INT64_MAX;
    return 1;
}

int streamid_cmp(streamid_t a, streamid_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    return a.seq < b.seq ? -1 : a.seq > b.seq;
}

streamid_t streamid_max(void) { return (streamid_t){INT64_MAX, INT64_MAX}; }
