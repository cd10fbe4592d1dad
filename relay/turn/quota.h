/* quota.h — allocation quotas shared by all workers (RFC 8656 §7.2: 486 Allocation Quota Reached).
 *
 * Owns: the number of allocations per user and in total.
 * Must not: know about allocations themselves. Thread-safe (a mutex; taken only on allocation
 * creation and deletion, which are rare next to data packets).
 * The user key is the caller's choice (the relay uses the user id of a REST username, so new
 * expiry times do not buy a new quota).
 */
#ifndef STAFFROOM_QUOTA_H
#define STAFFROOM_QUOTA_H

#include <stddef.h>

typedef struct quota quota_t;

/* per_user or total 0 = unlimited. NULL on allocation failure. */
quota_t *quota_new(unsigned per_user, unsigned total);
void quota_free(quota_t *q);
/* Counts one allocation for user (NULL: no user, only the total counts). Returns 0, or -1 when a
 * quota is reached (nothing counted). */
int quota_take(quota_t *q, const char *user, size_t ulen);
/* Uncounts one allocation taken with quota_take for the same user. */
void quota_release(quota_t *q, const char *user, size_t ulen);
unsigned quota_current(quota_t *q);

#endif
