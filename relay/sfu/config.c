/* config.c — see config.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

#define OFF(f) offsetof(sfu_config_t, f)
#define PORT_MAX 65535

const conf_key_t sfu_config_keys[] = {
    {"id", CONF_STR, OFF(id), NULL, 0, 0, NULL,
     "this SFU's name in Redis (sfu:alive:<id>, sfu:cmd:<id>); empty = random at start"},
    {"redis-host", CONF_STR, OFF(redis_host), "127.0.0.1", 0, 0, NULL, "Redis server address"},
    {"redis-port", CONF_INT, OFF(redis_port), "6379", 1, PORT_MAX, "port", "Redis server port"},
    {"redis-password-file", CONF_STR, OFF(redis_password_file), NULL, 0, 0, "path",
     "file holding the Redis password (first line); empty = no AUTH"},
    {"media-address", CONF_LIST, OFF(media_address), "127.0.0.1", 0, 0, NULL,
     "address ICE gathers host candidates on; repeat for several"},
    {"udp-port-min", CONF_INT, OFF(udp_port_min), "0", 0, PORT_MAX, "port",
     "lowest media UDP port (0 with udp-port-max 0 = any port)"},
    {"udp-port-max", CONF_INT, OFF(udp_port_max), "0", 0, PORT_MAX, "port", "highest media UDP port"},
    {"http-address", CONF_STR, OFF(http_address), "127.0.0.1", 0, 0, NULL,
     "address of the /metrics and /healthz listener"},
    {"http-port", CONF_INT, OFF(http_port), "0", 0, PORT_MAX, "port",
     "port of the /metrics and /healthz listener (0 = any free port, logged at start)"},
    {"heartbeat-ms", CONF_INT, OFF(heartbeat_ms), "1000", 100, 60000, "ms",
     "registration refresh period; sfu:alive:<id> expires after 3 of them"},
    {"room-max-participants", CONF_INT, OFF(room_max_participants), "25", 1, 1000, "participants",
     "participants per room on this SFU (more get room_full)"},
    {"capacity", CONF_INT, OFF(capacity), "200", 1, 100000, "participants",
     "participants this SFU accepts in total (more get unavailable); published in sfu:alive"},
    {"ice-timeout-ms", CONF_INT, OFF(ice_timeout_ms), "20000", 1000, 600000, "ms",
     "a participant whose ICE+DTLS is not up this long after its offer is dropped (gone)"},
    {"media-timeout-ms", CONF_INT, OFF(media_timeout_ms), "30000", 1000, 600000, "ms",
     "a connected participant that sends nothing this long is dropped (gone)"},
    {"dtls-cert-file", CONF_STR, OFF(dtls_cert_file), NULL, 0, 0, "path",
     "PEM certificate for DTLS (empty = an ECDSA P-256 self-signed one generated at start)"},
    {"dtls-key-file", CONF_STR, OFF(dtls_key_file), NULL, 0, 0, "path", "PEM private key for DTLS"},
    {"log-level", CONF_STR, OFF(log_level), "info", 0, 0, NULL, "error, warn, info or debug"},
    {"recordings-dir", CONF_STR, OFF(recordings_dir), "", 0, 0, "path",
     "directory that in-call recordings are written under (one subdirectory per recording); empty = none"},
    {"record-max-seconds", CONF_INT, OFF(record_max_seconds), "14400", 10, 86400, "s",
     "a recording stops by itself after this long"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* The last line of path that sets key, or 0. */
static int line_of(const char *path, const char *key)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return 0;
    char line[4096];
    int n = 0, found = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        n++;
        const char *s = line + strspn(line, " \t");
        if (strncmp(s, key, kl) == 0 && (s[kl] == ' ' || s[kl] == '\t' || s[kl] == '\n' || !s[kl]))
            found = n;
    }
    fclose(f);
    return found;
}

static int fail(const char *path, const char *key, char *err, size_t errlen, const char *why)
{
    int line = line_of(path, key);
    if (line)
        snprintf(err, errlen, "%s:%d: %s: %s", path, line, key, why);
    else
        snprintf(err, errlen, "--%s: %s", key, why);
    return -1;
}

static int id_ok(const char *id)
{
    /* The id lands in Redis key names and JSON: keep it to a plain, short alphabet. */
    size_t n = strlen(id);
    if (n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

int sfu_config_validate(const sfu_config_t *c, const char *path, char *err, size_t errlen)
{
    addr_t a;
    char why[600];
    if (!id_ok(c->id))
        return fail(path, "id", err, errlen, "at most 64 of [A-Za-z0-9._-]");
    if (!*c->redis_host)
        return fail(path, "redis-host", err, errlen, "must not be empty");
    if (*c->redis_password_file && access(c->redis_password_file, R_OK) < 0)
        return fail(path, "redis-password-file", err, errlen, "file cannot be read");
    if (c->media_address.n == 0)
        return fail(path, "media-address", err, errlen, "at least one address is needed");
    for (size_t i = 0; i < c->media_address.n; i++)
        if (addr_parse(c->media_address.items[i], 0, &a) < 0) {
            snprintf(why, sizeof why, "'%s' is not an IP address", c->media_address.items[i]);
            return fail(path, "media-address", err, errlen, why);
        }
    if ((c->udp_port_min == 0) != (c->udp_port_max == 0))
        return fail(path, "udp-port-min", err, errlen, "udp-port-min and udp-port-max are both 0 or both set");
    if (c->udp_port_min > c->udp_port_max)
        return fail(path, "udp-port-min", err, errlen, "greater than udp-port-max");
    if (addr_parse(c->http_address, 0, &a) < 0)
        return fail(path, "http-address", err, errlen, "not an IP address");
    if (!*c->dtls_cert_file != !*c->dtls_key_file)
        return fail(path, *c->dtls_cert_file ? "dtls-key-file" : "dtls-cert-file", err, errlen,
                    "dtls-cert-file and dtls-key-file go together");
    if (*c->dtls_cert_file && access(c->dtls_cert_file, R_OK) < 0)
        return fail(path, "dtls-cert-file", err, errlen, "file cannot be read");
    if (*c->dtls_key_file && access(c->dtls_key_file, R_OK) < 0)
        return fail(path, "dtls-key-file", err, errlen, "file cannot be read");
    if (*c->recordings_dir && access(c->recordings_dir, W_OK | X_OK) < 0)
        return fail(path, "recordings-dir", err, errlen, "not a writable directory");
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    int ok = 0;
    for (int i = 0; i < 4; i++)
        ok |= strcmp(c->log_level, levels[i]) == 0;
    if (!ok)
        return fail(path, "log-level", err, errlen, "must be error, warn, info or debug");
    return 0;
}
