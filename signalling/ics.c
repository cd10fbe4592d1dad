/* ics.c — see ics.h. */
#include "ics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ICS_FOLD 75

long ics_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        char e = 0;
        switch (*s) {
        case '\\': e = '\\'; break;
        case ';': e = ';'; break;
        case ',': e = ','; break;
        case '\n': e = 'n'; break;
        case '\r': continue;
        default: break;
        }
        size_t need = e ? 2 : 1;
        if (n + need + 1 > cap)
            return -1;
        if (e) {
            out[n++] = '\\';
            out[n++] = e;
        } else {
            out[n++] = *s;
        }
    }
    if (n + 1 > cap)
        return -1;
    out[n] = '\0';
    return (long)n;
}

/* Length of the UTF-8 sequence that starts with byte c (1 for a stray continuation byte). */
static size_t utf8_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return c < 0xf0 ? 3 : 1;
    if (c >= 0xc0)
        return 2;
    return 1;
}

long ics_fold(const char *line, char *out, size_t cap)
{
    size_t n = 0, col = 0, len = strlen(line);
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len((unsigned char)line[i]);
        if (i + k > len)
            k = len - i;
        if (col + k > ICS_FOLD) {
            if (n + 3 > cap)
                return -1;
            memcpy(out + n, "\r\n ", 3);
            n += 3;
            col = 1;
        }
        if (n + k > cap)
            return -1;
        memcpy(out + n, line + i, k);
        n += k;
        col += k;
        i += k;
    }
    if (n + 3 > cap)
        return -1;
    memcpy(out + n, "\r\n", 3);
    return (long)n + 2;
}

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} out_t;

/* Appends one content line "NAME:value" (value already escaped where it is TEXT), folded. */
static void put(out_t *o, const char *name, const char *value)
{
    size_t ll = strlen(name) + 1 + strlen(value) + 1;
    char *line = malloc(ll);
    size_t need = ll + ll / 70 * 3 + 8;
    if (!line || o->failed) {
        free(line);
        o->failed = 1;
        return;
    }
    snprintf(line, ll, "%s:%s", name, value);
    if (o->len + need > o->cap) {
        size_t cap = (o->cap + need) * 2;
        char *p = realloc(o->buf, cap);
        if (!p) {
            free(line);
            o->failed = 1;
            return;
        }
        o->buf = p;
        o->cap = cap;
    }
    long n = ics_fold(line, o->buf + o->len, o->cap - o->len);
    free(line);
    if (n < 0)
        o->failed = 1;
    else
        o->len += (size_t)n;
}

static void put_text(out_t *o, const char *name, const char *text)
{
    size_t cap = strlen(text) * 2 + 1;
    char *esc = malloc(cap);
    if (!esc || ics_escape(text, esc, cap) < 0) {
        o->failed = 1;
    } else {
        put(o, name, esc);
    }
    free(esc);
}

static void put_time(out_t *o, const char *name, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char v[32];
    gmtime_r(&tt, &tm);
    strftime(v, sizeof v, "%Y%m%dT%H%M%SZ", &tm);
    put(o, name, v);
}

static void put_head(out_t *o, const char *method)
{
    put(o, "BEGIN", "VCALENDAR");
    put(o, "VERSION", "2.0");
    put(o, "PRODID", "-//Staffroom//Scheduled mentoring//EN");
    put(o, "CALSCALE", "GREGORIAN");
    put(o, "METHOD", method);
}

static void put_event(out_t *o, const ics_event_t *ev)
{
    char seq[24];
    snprintf(seq, sizeof seq, "%ld", ev->sequence);
    put(o, "BEGIN", "VEVENT");
    put_text(o, "UID", ev->uid);
    put_time(o, "DTSTAMP", ev->stamp);
    put_time(o, "DTSTART", ev->start);
    put_time(o, "DTEND", ev->end);
    put(o, "SEQUENCE", seq);
    put(o, "STATUS", ev->cancelled ? "CANCELLED" : "CONFIRMED");
    put_text(o, "SUMMARY", ev->summary);
    put_text(o, "DESCRIPTION", ev->description);
    if (ev->url)
        put(o, "URL", ev->url); /* URI value: not TEXT-escaped (3.3.13) */
    put(o, "END", "VEVENT");
}

static char *finish(out_t *o, size_t *len)
{
    put(o, "END", "VCALENDAR");
    if (o->failed) {
        free(o->buf);
        return NULL;
    }
    *len = o->len;
    return o->buf;
}

char *ics_render(const ics_event_t *ev, size_t *len)
{
    out_t o = {0};
    put_head(&o, ev->cancelled ? "CANCEL" : "REQUEST");
    put_event(&o, ev);
    return finish(&o, len);
}

char *ics_render_feed(const ics_event_t *evs, size_t n, size_t *len)
{
    out_t o = {0};
    /* A subscribed calendar is published, not an invitation (RFC 5546 3.2.1): a cancelled session stays
     * in it with STATUS:CANCELLED. */
    put_head(&o, "PUBLISH");
    for (size_t i = 0; i < n; i++)
        put_event(&o, &evs[i]);
    return finish(&o, len);
}
