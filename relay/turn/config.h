/* config.h — staffroom-relay's configuration: the key table and cross-key validation.
 *
 * Owns: the list of keys (names, types, defaults, ranges, units, help), which drives file parsing,
 * flags, --help and --check-config through base/conf.
 * Must not: open sockets or read anything but the config file (to locate a key's line for errors).
 */
#ifndef STAFFROOM_RELAY_CONFIG_H
#define STAFFROOM_RELAY_CONFIG_H

#include <stddef.h>

#include "conf.h"

typedef struct {
    conf_list_t listen;
    long long listen_port, tls_listen_port;
    char *tls_cert_file, *tls_key_file;
    char *relay_address, *relay_address_v6;
    long long relay_port_min, relay_port_max;
    char *realm;
    char *auth_secret_file;
    int no_auth;
    long long nonce_lifetime;
    long long default_allocation_lifetime, max_allocation_lifetime;
    long long user_quota, total_quota;
    long long bandwidth_limit;
    int allow_loopback_peers;
    conf_list_t allow_peer, deny_peer;
    long long threads;
    long long batch_wait_us;
    char *event_loop;
    char *metrics_address;
    long long metrics_port;
    char *log_level;
} relay_config_t;

extern const conf_key_t config_keys[];

/* Checks what the table cannot: addresses, CIDRs, key pairs, files, ranges between keys.
 * path (may be NULL) is the config file, used to name the line of the offending key.
 * Returns 0, or -1 with err as "FILE:LINE: KEY: reason" (or "--KEY: reason"). */
int config_validate(const relay_config_t *cfg, const char *path, char *err, size_t errlen);

#endif
