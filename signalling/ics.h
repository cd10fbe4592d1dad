/* ics.h — one mentoring session as an iCalendar object (RFC 5545), bytes out (pure: no I/O).
 *
 * Owns: the text of a VCALENDAR with one VEVENT: CRLF line ends (3.1), lines folded at 75 octets
 * without splitting a UTF-8 sequence (3.1), TEXT values escaped (3.3.11), UTC DATE-TIMEs (3.3.5, form 2),
 * METHOD REQUEST or CANCEL (RFC 5546 3.2.2, 3.2.5) and SEQUENCE (3.8.7.4) raised on each reschedule.
 * Must not: know where a booking is stored or who may read it.
 */
#ifndef STAFFROOM_ICS_H
#define STAFFROOM_ICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *uid;         /* globally unique, e.g. "<booking>@staffroom" */
    int64_t start, end;      /* unix seconds */
    int64_t stamp;           /* DTSTAMP: when this version was made */
    long sequence;
    int cancelled;           /* METHOD:CANCEL + STATUS:CANCELLED */
    const char *summary;     /* UTF-8 text, escaped here */
    const char *description; /* UTF-8 text, escaped here */
    const char *url;         /* the join link (may be NULL) */
} ics_event_t;

/* Appends the escaped form of TEXT value s (\\ \; \, and \n for a line break; CR dropped) to out,
 * which has room for cap bytes. Returns the length written (excluding the NUL always written), or -1
 * if it would not fit. */
long ics_escape(const char *s, char *out, size_t cap);

/* Folds one content line (no line end) into out: CRLF-terminated physical lines of at most 75 octets
 * (continuations start with one space, counted), never splitting a UTF-8 sequence. Returns the length
 * written, or -1 if out (cap bytes) is too small. */
long ics_fold(const char *line, char *out, size_t cap);

/* The whole calendar object: new malloc'd NUL-terminated text (*len its length), or NULL on
 * allocation failure. Fields of ev are borrowed. */
char *ics_render(const ics_event_t *ev, size_t *len);

/* A calendar to subscribe to (webcal:): METHOD:PUBLISH with the n events (n may be 0), each as in
 * ics_render. New text as ics_render, or NULL on allocation failure. */
char *ics_render_feed(const ics_event_t *evs, size_t n, size_t *len);

#endif
