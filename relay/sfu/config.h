/* config.h — staffroom-sfu's configuration: the key table and cross-key validation.
 *
 * Owns: the list of keys (names, types, defaults, ranges, units, help) that drives file parsing, flags,
 * --help and --check-config through base/conf. config/staffroom-sfu.conf documents every key again.
 * Must not: open sockets, or read any file but the config file (to name a key's line in errors) and
 * the files whose readability it checks.
 */
#ifndef STAFFROOM_SFU_CONFIG_H
#define STAFFROOM_SFU_CONFIG_H

#include <stddef.h>

#include "conf.h"

typedef struct {
    char *id;
    char *redis_host;
    long long redis_port;
    char *redis_password_file;
    conf_list_t media_address;
    long long udp_port_min, udp_port_max;
    char *http_address;
    long long http_port;
    long long heartbeat_ms;
    long long room_max_participants;
    long long capacity;
    long long ice_timeout_ms;
    long long media_timeout_ms;
    char *dtls_cert_file, *dtls_key_file;
    char *log_level;
    char *recordings_dir;
    long long record_max_seconds;
} sfu_config_t;

extern const conf_key_t sfu_config_keys[];

/* Checks what the table cannot: addresses, key pairs, files, ranges between keys. path (may be NULL)
 * is the config file, used to name the offending line. Returns 0, or -1 with err filled. */
int sfu_config_validate(const sfu_config_t *cfg, const char *path, char *err, size_t errlen);

#endif
