/* ws.h — HTTP and WebSocket transport. ws.c is the only file that includes <libwebsockets.h>.
 *
 * Owns: the lws context on the process's libuv loop; HTTP: the web client's static files (index.html
 * at /) and the routes other modules register (ws_route_add); the security headers of every HTTP response
 * (Content-Security-Policy, X-Content-Type-Options, X-Frame-Options, Referrer-Policy, Permissions-Policy,
 * Cross-Origin-Opener-Policy); the WebSocket endpoint /ws (subprotocol
 * staffroom.v1; a connection without it, or on another path, is refused); assembling fragmented frames
 * up to max-frame-bytes (a larger frame is answered too_large and the connection closed); a bounded send
 * queue per connection (over send-queue-max-bytes the slow client is disconnected, not buffered) and a
 * budget for all queues together (send-queue-total-max-bytes); max-clients; idle pings (ping-interval /
 * ping-timeout) so that dead peers are dropped.
 * Must not: know message types or features (frames go to dispatch_frame, answers come back through
 * ws_send; HTTP answers come from registered routes).
 *
 * Cost of an idle connection: no timer of its own. lws's per-connection validity timers are off (lws 4.1
 * keeps timers in one sorted list, O(n) per insert); instead each WebSocket sits in an O(1) least-recently-
 * active list (idle.h) that one loop timer checks every second from its oldest end only. lws reads into a
 * small per-connection buffer (WS_RX_PIECE); a frame that arrives in one piece is dispatched from it
 * without a copy, a longer one is assembled in a buffer sized to it and freed as soon as it is complete.
 */
#ifndef STAFFROOM_WS_H
#define STAFFROOM_WS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

typedef struct ws_sess ws_sess_t;

/* Creates the context and listens (cfg borrowed; must outlive ws_stop). Returns 0, or -1 (logged),
 * e.g. when the port is taken. The routes registered so far are served; none can be added later. */
int ws_start(uv_loop_t *loop, const signal_config_t *cfg);
/* Starts closing every WebSocket (close code 1001, or at once without a close frame if force) and
 * returns how many are still open; their close paths (presence, bus) run as they close. Call before
 * ws_stop, and run the loop until it returns 0: lws 4.1 leaks connections still open when its context
 * is destroyed on a foreign loop. */
size_t ws_close_all(int force);
/* Closes every connection (their close paths run: presence, bus) and the listener; lws's handles
 * finish closing once the loop runs on. Pending HTTP answers are dropped (ws_http_answer still frees
 * their requests). Safe to call twice. */
void ws_stop(void);

/* ---------------- WebSocket ---------------- */

/* Queues one text frame (text borrowed, copied). The connection is dropped instead (a slow client,
 * counted in staffroom_slow_clients_total) if its queue would pass send-queue-max-bytes, or if all
 * connections' queues together would pass send-queue-total-max-bytes (then also counted in
 * staffroom_send_budget_drops_total): whichever connection's frame does not fit is the one dropped.
 * Dropped silently once the connection is closing. */
void ws_send(ws_sess_t *s, const char *text, size_t len);
/* Stops (paused=1) or resumes (0) reading frames from s, e.g. while it has too many requests in flight.
 * Frames already read by lws are delivered after the resume, in order. While paused the connection is
 * never dropped for being idle (its pongs are not read either); its idle clock restarts on resume.
 * Calls that do not change the state are no-ops. Safe at any time on the loop, including from inside
 * dispatch_frame. */
void ws_pause_reading(ws_sess_t *s, int paused);
/* Closes s with a close frame (RFC 6455 section 5.5.1: code, then why — a static string of at most 60
 * bytes) once the frames queued before it are written; frames queued after it are dropped with the
 * connection. Its close path (conn_closed) runs as for any close. A second call does nothing. */
void ws_close(ws_sess_t *s, int code, const char *why);
/* Bytes queued for sending over all connections (for metrics and tests). */
size_t ws_queued_total(void);

/* ---------------- HTTP routes ---------------- */

/* One HTTP request being answered: created by ws.c for a route, freed by exactly one ws_http_answer. */
typedef struct ws_http_req ws_http_req_t;
/* Handles a request (GET unless the route asks ws_http_method) of a path under the route's prefix. It must call ws_http_answer exactly once,
 * now or later from the loop (e.g. from a store callback). The accessors below work only during this
 * call (lws keeps the request headers only that long): copy what is needed later. */
