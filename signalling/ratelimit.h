/* ratelimit.h — token buckets, and a bounded table of them keyed by text (an IP, a user id).
 *
 * Owns: bucket arithmetic and the table's memory. Pure: time is passed in (monotonic ms), nothing here
 * reads a clock or does I/O, so tests drive it directly.
 * Must not: know what is being limited.
 */
#ifndef STAFFROOM_RATELIMIT_H
#define STAFFROOM_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double tokens;
    uint64_t last_ms;
    int started;
} ratelimit_t;

/* Takes one token from b, refilled at per_minute tokens a minute up to burst. Returns 0 if a token
 * was taken, else the ms until one will be available (>= 1). A fresh (zeroed) bucket starts full. */
uint64_t ratelimit_take(ratelimit_t *b, uint64_t now_ms, long long per_minute, long long burst);

/* A table of buckets keyed by strings, at most `cap` of them. When it is full, the bucket used least
 * recently is forgotten only if it has refilled to its burst (forgetting it then loses nothing); otherwise
 * a new key shares one overflow bucket with every other key that found the table full. So rotating through
 * many keys (addresses) never resets a limited key, and gains the rotating client only the overflow
 * bucket's tokens. Every operation is O(1). */
typedef struct ratelimit_table ratelimit_table_t;

/* Returns a new table, or NULL on allocation failure. */
ratelimit_table_t *ratelimit_table_new(size_t cap);
void ratelimit_table_free(ratelimit_table_t *t);
/* ratelimit_take on the bucket for key (borrowed; copied if a bucket is created). */
uint64_t ratelimit_table_take(ratelimit_table_t *t, const char *key, uint64_t now_ms, long long per_minute,
                              long long burst);
size_t ratelimit_table_size(const ratelimit_table_t *t);

#endif
