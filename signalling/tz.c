/* tz.c — see tz.h. */
#include "tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tz_saved_t: the TZ value in force before tz_enter, restored by tz_leave (had_tz = 0: TZ was unset). */
int tz_enter(const char *zone, tz_saved_t *s)
{
    const char *cur = getenv("TZ");
    s->had_tz = cur != NULL;
    s->old[0] = '\0';
    if (cur) {
        if (strlen(cur) >= sizeof s->old)
            return -1;
        strcpy(s->old, cur);
    }
    if (!zone || !*zone || strlen(zone) > 200 || setenv("TZ", zone, 1) < 0)
        return -1;
    tzset();
    return 0;
}

void tz_leave(const tz_saved_t *s)
{
    if (s->had_tz)
        setenv("TZ", s->old, 1);
    else
        unsetenv("TZ");
    tzset();
}

int tz_local_utc(int y, int mon, int d, int hh, int mm, int64_t *out)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_isdst = -1; /* let the zone's rules decide */
    time_t t = mktime(&tm);
    int rc = -1;
    struct tm back;
    /* mktime normalises a wall-clock time inside a DST gap to another hour: such a time does not exist. */
    if (t != (time_t)-1 && localtime_r(&t, &back) && back.tm_hour == hh && back.tm_min == mm &&
        back.tm_mday == d) {
        /* For a repeated hour, prefer the earlier instant (daylight time): try an hour before. */
        time_t earlier = t - 3600;
        struct tm e;
        if (localtime_r(&earlier, &e) && e.tm_hour == hh && e.tm_min == mm && e.tm_mday == d)
            t = earlier;
        *out = (int64_t)t;
        rc = 0;
    }
    return rc;
}

int tz_utc_local(int64_t t, struct tm *out)
{
    time_t tt = (time_t)t;
    return localtime_r(&tt, out) ? 0 : -1;
}

int tz_local_to_utc(const char *zone, int y, int mon, int d, int hh, int mm, int64_t *out)
{
    tz_saved_t s;
    if (tz_enter(zone, &s) < 0)
        return -1;
    int rc = tz_local_utc(y, mon, d, hh, mm, out);
    tz_leave(&s);
    return rc;
}

int tz_utc_to_local(const char *zone, int64_t t, struct tm *out)
{
    tz_saved_t s;
    if (tz_enter(zone, &s) < 0)
        return -1;
    int rc = tz_utc_local(t, out);
    tz_leave(&s);
    return rc;
}

/* ---------------- zone names ---------------- */

static char **names; /* sorted, for bsearch */
static size_t n_names;

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void names_free(void)
{
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    names = NULL;
    n_names = 0;
}

/* The name a tzdata.zi line defines, copied into out (size n), or 0 if the line defines none. */
static int zi_line_name(const char *line, char *out, size_t n)
{
    char a[128], b[128];
    if (line[0] == 'Z' && line[1] == ' ' && sscanf(line + 2, "%127s", a) == 1) {
        snprintf(out, n, "%s", a);
        return 1;
    }
    if (line[0] == 'L' && line[1] == ' ' && sscanf(line + 2, "%127s %127s", a, b) == 2) {
        snprintf(out, n, "%s", b);
        return 1;
    }
    return 0;
}

int tz_names_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    names_free();
    size_t cap = 0;
    char line[512], name[128];
    int ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        if (!zi_line_name(line, name, sizeof name))
            continue;
        if (n_names == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            char **grown = realloc(names, ncap * sizeof *names);
            if (!grown) {
                ok = 0;
                break;
            }
            names = grown;
            cap = ncap;
        }
        if (!(names[n_names] = strdup(name)))
            ok = 0;
        else
            n_names++;
    }
    fclose(f);
    if (!ok) {
        names_free();
        return -1;
    }
    qsort(names, n_names, sizeof *names, cmp_name);
    return (int)n_names;
}

int tz_name_known(const char *name)
{
    return n_names && bsearch(&name, names, n_names, sizeof *names, cmp_name) != NULL;
}

size_t tz_names_count(void) { return n_names; }