typedef void (*ws_http_fn)(ws_http_req_t *req, void *arg);

#define WS_MAX_ROUTES 16
/* Registers fn for the paths prefix and prefix/… (prefix: "/name", no trailing slash, static storage,
 * borrowed). Call before ws_start. Returns 0, or -1 if the table is full, the prefix is malformed or
 * already taken. */
int ws_route_add(const char *prefix, ws_http_fn fn, void *arg);
/* As ws_route_add; with all_methods the route is also called for HEAD, POST, PUT and DELETE (see below),
 * else those are answered 405. */
int ws_route_add_methods(const char *prefix, ws_http_fn fn, void *arg, int all_methods);

/* The request's path without the query ("/ics/….ics"); borrowed until the answer. */
const char *ws_http_path(const ws_http_req_t *req);
/* Copies URL query argument name (without '=') into out (cap bytes, NUL-terminated, URL-decoded).
 * Returns its length, or -1 if absent or longer than cap - 1 (out is then ""). During the route call. */
int ws_http_arg(const ws_http_req_t *req, const char *name, char *out, size_t cap);
/* Copies request header name (case-insensitive, e.g. "authorization", "host") into out, as ws_http_arg.
 * Only headers lws knows by name are available. During the route call. */
int ws_http_header(const ws_http_req_t *req, const char *name, char *out, size_t cap);
/* Answers req with status, content type (borrowed, copied) and body (borrowed, copied; len bytes), with
 * "Cache-Control: no-store", and frees req. If the client went away meanwhile the answer is dropped
 * (req is still freed): a route never needs to know. */
void ws_http_answer(ws_http_req_t *req, int status, const char *content_type, const char *body, size_t len);

/* ---------------- HTTP methods, request bodies and file answers (the media routes) ----------------
 *
 * A route is called for GET, HEAD, POST, PUT and DELETE (anything else is answered 405 by ws.c). A request
 * with a body (Content-Length) hands it to the route piece by piece once the route asks for it with
 * ws_http_on_body; a route that does not ask has it discarded. An answer given before the whole body
 * arrived closes the connection once written (the rest of the body is never parsed as a request). */

/* The method of req: "GET", "HEAD", "POST", "PUT" or "DELETE" (static). Valid until the answer. */
const char *ws_http_method(const ws_http_req_t *req);

typedef enum { WS_BODY_DATA, WS_BODY_END, WS_BODY_ABORT } ws_body_event_t;
/* A piece of the body (WS_BODY_DATA: data/len borrowed for the call), its end (WS_BODY_END: all of
 * Content-Length arrived) or the client gone before the end (WS_BODY_ABORT: req must still be answered,
 * which only frees it). Called on the loop, never from inside ws_http_on_body; at most one END or ABORT. */
typedef void (*ws_http_body_fn)(ws_http_req_t *req, ws_body_event_t ev, const char *data, size_t len, void *priv);
/* Asks for req's body (during the route call). A request without a body gets WS_BODY_END at once (on the
 * next loop turn, never inside this call). fn NULL: the rest of the body is dropped (e.g. after an early
 * answer). */
void ws_http_on_body(ws_http_req_t *req, ws_http_body_fn fn, void *priv);
/* Stops (1) or resumes (0) reading req's body, e.g. while a piece is written to disk. Pieces lws had
 * already read may still arrive while paused: the callback must keep them. */
void ws_http_pause_body(ws_http_req_t *req, int paused);
/* Adds a response header to req's answer (before ws_http_answer*): name without the colon, e.g.
 * "Content-Range"; both borrowed, copied. Returns 0, or -1 if the headers would pass 1 KiB or the
 * name/value contain CR or LF. */
int ws_http_add_header(ws_http_req_t *req, const char *name, const char *value);
/* Answers req with status and len bytes of the open file fd from offset (read on libuv's thread pool,
 * never on the loop, a piece at a time as the client takes them), Content-Length len; only the headers
 * if head_only. Takes fd (closed here, also when the client went away) and frees req when done. */
void ws_http_answer_file(ws_http_req_t *req, int status, const char *content_type, int fd, uint64_t offset,
                         uint64_t len, int head_only);

#endif
