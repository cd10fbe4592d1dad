/* ws.h — HTTP and WebSocket serving. ws.c is the only file that includes <libwebsockets.h>.
 *
 * Owns: the lws context on the process's libuv loop; HTTP: the web client's static files (index.html
 * at /), GET /healthz and GET /metrics; the WebSocket endpoint /ws (subprotocol staffroom.v1; a
 * connection without it, or on another path, is refused); assembling fragmented frames up to
 * max-frame-bytes (a larger frame is answered too_large and the connection closed); a bounded send
 * queue per connection (over send-queue-max-bytes the slow client is disconnected, not buffered);
 * max-clients; idle pings (ping-interval / ping-timeout) so that dead peers are dropped.
 * Must not: know message types (frames go to dispatch_frame, answers come back through ws_send).
 */
#ifndef STAFFROOM_WS_H
#define STAFFROOM_WS_H

#include <stddef.h>
#include <uv.h>

#include "config.h"

typedef struct ws_sess ws_sess_t;

/* Creates the context and listens (cfg borrowed; must outlive ws_stop). Returns 0, or -1 (logged),
 * e.g. when the port is taken. */
int ws_start(uv_loop_t *loop, const signal_config_t *cfg);
/* Starts closing every WebSocket (close code 1001, or at once without a close frame if force) and
 * returns how many are still open; their close paths (presence, bus) run as they close. Call before
 * ws_stop, and run the loop until it returns 0: lws 4.1 leaks connections still open when its context
 * is destroyed on a foreign loop. */
size_t ws_close_all(int force);
/* Closes every connection (their close paths run: presence, bus) and the listener; lws's handles
 * finish closing once the loop runs on. Safe to call twice. */
void ws_stop(void);
/* Queues one text frame (text borrowed, copied). If the queue would pass send-queue-max-bytes the
 * connection is dropped instead (slow client). Dropped silently once the connection is closing. */
void ws_send(ws_sess_t *s, const char *text, size_t len);
/* Stops (paused=1) or resumes (0) reading frames from s: admission control (conn.h). */
void ws_pause_reading(ws_sess_t *s, int paused);

#endif
