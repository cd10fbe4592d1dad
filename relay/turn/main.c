/* main.c — staffroom-relay: arguments, configuration, signals, and wiring of the workers.
 *
 * Owns: process setup and teardown. Signals are blocked in every thread and taken here with
 * sigwait: SIGTERM/SIGINT stop gracefully (exit 0, everything freed), SIGUSR1 logs the counters.
 * SIGHUP reloads the auth secret file (rotation). SIGPIPE is ignored.
 */
#include <errno.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "auth.h"
#include "conf.h"
#include "config.h"
#include "log.h"
#include "metrics_http.h"
#include "net_tcp.h"
#include "peer_policy.h"
#include "ports.h"
#include "quota.h"
#include "stats.h"
#include "worker.h"

#define RELAY_VERSION "0.1.0"
#define RELAY_MAX_THREADS 256

typedef struct {
    worker_t *workers[RELAY_MAX_THREADS];
    size_t nworkers;
} relay_t;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: staffroom-relay [--config FILE] [--check-config] [--KEY VALUE ...]\n"
            "       staffroom-relay --help | --version\n\n"
            "A TURN relay (RFC 8656) for Staffroom. Every configuration key is also a flag;\n"
            "flags override the file. --check-config validates, prints the effective\n"
            "configuration and exits (0 valid, 1 not).\n\nKeys:\n");
    conf_print_help(config_keys, out);
}

static void relay_sum(const relay_t *r, stats_t *sum)
{
    const stats_t *sets[RELAY_MAX_THREADS];
    for (size_t i = 0; i < r->nworkers; i++)
        sets[i] = worker_stats(r->workers[i]);
    stats_sum(sum, sets, r->nworkers);
}

static size_t render_metrics(void *ctx, char *buf, size_t len)
{
    stats_t sum;
    relay_sum(ctx, &sum);
    return stats_format_prometheus(&sum, buf, len);
}

/* Reads the configuration as at start: defaults, then the file (path, may be NULL), then the flags. A list
 * key given as a flag replaces the list of the file, as a list key in the file replaces the default. The
 * arguments that are not keys are left in rest[0..*nrest). Returns 0, or -1 with err set. */
static int read_config(relay_config_t *cfg, const char *path, int argc, char **argv, int *rest, int *nrest, char *err,
                       size_t errlen)
{
    if (conf_defaults(config_keys, cfg, err, errlen) < 0)
        return -1;
    if (path && conf_load_file(config_keys, cfg, path, err, errlen) < 0)
        return -1;
    for (const conf_key_t *k = config_keys; k->name; k++) {
        if (k->type != CONF_LIST || !conf_find_arg(argc, argv, k->name))
            continue;
        conf_list_t *l = (conf_list_t *)((char *)cfg + k->offset);
        for (size_t i = 0; i < l->n; i++)
            free(l->items[i]);
        free(l->items);
        l->items = NULL;
        l->n = 0;
    }
    return conf_apply_args(config_keys, cfg, argc, argv, rest, nrest, err, errlen);
}

/* SIGHUP: bandwidth-limit is read again (file, then flags, as at start) and holds for every allocation
 * from its next packet on, so that an operator can narrow or lift it without cutting calls. The other
 * keys need a restart. */
static void reload_bandwidth_limit(relay_t *r, const char *path, int argc, char **argv)
{
    relay_config_t c;
    char err[1024] = "out of memory";
    int *rest = calloc((size_t)argc + 1, sizeof *rest), nrest = 0;
    memset(&c, 0, sizeof c);
    if (!rest || read_config(&c, path, argc, argv, rest, &nrest, err, sizeof err) < 0 ||
        config_validate(&c, path, err, sizeof err) < 0) {
        log_error("SIGHUP: the configuration was not read again (bandwidth-limit unchanged): %s", err);
    } else {
        for (size_t i = 0; i < r->nworkers; i++)
            worker_set_bandwidth_limit(r->workers[i], (uint64_t)c.bandwidth_limit);
        log_info("SIGHUP: bandwidth-limit %lld bytes/s per allocation and direction%s", c.bandwidth_limit,
                 c.bandwidth_limit ? "" : " (unlimited)");
    }
    free(rest);
    conf_free(config_keys, &c);
}

