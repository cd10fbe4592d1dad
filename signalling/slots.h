/* slots.h — a mentor's weekly availability rules and the bookable slots they give (pure: no I/O).
 *
 * Owns: the rules' JSON form (PROTOCOL.md, "Scheduling": tz, windows [{day, start, end}], slot_minutes,
 * buffer_minutes, min_notice_minutes, max_ahead_days) and their validation; computing the UTC start of
 * every slot of a window occurrence in the mentor's zone (tz.h), so a Tuesday 19:00 Europe/London
 * window starts at 19:00Z in winter and 18:00Z in summer; whether an instant is a bookable slot now.
 * Must not: know Redis or requests.
 *
 * Slots of a window: start, start + (slot + buffer), … while a slot still ends by the window's end.
 * Times are unix seconds (UTC).
 */
#ifndef STAFFROOM_SLOTS_H
#define STAFFROOM_SLOTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SLOTS_MAX_WINDOWS 28
#define SLOTS_TZ_MAX 64

typedef struct {
    int day;       /* 0 = Sunday … 6 = Saturday (as tm_wday) */
    int start_min; /* minutes after local midnight */
    int end_min;   /* exclusive; up to 1440 ("24:00") */
} slots_window_t;

typedef struct {
    char tz[SLOTS_TZ_MAX + 1];
    slots_window_t w[SLOTS_MAX_WINDOWS];
    size_t n;
    int slot_min, buffer_min, notice_min, ahead_days;
} slots_rules_t;

/* Fills *out from the rules object o (borrowed). Missing numbers take their defaults (30, 0, 60, 60).
 * Returns 0, or -1 with *field (static) naming the bad member and err saying why. The zone is checked
 * by the caller (tz_valid is a file-system question). */
int slots_rules_parse(const json_t *o, slots_rules_t *out, const char **field, char *err, size_t errlen);

/* The canonical JSON form of r (new reference), as slots_rules_parse reads it. */
json_t *slots_rules_json(const slots_rules_t *r);

/* Writes up to cap slot starts in [from, to) into out, ascending, that are bookable at `now` (at least
 * notice minutes ahead, at most ahead days ahead) and do not come within slot + buffer of one of the
 * nbooked starts in booked. Returns how many were written. */
size_t slots_list(const slots_rules_t *r, int64_t from, int64_t to, int64_t now, const int64_t *booked,
                  size_t nbooked, int64_t *out, size_t cap);

enum { SLOTS_OK = 0, SLOTS_NOT_A_SLOT = -1, SLOTS_TOO_SOON = -2, SLOTS_TOO_FAR = -3 };
/* Whether start is the start of a slot of the rules (SLOTS_NOT_A_SLOT if not), bookable at now. */
int slots_check(const slots_rules_t *r, int64_t start, int64_t now);

#endif
