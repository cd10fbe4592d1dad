/* tz.h — civil time in an IANA time zone ↔ UTC instants, from the system's tz database.
 *
 * Owns: converting a wall-clock time in a named zone (e.g. Tuesday 19:00 Europe/London) to the UTC
 * instant it denotes on a given date, across daylight-saving changes, and back.
 * Must not: keep state between calls, or be called from any thread but the loop's.
 *
 * How: the C library's mktime/localtime_r under a temporarily set TZ, restored before returning. TZ is
 * process-global and tzset() is not re-entrant, so this is only safe because every caller runs on the
 * one loop thread and nothing else in the process reads TZ or local time concurrently (the libuv
 * thread pool only hashes passwords; logs use UTC). Each call is synchronous, bounded (glibc caches
 * the zone file it parsed last) and never yields to the loop while TZ is changed.
 */
#ifndef STAFFROOM_TZ_H
#define STAFFROOM_TZ_H

#include <stdint.h>
#include <time.h>

/* A scope in which local-time calls use one zone: tz_enter sets TZ (saving the old value in *s) and
 * tz_leave restores it. Between the two, call only tz_local_utc / tz_utc_local, and never return to the
 * loop. Converting many times in one scope costs one zone-file parse (glibc caches by TZ value); flipping
 * TZ for every conversion would re-read the file each time. */
typedef struct {
    char old[256];
    int had_tz;
} tz_saved_t;
int tz_enter(const char *zone, tz_saved_t *s); /* 0, or -1 (nothing changed) */
void tz_leave(const tz_saved_t *s);
/* Inside a scope: as tz_local_to_utc / tz_utc_to_local below, in the scope's zone. */
int tz_local_utc(int y, int mon, int d, int hh, int mm, int64_t *out);
int tz_utc_local(int64_t t, struct tm *out);

/* The UTC instant (unix seconds) of local date y-mon-d (mon 1–12) at hh:mm in zone (an IANA name,
 * borrowed). Returns 0, or -1 if that wall-clock time does not exist there (skipped by a DST change) or
 * the zone cannot be used. A time that occurs twice (clocks going back) gives the first occurrence. */
int tz_local_to_utc(const char *zone, int y, int mon, int d, int hh, int mm, int64_t *out);

/* The wall-clock time in zone of instant t (fields as localtime_r). Returns 0, or -1. */
int tz_utc_to_local(const char *zone, int64_t t, struct tm *out);

/* The zone names the system knows, read once at start-up from the tz database's text form (Debian:
 * /usr/share/zoneinfo/tzdata.zi: "Z name …" lines are zones, "L target alias" lines add aliases), so
 * that checking a name later is a lookup in memory, not file I/O on the loop. Returns how many names
 * were loaded, or -1 (the file is missing or unreadable; the table stays empty). Call again to reload. */
int tz_names_load(const char *path);
/* 1 if name is a zone or alias of the loaded table, else 0 (also when nothing was loaded). */
int tz_name_known(const char *name);
/* How many names are loaded (0 if none). */
size_t tz_names_count(void);

#endif
