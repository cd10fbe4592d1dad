/* byterange.h — the HTTP byte ranges of media files, bytes in, numbers out (pure: no I/O).
 *
 * Owns: parsing a request's "Range: bytes=…" (RFC 9110 section 14.1.2) into one satisfiable range of a
 * representation of a known length, and an upload chunk's "Content-Range: bytes first-last/complete"
 * (section 14.4). One range only: a multi-range request ("bytes=0-1,5-9") is answered with the whole
 * file (RFC 9110 allows ignoring Range), which is what browsers' media players never ask for anyway.
 * Must not: know files, sockets or HTTP statuses beyond what the return values say.
 */
#ifndef STAFFROOM_BYTERANGE_H
#define STAFFROOM_BYTERANGE_H

#include <stdint.h>

/* Outcome of byterange_parse. */
#define BYTERANGE_NONE 0          /* no usable Range (absent, not "bytes=", several ranges): send it all (200) */
#define BYTERANGE_OK 1            /* *first..*last (inclusive) is the range to send (206) */
#define BYTERANGE_UNSATISFIABLE -1 /* well-formed but starts at or past the end: 416 with "bytes * / size" */
#define BYTERANGE_BAD -2          /* malformed ("bytes=5-2", "bytes=abc"): RFC 9110 says ignore it; we answer 416 */

/* Parses the value of a Range header (borrowed; NULL or "" = absent) against a representation of size bytes.
 * "bytes=a-b" (b clamped to size-1), "bytes=a-" (to the end), "bytes=-n" (the last n bytes, all if n >= size).
 * Returns one of the values above; *first and *last are set only for BYTERANGE_OK. */
int byterange_parse(const char *value, uint64_t size, uint64_t *first, uint64_t *last);

/* Parses the value of a Content-Range header of an upload chunk: "bytes first-last/complete" with
 * first <= last < complete (complete may be "*": *complete is then UINT64_MAX). Returns 0, or -1 if malformed. */
int byterange_content_range(const char *value, uint64_t *first, uint64_t *last, uint64_t *complete);

#endif
