/* strmap.h — a hash table from NUL-terminated strings to pointers (pure, no I/O).
 *
 * Owns: its buckets and a copy of every key. Values are borrowed: the map never frees them.
 * Must not: be used across threads.
 *
 * Lookups, inserts and deletes are O(1) on average: the bucket array doubles when the table holds more
 * entries than buckets, and halves (down to its initial size) when it falls below an eighth, so a table
 * that once held 20,000 users does not keep their buckets after they leave.
 */
#ifndef STAFFROOM_STRMAP_H
#define STAFFROOM_STRMAP_H

#include <stddef.h>

typedef struct strmap strmap_t;

/* A new empty map, or NULL when out of memory. */
strmap_t *strmap_new(void);
/* Frees the map and its keys (not the values). NULL is fine. */
void strmap_free(strmap_t *m);
/* The value stored under key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);
/* Stores val (non-NULL) under key (copied), replacing any value there. Returns 0, or -1 when out of
 * memory (the map is unchanged). */
int strmap_put(strmap_t *m, const char *key, void *val);
/* Removes key; returns the value it had, or NULL if absent. */
void *strmap_del(strmap_t *m, const char *key);
size_t strmap_count(const strmap_t *m);
/* Calls fn for every entry, in no particular order. fn must not change the map. */
void strmap_foreach(const strmap_t *m, void (*fn)(const char *key, void *val, void *arg), void *arg);

#endif
