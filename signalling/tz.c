/* tz.c — see tz.h. */
#include "tz.h"

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
