/* byterange.c — see byterange.h. */
#include "byterange.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Decimal digits at *p into *out (at most 19 digits: no uint64 overflow). Returns digits read, 0 if none
 * or too many. */
static int digits(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (isdigit((unsigned char)**p)) {
        if (++n > 19)
            return 0;
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    *out = v;
    return n;
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

int byterange_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (!value || !*value)
        return BYTERANGE_NONE;
    const char *p = value;
    skip_ws(&p);
    if (strncasecmp(p, "bytes=", 6) != 0)
        return BYTERANGE_NONE; /* another unit: ignored (RFC 9110 14.2) */
    p += 6;
    skip_ws(&p);
    if (strchr(p, ','))
        return BYTERANGE_NONE; /* several ranges: the whole representation */
    uint64_t a = 0, b = 0;
    int has_a = digits(&p, &a);
    if (*p != '-')
        return BYTERANGE_BAD;
    p++;
    int has_b = digits(&p, &b);
    skip_ws(&p);
    if (*p || (!has_a && !has_b))
        return BYTERANGE_BAD;
    if (!has_a) { /* suffix: the last b bytes */
        if (b == 0 || size == 0)
            return BYTERANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return BYTERANGE_OK;
    }
    if (has_b && b < a)
        return BYTERANGE_BAD;
    if (a >= size)
        return BYTERANGE_UNSATISFIABLE;
    *first = a;
    *last = !has_b || b >= size ? size - 1 : b;
    return BYTERANGE_OK;
}

int byterange_content_range(const char *value, uint64_t *first, uint64_t *last, uint64_t *complete)
{
    if (!value)
        return -1;
    const char *p = value;
    skip_ws(&p);
    if (strncasecmp(p, "bytes ", 6) != 0)
        return -1;
    p += 6;
    skip_ws(&p);
    uint64_t a, b, c = UINT64_MAX;
    if (!digits(&p, &a) || *p++ != '-' || !digits(&p, &b) || *p++ != '/')
        return -1;
    if (*p == '*')
        p++;
    else if (!digits(&p, &c))
        return -1;
    skip_ws(&p);
    if (*p || b < a || (c != UINT64_MAX && b >= c))
        return -1;
    *first = a;
    *last = b;
    *complete = c;
    return 0;
}
