/* config.c — see config.h. Every key is documented again in config/staffroom-relay.conf. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "addr.h"

#define OFF(f) offsetof(relay_config_t, f)
#define PORT_MAX 65535

const conf_key_t config_keys[] = {
    {"listen", CONF_LIST, OFF(listen), "127.0.0.1", 0, 0, NULL,
     "address to listen on for clients (UDP, TCP and TLS); repeat for several"},
    {"listen-port", CONF_INT, OFF(listen_port), "3478", 0, PORT_MAX, "port",
     "STUN/TURN port for UDP and TCP (0 = any free port)"},
    {"tls-listen-port", CONF_INT, OFF(tls_listen_port), "5349", 0, PORT_MAX, "port",
     "TURN over TLS port, used when tls-cert-file and tls-key-file are set (0 = any free port)"},
    {"tls-cert-file", CONF_STR, OFF(tls_cert_file), NULL, 0, 0, "path",
     "PEM certificate chain for turns: (empty = no TLS)"},
    {"tls-key-file", CONF_STR, OFF(tls_key_file), NULL, 0, 0, "path", "PEM private key for turns:"},
    {"relay-address", CONF_STR, OFF(relay_address), "127.0.0.1", 0, 0, NULL,
     "IPv4 address relayed sockets are bound to (empty = no IPv4 relaying)"},
    {"relay-address-v6", CONF_STR, OFF(relay_address_v6), NULL, 0, 0, NULL,
     "IPv6 address relayed sockets are bound to (empty = no IPv6 relaying)"},
    {"relay-port-min", CONF_INT, OFF(relay_port_min), "49152", 1, PORT_MAX, "port",
     "lowest relayed port"},
    {"relay-port-max", CONF_INT, OFF(relay_port_max), "65535", 1, PORT_MAX, "port",
     "highest relayed port"},
    {"realm", CONF_STR, OFF(realm), "staffroom", 0, 0, NULL, "realm of the long-term credentials"},
    {"auth-secret-file", CONF_STR, OFF(auth_secret_file), NULL, 0, 0, "path",
     "file of REST shared secrets, one per line (any line verifies); required unless no-auth"},
    {"no-auth", CONF_BOOL, OFF(no_auth), "no", 0, 0, NULL,
     "accept requests without credentials (benchmarks and tests only)"},
    {"nonce-lifetime", CONF_INT, OFF(nonce_lifetime), "600", 1, 86400, "seconds",
     "age after which a nonce is stale (438)"},
    {"default-allocation-lifetime", CONF_INT, OFF(default_allocation_lifetime), "600", 60, 86400,
     "seconds", "allocation lifetime when the client asks for none or less"},
    {"max-allocation-lifetime", CONF_INT, OFF(max_allocation_lifetime), "3600", 60, 86400,
     "seconds", "longest allocation lifetime granted"},
    {"user-quota", CONF_INT, OFF(user_quota), "10", 0, 1000000, "allocations",
     "allocations per user id at once (0 = unlimited; not applied with no-auth)"},
    {"total-quota", CONF_INT, OFF(total_quota), "10000", 0, 10000000, "allocations",
     "allocations in total at once (0 = unlimited)"},
    {"bandwidth-limit", CONF_INT, OFF(bandwidth_limit), "0", 0, 10000000000LL, "bytes/s",
     "relayed payload per allocation and direction (0 = unlimited; excess is dropped)"},
    {"allow-loopback-peers", CONF_BOOL, OFF(allow_loopback_peers), "no", 0, 0, NULL,
     "allow peers on 127.0.0.0/8 and ::1 (tests only)"},
    {"allow-peer", CONF_LIST, OFF(allow_peer), NULL, 0, 0, "CIDR",
     "allow peers in this range even if denied by default; repeatable"},
    {"deny-peer", CONF_LIST, OFF(deny_peer), NULL, 0, 0, "CIDR",
     "deny peers in this range (wins over allow-peer); repeatable"},
    {"threads", CONF_INT, OFF(threads), "0", 0, 256, "threads",
     "worker threads (0 = one per online CPU)"},
    {"batch-wait-us", CONF_INT, OFF(batch_wait_us), "200", 0, 10000, "microseconds",
     "under steady load, let datagrams gather this long before a worker wakes (0 = wake per event)"},
    {"event-loop", CONF_STR, OFF(event_loop), "io_uring", 0, 0, NULL,
     "epoll, or io_uring (UDP through one io_uring per worker; epoll where the kernel refuses it)"},
    {"metrics-address", CONF_STR, OFF(metrics_address), "127.0.0.1", 0, 0, NULL,
     "address of the Prometheus /metrics listener"},
    {"metrics-port", CONF_INT, OFF(metrics_port), "0", 0, PORT_MAX, "port",
     "port of the /metrics listener (0 = off)"},
    {"log-level", CONF_STR, OFF(log_level), "info", 0, 0, NULL, "error, warn, info or debug"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* The last line of path that sets key, or 0. */
