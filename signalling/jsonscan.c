/* jsonscan.c — see jsonscan.h. RFC 8259 grammar, iterative (an explicit stack of open containers), so
 * no input can exhaust the C stack. */
#include "jsonscan.h"

#include <stdint.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static int hex4(const char *s, size_t i, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (i + 4 > n)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        char c = s[i + k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
 * Returns its length, or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return len;
}

/* s[i] is '"': the index just past the closing quote, or 0 if the string is invalid. */
static size_t scan_string(const char *s, size_t i, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (i++; i < n;) {
        unsigned char c = u[i];
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (i + 1 >= n)
                return 0;
            char e = s[i + 1];
            if (e == 'u') {
                unsigned v, w;
                if (hex4(s, i + 2, n, &v) < 0 || v == 0)
                    return 0;
                i += 6;
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return 0; /* a low surrogate alone */
                if (v >= 0xD800 && v <= 0xDBFF) {
                    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s, i + 2, n, &w) < 0 || w < 0xDC00 ||
                        w > 0xDFFF)
                        return 0;
                    i += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return 0;
            i += 2;
            continue;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq(u, i, n);
        if (!len)
            return 0;
        i += len;
    }
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A number at s[i]: the index just past it, or 0 if invalid. */
static size_t scan_number(const char *s, size_t i, size_t n)
{
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < n && is_digit(s[i]))
            i++;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i;
}

static size_t scan_literal(const char *s, size_t i, size_t n, const char *word)
{
    size_t w = strlen(word);
    return i + w <= n && memcmp(s + i, word, w) == 0 ? i + w : 0;
}

/* The index just past the value starting at s[i] (after white space), or 0 if it is not valid JSON. */
static size_t scan_value(const char *s, size_t i, size_t n)
{
    char stack[JSONSCAN_MAX_DEPTH];
    size_t depth = 0;
    enum { VALUE, KEY, AFTER } want = VALUE;
    for (;;) {
        if (want == AFTER && depth == 0)
            return i; /* just past the value: trailing white space is the caller's */
        i = skip_ws(s, i, n);
        if (i >= n)
            return 0;
        char c = s[i];
        if (want == KEY) {
            if (c != '"' || !(i = scan_string(s, i, n)))
                return 0;
            i = skip_ws(s, i, n);
            if (i >= n || s[i] != ':')
                return 0;
            i++;
            want = VALUE;
            continue;
        }
        if (want == AFTER) {
            char top = stack[depth - 1];
            if (c == ',') {
                i++;
                want = top == '{' ? KEY : VALUE;
            } else if ((c == '}' && top == '{') || (c == ']' && top == '[')) {
                i++;
                depth--;
            } else {
                return 0;
            }
            continue;
        }
        /* want == VALUE */
        if (c == '{' || c == '[') {
            if (depth == JSONSCAN_MAX_DEPTH)
                return 0;
            stack[depth++] = c;
            i = skip_ws(s, i + 1, n);
            if (i < n && s[i] == (c == '{' ? '}' : ']')) {
                i++;
                depth--;
                want = AFTER;
            } else {
                want = c == '{' ? KEY : VALUE;
            }
            continue;
        }
        if (c == '"')
            i = scan_string(s, i, n);
        else if (c == 't')
            i = scan_literal(s, i, n, "true");
        else if (c == 'f')
            i = scan_literal(s, i, n, "false");
        else if (c == 'n')
            i = scan_literal(s, i, n, "null");
        else
            i = scan_number(s, i, n);
        if (!i)
            return 0;
        want = AFTER;
    }
}

int jsonscan_valid(const char *s, size_t n)
{
    size_t end = scan_value(s, 0, n);
    return end && skip_ws(s, end, n) == n ? 0 : -1;
}

int jsonscan_members(const char *s, size_t n, jsonscan_member_fn fn, void *arg)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, i + 1, n);
    while (i < n && s[i] == '"') {
        size_t kend = scan_string(s, i, n);
        if (!kend)
            return -1;
        size_t v = skip_ws(s, skip_ws(s, kend, n) + 1, n); /* past the ':' */
        size_t vend = scan_value(s, v, n);
        if (!vend)
            return -1;
        int rc = fn(s + i + 1, kend - i - 2, s + v, vend - v, arg);
        if (rc)
            return rc;
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == ',')
            i = skip_ws(s, i + 1, n);
    }
    return 0;
}

int jsonscan_object(const char *s, size_t n, jsonscan_member_fn fn, void *arg)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '{')
        return -1;
    i = skip_ws(s, i + 1, n);
    if (i < n && s[i] == '}')
        return skip_ws(s, i + 1, n) == n ? 0 : -1;
    for (;;) {
        if (i >= n || s[i] != '"')
            return -1;
        size_t kend = scan_string(s, i, n);
        if (!kend)
            return -1;
        size_t colon = skip_ws(s, kend, n);
        if (colon >= n || s[colon] != ':')
            return -1;
        size_t v = skip_ws(s, colon + 1, n);
        size_t vend = scan_value(s, v, n);
        if (!vend)
            return -1;
        int rc = fn(s + i + 1, kend - i - 2, s + v, vend - v, arg);
        if (rc)
            return rc;
        i = skip_ws(s, vend, n);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}')
            return skip_ws(s, i + 1, n) == n ? 0 : -1;
        return -1;
    }
}
