/* metrics.h — this node's counters, and their Prometheus text exposition.
 *
 * Owns: the counters (process-wide, loop thread only).
 * Must not: do I/O; label values come only from bounded sets (known request types, error codes), so a
 * peer cannot grow the label space.
 */
#ifndef STAFFROOM_METRICS_H
#define STAFFROOM_METRICS_H

#include <stddef.h>

void metrics_conn_opened(void);
void metrics_conn_closed(void);
void metrics_conn_rejected(const char *why);   /* why: static string: "max_clients", "path" */
void metrics_slow_client(void);
void metrics_send_budget_drop(void);       /* dropped because all send queues together were full */
void metrics_idle_timeout(void);           /* dropped after ping-timeout without a sign of life */
void metrics_set_send_queued(size_t bytes); /* bytes queued for sending over all connections (gauge) */
void metrics_event_delivered(void);
void metrics_direct_sent(void); /* a signal published to another node's channel */
void metrics_hash_refused(void);   /* a sign-in refused: hash queue full */
void metrics_inflight_paused(void); /* a connection's reading paused at max-inflight */
/* type: a known request type or "unknown" (static or long-lived: copied); result: "ok" or an error code. */
void metrics_request(const char *type, const char *result);

/* Writes the exposition into a new malloc'd string (*len set); redis_up is passed in (store owns it).
 * Returns NULL on allocation failure. */
char *metrics_render(int redis_up, size_t *len);
void metrics_free_all(void);

#endif
