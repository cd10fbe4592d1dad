/* streamid.h — Redis stream ids ("MS-SEQ", the chat message ids) as numbers: parsed, clamped to what
 * PostgreSQL's bigint holds, compared, formatted. Pure: no I/O.
 * Must not: accept what feature_stream_id_valid refuses as a bound the caller did not check first (it
 * parses leniently: the caller validated the text). */
#ifndef STAFFROOM_STREAMID_H
#define STAFFROOM_STREAMID_H

typedef struct { unsigned long long ms, seq; } streamid_t;

/* Parses "MS-SEQ"; each part above INT64_MAX is clamped to it (no stored id is that large, so such a bound
 * means "past everything"). NULL or "" → returns 0 with *out {0,0}; otherwise returns 1. */
int streamid_parse(const char *s, streamid_t *out);
/* -1, 0 or 1 as a is before, equal to or after b. */
int streamid_cmp(streamid_t a, streamid_t b);
/* The largest id PostgreSQL's bigint pair can hold: "after everything". */
streamid_t streamid_max(void);

#endif
