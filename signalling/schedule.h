/* schedule.h — scheduled mentoring: availability, slots, bookings, reminders, the session join window
 * and the .ics calendar export.
 *
 * Owns: the `schedule.*`, `session.join` and `notifications.list` request types (PROTOCOL.md,
 * "Scheduling"); the Redis keys sched:avail:<uid> (rules JSON), booking:<bid> (hash), the zsets
 * sched:mentor:<uid>:booked (active bookings by start, for the atomic no-double-booking check) and
 * user:<uid>:bookings (both roles), sched:reminders (due time in ms → "<bid>|<seconds before>"), and the
 * lists notif:<uid> (in-app history) and notif:<uid>:pending (events waiting for an offline user);
 * the reminder timer (every node claims due reminders with one atomic script, so each is sent once).
 * Must not: keep booking state in this process (every node answers from Redis), or block the loop.
 *
 * Times on the wire are unix seconds (UTC); clients show them in the viewer's zone. Rules are checked in
 * C (slots.h) before a booking script runs; the script then makes the booking atomically, refusing it
 * if another active booking of the mentor lies within slot + buffer of it.
 */
#ifndef STAFFROOM_SCHEDULE_H
#define STAFFROOM_SCHEDULE_H

#include "module.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "dispatch.h"

/* The module of every schedule.* request, session.join and notifications.list: its handlers, timers and observers. */
extern const module_t schedule_module; /* registered by main.c */

/* Starts this node's reminder timer (schedule-tick) on loop (borrowed). */
/* Stops the timer (its handle closes as the loop runs on). A claim in flight still completes. */

/* A connection just signed in as uid: the events that waited for that user while offline are sent to
 * it (if it is still open when Redis answers) and no longer wait. uid borrowed. */
void schedule_signed_in(uint64_t conn, const char *uid);

/* The module also serves GET /ics/<booking>.ics (its route): the booking's calendar (RFC 5545) for its
 * mentor or mentee, whose session token comes as ?token=… or "Authorization: Bearer …"; 401 without a
 * valid token, 403 for anyone else, 404 for no such booking, 503 while Redis is down. */

#endif
