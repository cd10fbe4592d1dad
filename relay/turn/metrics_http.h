/* metrics_http.h — a tiny HTTP/1.0 listener that serves GET /metrics (Prometheus text format).
 *
 * Owns: its listening socket and one thread. It answers one request per connection, with a 2 s
 * timeout per connection, so a stuck client delays only the next scrape, never a worker.
 * Must not: touch relay state except through the render callback.
 */
#ifndef STAFFROOM_METRICS_HTTP_H
#define STAFFROOM_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Writes the metrics text into buf (terminated); returns its length. Called on the metrics thread. */
typedef size_t (*metrics_render_fn)(void *ctx, char *buf, size_t len);

typedef struct metrics_http metrics_http_t;

/* Binds a (port 0 = any) and starts the thread. NULL with err filled on failure. */
metrics_http_t *metrics_http_start(const addr_t *a, metrics_render_fn render, void *ctx, char *err,
                                   size_t errlen);
uint16_t metrics_http_port(const metrics_http_t *m);
/* Stops the thread and frees everything. NULL is fine. */
void metrics_http_stop(metrics_http_t *m);

#endif
