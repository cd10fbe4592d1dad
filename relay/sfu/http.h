/* http.h — a tiny HTTP/1.0 responder on the main loop (GSocketService) for /metrics and /healthz.
 *
 * Owns: its listening socket and the connections it accepted; one request per connection, at most
 * 4 KiB of request head, 2 s per connection, then the connection is closed.
 * Must not: block; know what the paths mean (the handler decides).
 */
#ifndef STAFFROOM_SFU_HTTP_H
#define STAFFROOM_SFU_HTTP_H

#include <stdint.h>
#include <glib.h>

typedef struct http http_t;

/* Answers one GET: fills *status and *content_type (static strings) and returns the body (new; freed by
 * http with g_free). path is borrowed for the call. */
typedef char *(*http_handler_fn)(void *ctx, const char *path, int *status, const char **content_type);

/* Listens on address:port (0 = any free port). Returns NULL with err filled on failure. */
http_t *http_new(const char *address, uint16_t port, http_handler_fn fn, void *ctx, char *err, size_t errlen);
uint16_t http_port(const http_t *h);
/* Stops listening and closes open connections. NULL is fine. */
void http_free(http_t *h);

#endif