int main(int argc, char **argv)
{
    relay_config_t cfg;
    char err[1024];
    int rc = 1, check = 0;
    relay_t relay = {0};
    auth_t *auth = NULL;
    peer_policy_t *policy = NULL;
    ports_t *ports = NULL;
    quota_t *quota = NULL;
    net_tls_t *tls = NULL;
    metrics_http_t *metrics = NULL;
    addr_t *listen = NULL;

    memset(&cfg, 0, sizeof cfg);
    log_init("staffroom-relay");
    signal(SIGPIPE, SIG_IGN);

    const char *path = conf_find_arg(argc, argv, "config");
    int *rest = calloc((size_t)argc + 1, sizeof *rest), nrest = 0;
    if (!rest || read_config(&cfg, path, argc, argv, rest, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-relay: %s\n", rest ? err : "out of memory");
        free(rest);
        goto out;
    }
    for (int i = 0; i < nrest; i++) {
        const char *a = argv[rest[i]];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            rc = 0;
            free(rest);
            goto out;
        } else if (strcmp(a, "--version") == 0) {
            printf("staffroom-relay %s\n", RELAY_VERSION);
            rc = 0;
            free(rest);
            goto out;
        } else if (strcmp(a, "--check-config") == 0) {
            check = 1;
        } else if (strcmp(a, "--config") == 0 && i + 1 < nrest && rest[i + 1] == rest[i] + 1) {
            i++;
        } else if (strncmp(a, "--config=", 9) == 0) {
            continue;
        } else {
            fprintf(stderr, "staffroom-relay: unknown option '%s' (see --help)\n", a);
            free(rest);
            goto out;
        }
    }
    free(rest);

    if (config_validate(&cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    log_set_level_name(cfg.log_level);
    if (check) {
        conf_print_values(config_keys, &cfg, stdout);
        rc = 0;
        goto out;
    }

    /* Shared, thread-safe parts. */
    if (!cfg.no_auth) {
        if (!(auth = auth_new(cfg.realm, (unsigned)cfg.nonce_lifetime, NULL))) {
            fprintf(stderr, "staffroom-relay: out of memory\n");
            goto out;
        }
        if (auth_load_secrets(auth, cfg.auth_secret_file, err, sizeof err) < 0) {
            fprintf(stderr, "staffroom-relay: auth-secret-file: %s\n", err);
            goto out;
        }
    } else {
        log_warn("no-auth is on: anyone can allocate relays (tests and benchmarks only)");
    }
    policy = peer_policy_new();
    uint64_t seed = 0;
    if (RAND_bytes((unsigned char *)&seed, sizeof seed) != 1) {
        fprintf(stderr, "staffroom-relay: no random numbers from the CSPRNG\n");
        goto out;
    }
    ports = ports_new((uint16_t)cfg.relay_port_min, (uint16_t)cfg.relay_port_max, seed);
    quota = quota_new((unsigned)cfg.user_quota, (unsigned)cfg.total_quota);
    listen = calloc(cfg.listen.n, sizeof *listen);
    if (!policy || !ports || !quota || !listen) {
        fprintf(stderr, "staffroom-relay: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < cfg.allow_peer.n; i++)
        peer_policy_add(policy, cfg.allow_peer.items[i], 1);
    for (size_t i = 0; i < cfg.deny_peer.n; i++)
        peer_policy_add(policy, cfg.deny_peer.items[i], 0);
    peer_policy_allow_loopback(policy, cfg.allow_loopback_peers);
    static const uint8_t zero[16] = {0};
    for (size_t i = 0; i < cfg.listen.n; i++) {
        addr_parse(cfg.listen.items[i], 0, &listen[i]);
        if (!memcmp(listen[i].ip, zero, addr_ip_len(&listen[i])))
            log_warn("listen %s: UDP replies leave from the address the kernel picks; on a host with "
                     "several addresses, list each one instead", cfg.listen.items[i]);
    }
    if (*cfg.tls_cert_file && !(tls = net_tls_new(cfg.tls_cert_file, cfg.tls_key_file, err, sizeof err))) {
        fprintf(stderr, "staffroom-relay: %s\n", err);
        goto out;
    }

    worker_params_t wp = {
        .turn = {.auth = auth, .policy = policy, .ports = ports, .quota = quota,
                 .default_lifetime = (unsigned)cfg.default_allocation_lifetime,
                 .max_lifetime = (unsigned)cfg.max_allocation_lifetime,
                 .bandwidth_limit = (uint64_t)cfg.bandwidth_limit},
        .listen = listen, .nlisten = cfg.listen.n,
        .port = (uint16_t)cfg.listen_port, .tls_port = (uint16_t)cfg.tls_listen_port, .tls = tls,
        .batch_wait_us = (unsigned)cfg.batch_wait_us, .io_uring = strcmp(cfg.event_loop, "io_uring") == 0};
    if (*cfg.relay_address)
        addr_parse(cfg.relay_address, 0, &wp.turn.relay_v4);
    if (*cfg.relay_address_v6)
        addr_parse(cfg.relay_address_v6, 0, &wp.turn.relay_v6);

    long nthreads = cfg.threads ? cfg.threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (nthreads < 1)
        nthreads = 1;
    if (nthreads > RELAY_MAX_THREADS)
        nthreads = RELAY_MAX_THREADS;

    /* Every thread, including the workers created below, inherits this mask: signals are only
     * ever delivered to sigwait here. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    for (long i = 0; i < nthreads; i++) {
        worker_t *w = worker_new((int)i, &wp, err, sizeof err);
        if (!w) {
            fprintf(stderr, "staffroom-relay: %s\n", err);
            goto out;
        }
        relay.workers[relay.nworkers++] = w;
    }
    if (cfg.metrics_port) {
        addr_t ma;
        addr_parse(cfg.metrics_address, (uint16_t)cfg.metrics_port, &ma);
        if (!(metrics = metrics_http_start(&ma, render_metrics, &relay, err, sizeof err))) {
            fprintf(stderr, "staffroom-relay: %s\n", err);
            goto out;
        }
    }
    for (size_t i = 0; i < relay.nworkers; i++)
        if (worker_start(relay.workers[i]) < 0) {
            fprintf(stderr, "staffroom-relay: cannot start worker thread\n");
            goto out;
        }

    /* The one line the tests wait for: every socket is bound by now. */
    char line[2048];
    int n = snprintf(line, sizeof line, "staffroom-relay listening");
    for (size_t i = 0; i < cfg.listen.n && n < (int)sizeof line - 200; i++) {
        char s[ADDR_STRLEN];
        listen[i].port = wp.port;
        n += snprintf(line + n, sizeof line - (size_t)n, " udp+tcp %s", addr_format(&listen[i], s, sizeof s));
        if (tls) {
            listen[i].port = wp.tls_port;
            n += snprintf(line + n, sizeof line - (size_t)n, " tls %s", addr_format(&listen[i], s, sizeof s));
        }
    }
    n += snprintf(line + n, sizeof line - (size_t)n, " relay %s%s%s ports %lld-%lld threads %zu loop %s",
                  *cfg.relay_address ? cfg.relay_address : "-", *cfg.relay_address_v6 ? " " : "",
                  cfg.relay_address_v6, cfg.relay_port_min, cfg.relay_port_max, relay.nworkers,
                  worker_event_loop(relay.workers[0]));
    if (metrics)
        n += snprintf(line + n, sizeof line - (size_t)n, " metrics %s:%u", cfg.metrics_address,
                      metrics_http_port(metrics));
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t wr = write(STDERR_FILENO, line, (size_t)n);
    (void)wr;

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGUSR1) {
            stats_t sum;
            char s[1024];
            relay_sum(&relay, &sum);
            stats_format_line(&sum, s, sizeof s);
            log_info("%s", s);
        } else if (sig == SIGHUP) {
            reload_bandwidth_limit(&relay, path, argc, argv);
            /* Secret rotation without a restart: the file is read again, atomically swapped. */
            if (auth) {
                int n = auth_load_secrets(auth, cfg.auth_secret_file, err, sizeof err);
                if (n < 0)
                    log_error("SIGHUP: secrets not reloaded (old ones kept): %s", err);
                else
                    log_info("SIGHUP: %d secret(s) loaded from %s", n, cfg.auth_secret_file);
            }
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("signal %d: shutting down", sig);
            break;
        }
    }
    rc = 0;
out:
    metrics_http_stop(metrics);
    for (size_t i = 0; i < relay.nworkers; i++)
        worker_stop(relay.workers[i]);
    for (size_t i = 0; i < relay.nworkers; i++)
        worker_free(relay.workers[i]);
    net_tls_free(tls);
    free(listen);
    quota_free(quota);
    ports_free(ports);
    peer_policy_free(policy);
    auth_free(auth);
    conf_free(config_keys, &cfg);
    return rc;
}