static int config_line_of(const char *path, const char *key)
{
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    int n = 0, found = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        n++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncmp(s, key, kl) == 0 && (s[kl] == ' ' || s[kl] == '\t' || s[kl] == '\n' || !s[kl]))
            found = n;
    }
    fclose(f);
    return found;
}

static int fail(const char *path, const char *key, char *err, size_t errlen, const char *why)
{
    int line = config_line_of(path, key);
    if (line)
        snprintf(err, errlen, "%s:%d: %s: %s", path, line, key, why);
    else
        snprintf(err, errlen, "--%s: %s", key, why);
    return -1;
}

int config_validate(const relay_config_t *c, const char *path, char *err, size_t errlen)
{
    addr_t a;
    int prefix;
    char why[600];
    if (c->listen.n == 0)
        return fail(path, "listen", err, errlen, "at least one address is needed");
    for (size_t i = 0; i < c->listen.n; i++)
        if (addr_parse(c->listen.items[i], 0, &a) < 0) {
            snprintf(why, sizeof why, "'%s' is not an IP address", c->listen.items[i]);
            return fail(path, "listen", err, errlen, why);
        }
    if (*c->relay_address && (addr_parse(c->relay_address, 0, &a) < 0 || a.family != ADDR_V4))
        return fail(path, "relay-address", err, errlen, "not an IPv4 address");
    if (*c->relay_address_v6 &&
        (addr_parse(c->relay_address_v6, 0, &a) < 0 || a.family != ADDR_V6))
        return fail(path, "relay-address-v6", err, errlen, "not an IPv6 address");
    static const uint8_t zero[16] = {0};
    if (*c->relay_address && addr_parse(c->relay_address, 0, &a) == 0 && !memcmp(a.ip, zero, 4))
        return fail(path, "relay-address", err, errlen,
                    "must be a concrete address (clients are told it), not 0.0.0.0");
    if (*c->relay_address_v6 && addr_parse(c->relay_address_v6, 0, &a) == 0 && !memcmp(a.ip, zero, 16))
        return fail(path, "relay-address-v6", err, errlen,
                    "must be a concrete address (clients are told it), not ::");
    if (!*c->relay_address && !*c->relay_address_v6)
        return fail(path, "relay-address", err, errlen, "no relay address at all");
    if (c->relay_port_min > c->relay_port_max)
        return fail(path, "relay-port-min", err, errlen, "greater than relay-port-max");
    if (!*c->realm)
        return fail(path, "realm", err, errlen, "must not be empty");
    if (!c->no_auth && !*c->auth_secret_file)
        return fail(path, "auth-secret-file", err, errlen,
                    "required (or set no-auth yes, for tests and benchmarks only)");
    if (*c->auth_secret_file && access(c->auth_secret_file, R_OK) < 0)
        return fail(path, "auth-secret-file", err, errlen, "file cannot be read");
    if (!*c->tls_cert_file != !*c->tls_key_file)
        return fail(path, *c->tls_cert_file ? "tls-key-file" : "tls-cert-file", err, errlen,
                    "tls-cert-file and tls-key-file go together");
    if (*c->tls_cert_file && access(c->tls_cert_file, R_OK) < 0)
        return fail(path, "tls-cert-file", err, errlen, "file cannot be read");
    if (*c->tls_key_file && access(c->tls_key_file, R_OK) < 0)
        return fail(path, "tls-key-file", err, errlen, "file cannot be read");
    if (c->default_allocation_lifetime > c->max_allocation_lifetime)
        return fail(path, "default-allocation-lifetime", err, errlen,
                    "greater than max-allocation-lifetime");
    for (size_t i = 0; i < c->allow_peer.n; i++)
        if (addr_parse_cidr(c->allow_peer.items[i], &a, &prefix) < 0) {
            snprintf(why, sizeof why, "'%s' is not a CIDR (ip/prefix)", c->allow_peer.items[i]);
            return fail(path, "allow-peer", err, errlen, why);
        }
    for (size_t i = 0; i < c->deny_peer.n; i++)
        if (addr_parse_cidr(c->deny_peer.items[i], &a, &prefix) < 0) {
            snprintf(why, sizeof why, "'%s' is not a CIDR (ip/prefix)", c->deny_peer.items[i]);
            return fail(path, "deny-peer", err, errlen, why);
        }
    if (addr_parse(c->metrics_address, 0, &a) < 0)
        return fail(path, "metrics-address", err, errlen, "not an IP address");
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    int ok = 0;
    for (int i = 0; i < 4; i++)
        ok |= strcmp(c->log_level, levels[i]) == 0;
    if (!ok)
        return fail(path, "log-level", err, errlen, "must be error, warn, info or debug");
    if (strcmp(c->event_loop, "epoll") != 0 && strcmp(c->event_loop, "io_uring") != 0)
        return fail(path, "event-loop", err, errlen, "must be epoll or io_uring");
    return 0;
}
