/* slots.c — see slots.h. */
#include "slots.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tz.h"

static const char *const day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* "HH:MM" (00:00–24:00) → minutes, or -1. */
static int parse_hhmm(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0))
        return -1;
    return h * 60 + m;
}

static int parse_day(const char *s)
{
    for (int i = 0; s && i < 7; i++)
        if (strcmp(s, day_names[i]) == 0)
            return i;
    return -1;
}

/* An optional integer member in [min, max]; absent → def. */
static int get_int(const json_t *o, const char *name, int def, int min, int max, int *out)
{
    const json_t *v = json_object_get(o, name);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

static int bad(const char **field, const char *name, char *err, size_t errlen, const char *why)
{
    *field = name;
    snprintf(err, errlen, "%s: %s", name, why);
    return -1;
}

static int parse_window(const json_t *w, slots_window_t *out)
{
    if (!json_is_object(w))
        return -1;
    out->day = parse_day(json_string_value(json_object_get(w, "day")));
    out->start_min = parse_hhmm(json_string_value(json_object_get(w, "start")));
    out->end_min = parse_hhmm(json_string_value(json_object_get(w, "end")));
    return out->day < 0 || out->start_min < 0 || out->end_min <= out->start_min ? -1 : 0;
}

static int overlaps(const slots_window_t *a, const slots_window_t *b)
{
    return a->day == b->day && a->start_min < b->end_min && b->start_min < a->end_min;
}

int slots_rules_parse(const json_t *o, slots_rules_t *out, const char **field, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *tz = json_string_value(json_object_get(o, "tz"));
    if (!tz || !*tz || strlen(tz) > SLOTS_TZ_MAX)
        return bad(field, "tz", err, errlen, "an IANA time zone name is required");
    strcpy(out->tz, tz);
    if (get_int(o, "slot_minutes", 30, 5, 240, &out->slot_min) < 0)
        return bad(field, "slot_minutes", err, errlen, "an integer from 5 to 240");
    if (get_int(o, "buffer_minutes", 0, 0, 120, &out->buffer_min) < 0)
        return bad(field, "buffer_minutes", err, errlen, "an integer from 0 to 120");
    if (get_int(o, "min_notice_minutes", 60, 0, 20160, &out->notice_min) < 0)
        return bad(field, "min_notice_minutes", err, errlen, "an integer from 0 to 20160");
    if (get_int(o, "max_ahead_days", 60, 1, 365, &out->ahead_days) < 0)
        return bad(field, "max_ahead_days", err, errlen, "an integer from 1 to 365");
    const json_t *ws = json_object_get(o, "windows");
    if (!json_is_array(ws) || json_array_size(ws) > SLOTS_MAX_WINDOWS)
        return bad(field, "windows", err, errlen, "an array of at most 28 windows is required");
    for (size_t i = 0; i < json_array_size(ws); i++) {
        slots_window_t *w = &out->w[i];
        if (parse_window(json_array_get(ws, i), w) < 0)
            return bad(field, "windows", err, errlen,
                       "each window is {day: sun…sat, start: \"HH:MM\", end: \"HH:MM\"} with end after start");
        if (w->end_min - w->start_min < out->slot_min)
            return bad(field, "windows", err, errlen, "a window is shorter than one slot");
        for (size_t j = 0; j < i; j++)
            if (overlaps(w, &out->w[j]))
                return bad(field, "windows", err, errlen, "windows on the same day overlap");
        out->n = i + 1;
    }
    return 0;
}

json_t *slots_rules_json(const slots_rules_t *r)
{
    json_t *ws = json_array();
    for (size_t i = 0; i < r->n; i++) {
        char s[16], e[16];
        snprintf(s, sizeof s, "%02d:%02d", r->w[i].start_min / 60, r->w[i].start_min % 60);
        snprintf(e, sizeof e, "%02d:%02d", r->w[i].end_min / 60, r->w[i].end_min % 60);
        json_array_append_new(ws, json_pack("{s:s,s:s,s:s}", "day", day_names[r->w[i].day], "start", s, "end", e));
    }
    return json_pack("{s:s,s:o,s:i,s:i,s:i,s:i}", "tz", r->tz, "windows", ws, "slot_minutes", r->slot_min,
                     "buffer_minutes", r->buffer_min, "min_notice_minutes", r->notice_min, "max_ahead_days",
                     r->ahead_days);
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's civil algorithms). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int is_booked(const slots_rules_t *r, int64_t s, const int64_t *booked, size_t nbooked)
{
    int64_t gap = (int64_t)(r->slot_min + r->buffer_min) * 60;
    for (size_t i = 0; i < nbooked; i++)
        if (s > booked[i] - gap && s < booked[i] + gap)
            return 1;
    return 0;
}

static int bookable(const slots_rules_t *r, int64_t s, int64_t now)
{
    return s >= now + (int64_t)r->notice_min * 60 && s <= now + (int64_t)r->ahead_days * 86400;
}

/* Calls emit for every slot start of the rules whose local date lies in [day0, day1] (days since the
 * epoch, in the zone's calendar). Stops early when emit returns nonzero. Runs inside a tz scope of the
 * rules' zone (tz.h), as does local_day. */
typedef int (*emit_fn)(int64_t start, void *arg);
static void each_slot(const slots_rules_t *r, int64_t day0, int64_t day1, emit_fn emit, void *arg)
{
    int step = r->slot_min + r->buffer_min;
    for (int64_t day = day0; day <= day1; day++) {
        int y, m, d;
        civil_from_days(day, &y, &m, &d);
        int wday = (int)(((day % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
        for (size_t i = 0; i < r->n; i++) {
            if (r->w[i].day != wday)
                continue;
            for (int t = r->w[i].start_min; t + r->slot_min <= r->w[i].end_min; t += step) {
                int64_t s;
                /* 24:00 is not a start (a slot must fit), so t < 1440 here */
                if (tz_local_utc(y, m, d, t / 60, t % 60, &s) == 0 && emit(s, arg))
                    return;
            }
        }
    }
}

static int64_t local_day(int64_t t)
{
    struct tm tm;
    if (tz_utc_local(t, &tm) < 0)
        return t / 86400;
    return days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

typedef struct {
    const slots_rules_t *r;
    int64_t from, to, now;
    const int64_t *booked;
    size_t nbooked, n, cap;
    int64_t *out;
} list_arg_t;

static int list_emit(int64_t s, void *p)
{
    list_arg_t *a = p;
    if (s < a->from || s >= a->to || !bookable(a->r, s, a->now) || is_booked(a->r, s, a->booked, a->nbooked))
        return 0;
    /* windows are visited per day in table order: insert sorted */
    size_t i = a->n;
    if (i == a->cap && (i == 0 || s >= a->out[i - 1]))
        return 0;
    if (i == a->cap)
        i--;
    else
        a->n++;
    while (i > 0 && a->out[i - 1] > s) {
        a->out[i] = a->out[i - 1];
        i--;
    }
    a->out[i] = s;
    return 0;
}

size_t slots_list(const slots_rules_t *r, int64_t from, int64_t to, int64_t now, const int64_t *booked,
                  size_t nbooked, int64_t *out, size_t cap)
{
    if (to <= from || cap == 0)
        return 0;
    list_arg_t a = {r, from, to, now, booked, nbooked, 0, cap, out};
    tz_saved_t saved;
    if (tz_enter(r->tz, &saved) < 0)
        return 0;
    each_slot(r, local_day(from) - 1, local_day(to) + 1, list_emit, &a);
    tz_leave(&saved);
    return a.n;
}

typedef struct {
    int64_t want;
    int found;
} find_arg_t;

static int find_emit(int64_t s, void *p)
{
    find_arg_t *a = p;
    if (s == a->want)
        a->found = 1;
    return a->found;
}

int slots_check(const slots_rules_t *r, int64_t start, int64_t now)
{
    find_arg_t a = {start, 0};
    tz_saved_t saved;
    if (tz_enter(r->tz, &saved) < 0)
        return SLOTS_NOT_A_SLOT;
    int64_t day = local_day(start);
    each_slot(r, day - 1, day + 1, find_emit, &a);
    tz_leave(&saved);
    if (!a.found)
        return SLOTS_NOT_A_SLOT;
    if (start < now + (int64_t)r->notice_min * 60)
        return SLOTS_TOO_SOON;
    if (start > now + (int64_t)r->ahead_days * 86400)
        return SLOTS_TOO_FAR;
    return SLOTS_OK;
}
