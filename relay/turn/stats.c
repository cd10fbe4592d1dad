/* stats.c — see stats.h. */
#include "stats.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const int stats_codes[] = STATS_CODES;
#define NCODES_KNOWN (sizeof stats_codes / sizeof stats_codes[0])
_Static_assert(NCODES_KNOWN + 1 == STATS_NCODES, "STATS_NCODES");

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void stats_error(stats_t *s, int code)
{
    size_t i = 0;
    while (i < NCODES_KNOWN && stats_codes[i] != code)
        i++;
    STATS_ADD(s, errors[i], 1);
}

void stats_sum(stats_t *dst, const stats_t *const *src, size_t n)
{
    memset(dst, 0, sizeof *dst);
    for (size_t k = 0; k < n; k++) {
        const stats_t *s = src[k];
#define SUM(f) atomic_store_explicit(&dst->f, LD(dst->f) + LD(s->f), memory_order_relaxed)
        SUM(allocations_current); SUM(allocations_total); SUM(allocations_expired);
        SUM(client_to_peer_packets); SUM(client_to_peer_bytes);
        SUM(peer_to_client_packets); SUM(peer_to_client_bytes);
        SUM(stun_requests); SUM(binding_requests); SUM(auth_failures);
        SUM(dropped_policy); SUM(dropped_permission); SUM(dropped_bandwidth); SUM(dropped_malformed);
        for (size_t i = 0; i < STATS_NCODES; i++)
            SUM(errors[i]);
#undef SUM
    }
}

typedef struct {
    char *buf;
    size_t len, pos;
} out_t;

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_t *o, const char *fmt, ...)
{
    if (o->pos >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n < o->len - o->pos ? (size_t)n : o->len - o->pos - 1;
}

static void metric(out_t *o, const char *name, const char *type, const char *help, uint64_t v)
{
    emit(o, "# HELP staffroom_relay_%s %s\n# TYPE staffroom_relay_%s %s\nstaffroom_relay_%s %llu\n",
         name, help, name, type, name, (unsigned long long)v);
}

size_t stats_format_prometheus(const stats_t *s, char *buf, size_t len)
{
    out_t o = {buf, len, 0};
    if (len)
        buf[0] = 0;
    metric(&o, "allocations", "gauge", "Current allocations.", LD(s->allocations_current));
    metric(&o, "allocations_total", "counter", "Allocations created.", LD(s->allocations_total));
    metric(&o, "allocations_expired_total", "counter", "Allocations that timed out.",
           LD(s->allocations_expired));
    metric(&o, "client_to_peer_packets_total", "counter", "Packets relayed from clients to peers.",
           LD(s->client_to_peer_packets));
    metric(&o, "client_to_peer_bytes_total", "counter", "Payload bytes relayed from clients to peers.",
           LD(s->client_to_peer_bytes));
    metric(&o, "peer_to_client_packets_total", "counter", "Packets relayed from peers to clients.",
           LD(s->peer_to_client_packets));
    metric(&o, "peer_to_client_bytes_total", "counter", "Payload bytes relayed from peers to clients.",
           LD(s->peer_to_client_bytes));
    metric(&o, "stun_requests_total", "counter", "STUN/TURN requests received.", LD(s->stun_requests));
    metric(&o, "binding_requests_total", "counter", "STUN Binding requests.", LD(s->binding_requests));
    metric(&o, "auth_failures_total", "counter", "Requests with wrong or expired credentials.",
           LD(s->auth_failures));
    metric(&o, "dropped_policy_total", "counter", "Peers refused by the peer policy.",
           LD(s->dropped_policy));
    metric(&o, "dropped_no_permission_total", "counter", "Packets dropped for lack of a permission.",
           LD(s->dropped_permission));
    metric(&o, "dropped_bandwidth_total", "counter", "Packets dropped over bandwidth-limit.",
           LD(s->dropped_bandwidth));
    metric(&o, "dropped_malformed_total", "counter", "Malformed messages dropped.",
           LD(s->dropped_malformed));
    emit(&o, "# HELP staffroom_relay_error_responses_total Error responses sent, by code.\n"
             "# TYPE staffroom_relay_error_responses_total counter\n");
    for (size_t i = 0; i < STATS_NCODES; i++) {
        if (i < NCODES_KNOWN)
            emit(&o, "staffroom_relay_error_responses_total{code=\"%d\"} %llu\n", stats_codes[i],
                 (unsigned long long)LD(s->errors[i]));
        else
            emit(&o, "staffroom_relay_error_responses_total{code=\"other\"} %llu\n",
                 (unsigned long long)LD(s->errors[i]));
    }
    return o.pos;
}

size_t stats_format_line(const stats_t *s, char *buf, size_t len)
{
    out_t o = {buf, len, 0};
    if (len)
        buf[0] = 0;
    emit(&o, "stats: allocations=%llu total=%llu c2p=%llu pkts/%llu bytes p2c=%llu pkts/%llu bytes "
             "auth_failures=%llu dropped_policy=%llu dropped_no_permission=%llu dropped_bandwidth=%llu",
         (unsigned long long)LD(s->allocations_current), (unsigned long long)LD(s->allocations_total),
         (unsigned long long)LD(s->client_to_peer_packets),
         (unsigned long long)LD(s->client_to_peer_bytes),
         (unsigned long long)LD(s->peer_to_client_packets),
         (unsigned long long)LD(s->peer_to_client_bytes), (unsigned long long)LD(s->auth_failures),
         (unsigned long long)LD(s->dropped_policy), (unsigned long long)LD(s->dropped_permission),
         (unsigned long long)LD(s->dropped_bandwidth));
    for (size_t i = 0; i < STATS_NCODES; i++)
        if (LD(s->errors[i])) {
            if (i < NCODES_KNOWN)
                emit(&o, " err%d=%llu", stats_codes[i], (unsigned long long)LD(s->errors[i]));
            else
                emit(&o, " err_other=%llu", (unsigned long long)LD(s->errors[i]));
        }
    return o.pos;
}
