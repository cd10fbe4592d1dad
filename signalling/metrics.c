/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static unsigned long long conns_open, conns_total, rej_max, rej_path, slow_clients, budget_drops, idle_timeouts,
    events, direct_sent, hash_refused, inflight_paused;
static size_t send_queued;

/* (type, result) pairs: bounded by the dispatch table × the error codes. */
#define MAX_REQ_SERIES 1024
typedef struct {
    char type[48];
    char result[24];
    unsigned long long n;
} series_t;
static series_t series[MAX_REQ_SERIES];
static size_t nseries;

void metrics_conn_opened(void) { conns_open++; conns_total++; }
void metrics_conn_closed(void) { if (conns_open) conns_open--; }
void metrics_conn_rejected(const char *why)
{
    if (strcmp(why, "max_clients") == 0)
        rej_max++;
    else
        rej_path++;
}
void metrics_slow_client(void) { slow_clients++; }
void metrics_send_budget_drop(void) { budget_drops++; }
void metrics_idle_timeout(void) { idle_timeouts++; }
void metrics_set_send_queued(size_t bytes) { send_queued = bytes; }
void metrics_event_delivered(void) { events++; }
void metrics_direct_sent(void) { direct_sent++; }
void metrics_hash_refused(void) { hash_refused++; }
void metrics_inflight_paused(void) { inflight_paused++; }

/* Looked up on every answer: a hash from "type\x1fresult" to its series, not a walk over up to 1024. */
static strmap_t *series_index;

void metrics_request(const char *type, const char *result)
{
    char key[160];
    snprintf(key, sizeof key, "%s\x1f%s", type, result);
    if (!series_index && !(series_index = strmap_new()))
        return;
    series_t *found = strmap_get(series_index, key);
    if (found) {
        found->n++;
        return;
    }
    if (nseries == MAX_REQ_SERIES)
        return;
    series_t *s = &series[nseries];
    snprintf(s->type, sizeof s->type, "%s", type);
    snprintf(s->result, sizeof s->result, "%s", result);
    s->n = 1;
    if (strmap_put(series_index, key, s) == 0)
        nseries++;
}

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void put(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

char *metrics_render(int redis_up, size_t *len)
{
    sbuf_t b = {malloc(4096), 0, 4096, 0};
    if (!b.p)
        return NULL;
    put(&b, "# HELP staffroom_connections Open WebSocket connections.\n# TYPE staffroom_connections gauge\n"
            "staffroom_connections %llu\n", conns_open);
    put(&b, "# HELP staffroom_connections_total WebSocket connections accepted.\n"
            "# TYPE staffroom_connections_total counter\nstaffroom_connections_total %llu\n", conns_total);
    put(&b, "# HELP staffroom_connections_rejected_total Connections refused.\n"
            "# TYPE staffroom_connections_rejected_total counter\n"
            "staffroom_connections_rejected_total{reason=\"max_clients\"} %llu\n"
            "staffroom_connections_rejected_total{reason=\"path\"} %llu\n", rej_max, rej_path);
    put(&b, "# HELP staffroom_slow_clients_total Connections closed because their send queue was full.\n"
            "# TYPE staffroom_slow_clients_total counter\nstaffroom_slow_clients_total %llu\n", slow_clients);
    put(&b, "# HELP staffroom_send_budget_drops_total Slow clients closed because all send queues together were "
            "over send-queue-total-max-bytes.\n# TYPE staffroom_send_budget_drops_total counter\n"
            "staffroom_send_budget_drops_total %llu\n", budget_drops);
    put(&b, "# HELP staffroom_send_queued_bytes Bytes waiting in all send queues.\n"
            "# TYPE staffroom_send_queued_bytes gauge\nstaffroom_send_queued_bytes %zu\n", send_queued);
    put(&b, "# HELP staffroom_idle_timeouts_total Connections dropped after ping-timeout without a sign of life.\n"
            "# TYPE staffroom_idle_timeouts_total counter\nstaffroom_idle_timeouts_total %llu\n", idle_timeouts);
    put(&b, "# HELP staffroom_redis_up 1 if Redis is connected.\n# TYPE staffroom_redis_up gauge\n"
            "staffroom_redis_up %d\n", redis_up ? 1 : 0);
    put(&b, "# HELP staffroom_events_delivered_total Events forwarded to local connections.\n"
            "# TYPE staffroom_events_delivered_total counter\nstaffroom_events_delivered_total %llu\n", events);
    put(&b, "# HELP staffroom_direct_sent_total Signals sent straight to another node's channel (fast path).\n"
            "# TYPE staffroom_direct_sent_total counter\nstaffroom_direct_sent_total %llu\n", direct_sent);
    put(&b, "# HELP staffroom_hash_refused_total Sign-ins refused because hash-queue-max hashes were already queued.\n"
            "# TYPE staffroom_hash_refused_total counter\nstaffroom_hash_refused_total %llu\n", hash_refused);
    put(&b, "# HELP staffroom_inflight_paused_total Times a connection's reading paused at max-inflight requests.\n"
            "# TYPE staffroom_inflight_paused_total counter\nstaffroom_inflight_paused_total %llu\n", inflight_paused);
    put(&b, "# HELP staffroom_requests_total Requests answered, by type and result.\n"
            "# TYPE staffroom_requests_total counter\n");
    for (size_t i = 0; i < nseries; i++)
        put(&b, "staffroom_requests_total{type=\"%s\",result=\"%s\"} %llu\n", series[i].type, series[i].result,
            series[i].n);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

void metrics_free_all(void) { nseries = 0; }
