/* jsonscan.h — JSON text checked and walked without building it (pure, no allocation).
 *
 * Owns: a validating scanner for RFC 8259 JSON text (UTF-8 checked, escapes and surrogate pairs checked,
 * "\u0000" refused as jansson refuses it, nesting at most JSONSCAN_MAX_DEPTH), and a walk over the
 * top-level members of an object text.
 * Must not: allocate, or accept what is not JSON. It is a little more lenient than jansson in one place:
 * numbers are checked for their syntax, not for fitting in 64 bits. Duplicate keys are not its business.
 *
 * Why: the signal fast path passes a client's `data` object through to another client as text; checking
 * it here costs a fraction of parsing it into a tree that nobody reads.
 */
#ifndef STAFFROOM_JSONSCAN_H
#define STAFFROOM_JSONSCAN_H

#include <stddef.h>

#define JSONSCAN_MAX_DEPTH 2048

/* 0 if s[0..n) is exactly one JSON value with optional white space around it, else -1. */
int jsonscan_valid(const char *s, size_t n);

/* Calls fn for each top-level member of the object text s[0..n) (which must be valid JSON: check first),
 * with the key's text between its quotes (escapes not decoded) and the value's text. Returns 0, -1 if s
 * is not an object, or the first non-zero value fn returned. */
typedef int (*jsonscan_member_fn)(const char *key, size_t klen, const char *val, size_t vlen, void *arg);
int jsonscan_members(const char *s, size_t n, jsonscan_member_fn fn, void *arg);

/* Checks and walks in one pass: 0 if s[0..n) is exactly one JSON object (with optional white space
 * around it), calling fn for each top-level member in order as jsonscan_members does. -1 if it is not a
 * valid JSON object — possibly after fn was already called for the members before the fault, so callers
 * keep what fn gathered only on 0 — or the first non-zero value fn returned. */
int jsonscan_object(const char *s, size_t n, jsonscan_member_fn fn, void *arg);

#endif
