/* config.c — see config.h. Every key lives in this one table: its default, range, unit and help line
 * are what --help prints and what config/staffroom-signal.conf documents. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define K(name, type, field, def, min, max, unit, help) \
    { name, type, offsetof(signal_config_t, field), def, min, max, unit, help }

const conf_key_t signal_config_keys[] = {
    K("listen-address", CONF_STR, listen_address, "127.0.0.1", 0, 0, NULL, "address to listen on (HTTP and WebSocket)"),
    K("listen-port", CONF_INT, listen_port, "8080", 1, 65535, NULL, "TCP port to listen on"),
    K("trusted-proxy", CONF_LIST, trusted_proxy, NULL, 0, 0, NULL, "address of a reverse proxy in front of the node (repeatable): for connections from it, the client's address is its X-Real-IP (or the last X-Forwarded-For entry)"),
    K("web-root", CONF_STR, web_root, "webclient", 0, 0, NULL, "directory of the web client's static files"),
    K("tzdata-file", CONF_STR, tzdata_file, "/usr/share/zoneinfo/tzdata.zi", 0, 0, NULL, "the tz database's zone list (text form), read at start-up: the time zones users may choose"),
    K("max-clients", CONF_INT, max_clients, "0", 0, 10000000, "connections", "WebSocket connections accepted at once; 0: as many as the file limit allows (raised to its hard limit at start, less 64 for Redis, the listener and files); a larger value is lowered to that"),
    K("max-frame-bytes", CONF_INT, max_frame_bytes, "65536", 256, 16777216, "bytes", "largest request frame; larger ones get too_large and the connection is closed"),
    K("send-queue-max-bytes", CONF_INT, send_queue_max_bytes, "4194304", 4096, 1073741824, "bytes", "unsent data per connection before a slow client is disconnected"),
    K("send-queue-total-max-bytes", CONF_INT, send_queue_total_max_bytes, "268435456", 65536, 1099511627776, "bytes", "unsent data of all connections together; the connection whose frame does not fit is disconnected as a slow client"),
    K("ping-interval", CONF_INT, ping_interval, "20", 1, 3600, "seconds", "idle time before the server pings a WebSocket"),
    K("ping-timeout", CONF_INT, ping_timeout, "40", 2, 7200, "seconds", "idle time (no frame, no pong) before a WebSocket is dropped"),
    K("redis-host", CONF_STR, redis_host, "127.0.0.1", 0, 0, NULL, "Redis host"),
    K("redis-port", CONF_INT, redis_port, "6379", 1, 65535, NULL, "Redis port"),
    K("redis-password-file", CONF_STR, redis_password_file, NULL, 0, 0, NULL, "file holding the Redis password (first line); empty: no AUTH"),
    /* Liveness of Redis: store.c. */
    K("redis-ping-interval", CONF_INT, redis_ping_interval, "1000", 100, 60000, "milliseconds", "a quiet Redis connection is PINGed this often (and the pub/sub connection gets a heartbeat)"),
    K("redis-sentinel", CONF_LIST, redis_sentinel, NULL, 0, 0, NULL, "host:port of a Redis Sentinel (repeatable: name every Sentinel); none: Redis at redis-host/redis-port"),
    K("redis-sentinel-password-file", CONF_STR, redis_sentinel_password_file, NULL, 0, 0, NULL, "file holding the Sentinels' password (first line; their requirepass), sent with AUTH before asking them; empty: no AUTH. The master's own password is redis-password-file"),
    K("redis-master-name", CONF_STR, redis_master_name, "staffroom", 0, 0, NULL, "the master's name the Sentinels monitor (sentinel monitor NAME …)"),
    K("chat-wait-replicas", CONF_INT, chat_wait_replicas, "0", 0, 16, "replicas", "a chat message is acknowledged only once this many replicas have it (WAIT); 0: once the master has it"),
    K("chat-wait-timeout", CONF_INT, chat_wait_timeout, "1000", 10, 60000, "milliseconds", "how long a chat message waits for chat-wait-replicas; short of them it is answered unavailable"),
    K("redis-timeout", CONF_INT, redis_timeout, "3000", 200, 600000, "milliseconds", "a Redis connection with a command unanswered this long is dropped and reconnected; requests waiting on it answer unavailable"),
    K("login-rate", CONF_INT, login_rate, "30", 1, 1000000, "per minute", "sign-in attempts (register, login, resume, password change) per IP address (per /64 for IPv6) and, for login and password change, per account; counted in Redis for the whole community"),
    K("login-burst", CONF_INT, login_burst, "30", 1, 1000000, "attempts", "sign-in attempts allowed at once per address (and per account)"),
    K("message-rate", CONF_INT, message_rate, "120", 1, 1000000, "per minute", "rate-limited messages (chat) per user"),
    K("message-burst", CONF_INT, message_burst, "20", 1, 1000000, "messages", "rate-limited messages allowed at once per user"),
    K("signal-rate", CONF_INT, signal_rate, "3000", 1, 1000000, "per minute", "call and room signals, typing, presence and room changes per user"),
    K("signal-burst", CONF_INT, signal_burst, "400", 1, 1000000, "signals", "signals allowed at once per user (a room join sends an offer and candidates to every participant)"),
    K("request-rate", CONF_INT, request_rate, "1200", 1, 1000000, "per minute", "every other request (reads, joins, answers) per user, or per IP address before sign-in"),
    K("request-burst", CONF_INT, request_burst, "300", 1, 1000000, "requests", "other requests allowed at once per user (a client opening a circle sends a dozen)"),
    K("max-inflight", CONF_INT, max_inflight, "32", 1, 100000, "requests", "requests of one connection waiting for their answer; at the cap the server stops reading that connection"),
    K("hash-queue-max", CONF_INT, hash_queue_max, "64", 1, 100000, "jobs", "password hashes (register, login) queued or running at once; over it a sign-in is answered unavailable with a retry hint"),
    K("token-lifetime", CONF_INT, token_lifetime, "2592000", 60, 31536000, "seconds", "session token lifetime (30 days)"),
    K("presence-ttl", CONF_INT, presence_ttl, "45", 2, 3600, "seconds", "a device not refreshed for this long is offline (refreshed every ttl/3)"),
    K("presence-coalesce-ms", CONF_INT, presence_coalesce_ms, "50", 0, 5000, "milliseconds", "presence events to a circle arriving within this window are delivered together, a user's latest status only (0: at once)"),
    K("presence-sweep-interval", CONF_INT, presence_sweep_interval, "3000", 100, 60000, "milliseconds", "how often this node sweeps expired devices"),
    K("node-id", CONF_STR, node_id, NULL, 0, 0, NULL, "this node's name ([A-Za-z0-9_.-], unique per community); empty: hostname-pid"),
    K("log-level", CONF_STR, log_level, "info", 0, 0, NULL, "error, warn, info or debug"),
    /* Relay credentials: used by turn.c (turn.credentials). */
    K("turn-secret-file", CONF_STR, turn_secret_file, NULL, 0, 0, NULL, "file holding the TURN shared secret (first line), as in staffroom-relay"),
    K("turn-urls", CONF_LIST, turn_urls, NULL, 0, 0, NULL, "a TURN/STUN URL handed to clients (repeatable); none: turn:127.0.0.1:3478 over UDP and TCP"),
    K("turn-credential-ttl", CONF_INT, turn_credential_ttl, "3600", 60, 604800, "seconds", "lifetime of TURN credentials"),
    /* Calls and drop-in rooms: calls.c, rooms.c. */
    K("call-ring-timeout", CONF_INT, call_ring_timeout, "45", 1, 3600, "seconds", "an unanswered call ends (reason timeout) after this long"),
    /* Help requests: help.c. */
    K("help-timeout", CONF_INT, help_timeout, "180", 1, 86400, "seconds", "a help request nobody accepts for this long is unanswered (the requester is told)"),
    K("help-sweep-interval", CONF_INT, help_sweep_interval, "500", 50, 60000, "milliseconds", "how often this node looks for timed-out help requests (every node does; each timeout is handled once)"),
    K("room-max-participants", CONF_INT, room_max_participants, "25", 2, 50, "participants", "devices in one drop-in room at once; one more gets room_full (keep it at 6 or less with room-media mesh)"),
    K("room-media", CONF_STR, room_media, "sfu", 0, 0, NULL, "how rooms carry media: sfu (through staffroom-sfu) or mesh (browser to browser, no SFU needed)"),
    K("sfu-request-timeout", CONF_INT, sfu_request_timeout, "5000", 100, 60000, "milliseconds", "a room.media request waits this long for the SFU's reply, then is answered unavailable"),
    K("sfu-check-interval", CONF_INT, sfu_check_interval, "1000", 100, 60000, "milliseconds", "how often this node checks that the SFUs serving its room participants are alive"),
    K("room-participant-ttl", CONF_INT, room_participant_ttl, "15", 3, 3600, "seconds", "a room participant whose node stops refreshing it (every ttl/3) leaves the room after this long"),
    /* Scheduled mentoring: used by schedule.c. */
    K("reminder-offsets", CONF_STR, reminder_offsets, "15,1", 0, 0, "minutes", "reminders before a mentoring session, comma-separated (an item ending in s is in seconds)"),
    K("schedule-tick", CONF_INT, schedule_tick, "1000", 50, 60000, "milliseconds", "how often this node claims due reminders"),
    /* PostgreSQL archive: pg.c, archive.c. */
    K("postgres-conninfo-file", CONF_STR, postgres_conninfo_file, NULL, 0, 0, NULL, "file holding the PostgreSQL connection string (libpq's key=value or postgresql:// URI, first line; it may hold a password); empty: no archive, chat stays in Redis only"),
    K("postgres-retry-max", CONF_INT, postgres_retry_max, "5000", 100, 600000, "milliseconds", "the longest wait between two attempts to reach PostgreSQL (the wait doubles from 100 ms up to this)"),
    K("postgres-timeout", CONF_INT, postgres_timeout, "5000", 100, 600000, "milliseconds", "a connection attempt or a query (not a migration) that takes longer is given up: the connection is dropped and made again; requests waiting on it answer unavailable"),
    K("archive-keep", CONF_INT, archive_keep, "1000", 1, 100000000, "messages", "messages kept in each channel's Redis stream; older ones move to PostgreSQL (with postgres-conninfo-file)"),
    K("archive-interval", CONF_INT, archive_interval, "2000", 20, 3600000, "milliseconds", "how often the community's archiver (one node at a time) looks for messages to move"),
    K("archive-batch", CONF_INT, archive_batch, "500", 1, 5000, "messages", "messages moved per channel in one archiver step"),
    K("archive-lock-ttl", CONF_INT, archive_lock_ttl, "15000", 1000, 3600000, "milliseconds", "the archiver's lock in Redis expires this long after its last renewal (a node that died stops archiving for at most this long)"),
    K("search-phrase-scan", CONF_INT, search_phrase_scan, "50000", 1, 100000000, "messages", "chat.search looks for a phrase of frequent words by reading back at most this many of the newest messages it may search; if they hold fewer than 200 matches it uses the full-text index instead"),
    /* Lesson clips: media.c, upload.c. */
    K("media-dir", CONF_STR, media_dir, "var/media", 0, 0, NULL, "directory of uploaded clips (created if missing; partial uploads live there too, as <id>.part)"),
    K("upload-max-bytes", CONF_INT, upload_max_bytes, "2147483648", 1024, 1099511627776, "bytes", "largest clip a user may upload (2 GiB); a larger declared size is refused with too_large"),
    K("file-max-bytes", CONF_INT, file_max_bytes, "52428800", 1024, 1099511627776, "bytes", "largest document (PDF, OpenDocument, Office) a user may upload for the library (50 MiB); a larger declared size is refused with too_large"),
    K("user-quota-bytes", CONF_INT, user_quota_bytes, "10737418240", 1024, 1099511627776, "bytes", "a user's clips and documents together, uploads in progress counted at their declared size (10 GiB); over it: quota_exceeded"),
    K("upload-expiry", CONF_INT, upload_expiry, "86400", 10, 2592000, "seconds", "an upload that receives no chunk for this long is deleted with its partial file"),
    K("media-token-ttl", CONF_INT, media_token_ttl, "3600", 10, 604800, "seconds", "lifetime of a signed media URL (the <video src> of a clip); every access is still checked against who may view it"),
    {0},
};

static const signal_config_t *current;

const signal_config_t *config_get(void) { return current; }
void config_set_current(const signal_config_t *cfg) { current = cfg; }

int signal_config_check(const signal_config_t *cfg, char *err, size_t errlen)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    int ok = 0;
    for (size_t i = 0; i < 4; i++)
        ok |= strcmp(cfg->log_level, levels[i]) == 0;
    if (!ok) {
        snprintf(err, errlen, "key 'log-level': '%s' is not error, warn, info or debug", cfg->log_level);
        return -1;
    }
    for (const char *p = cfg->node_id; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p)) {
            snprintf(err, errlen, "key 'node-id': only letters, digits, '_', '.' and '-' are allowed");
            return -1;
        }
    }
    if (strlen(cfg->node_id) > 64) {
        snprintf(err, errlen, "key 'node-id': longer than 64 characters");
        return -1;
    }
    if (cfg->chat_wait_replicas && cfg->chat_wait_timeout >= cfg->redis_timeout) {
        snprintf(err, errlen, "key 'chat-wait-timeout': must be smaller than redis-timeout (%lld)", cfg->redis_timeout);
        return -1;
    }
    for (size_t i = 0; i < cfg->redis_sentinel.n; i++) {
        const char *colon = strrchr(cfg->redis_sentinel.items[i], ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!colon || colon == cfg->redis_sentinel.items[i] || port < 1 || port > 65535) {
            snprintf(err, errlen, "key 'redis-sentinel': '%s' is not host:port", cfg->redis_sentinel.items[i]);
            return -1;
        }
    }
    if (cfg->redis_sentinel.n && !*cfg->redis_master_name) {
        snprintf(err, errlen, "key 'redis-master-name': needed with redis-sentinel");
        return -1;
    }
    if (cfg->ping_timeout <= cfg->ping_interval) {
        snprintf(err, errlen, "key 'ping-timeout': must be larger than ping-interval (%lld)", cfg->ping_interval);
        return -1;
    }
    if (strcmp(cfg->room_media, "sfu") != 0 && strcmp(cfg->room_media, "mesh") != 0) {
        snprintf(err, errlen, "key 'room-media': '%s' is not sfu or mesh", cfg->room_media);
        return -1;
    }
    long long offsets[CONFIG_MAX_REMINDERS];
    if (config_reminder_offsets(cfg->reminder_offsets, offsets) < 0) {
        snprintf(err, errlen, "key 'reminder-offsets': comma-separated minutes (or seconds with s), at most %d, each up to a week",
                 CONFIG_MAX_REMINDERS);
        return -1;
    }
    if (!*cfg->listen_address || !*cfg->redis_host) {
        snprintf(err, errlen, "key '%s': must not be empty", *cfg->listen_address ? "redis-host" : "listen-address");
        return -1;
    }
    return 0;
}

int signal_config_load(signal_config_t *cfg, int argc, char **argv, int *rest, int *nrest, char *err,
                       size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    if (conf_defaults(signal_config_keys, cfg, err, errlen) < 0)
        return -1;
    const char *file = conf_find_arg(argc, argv, "config");
    if (file && conf_load_file(signal_config_keys, cfg, file, err, errlen) < 0)
        return -1;
    if (conf_apply_args(signal_config_keys, cfg, argc, argv, rest, nrest, err, errlen) < 0)
        return -1;
    if (signal_config_check(cfg, err, errlen) < 0) {
        /* Name the file when the value came from one; flags are named by the check itself. */
        if (file) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s: %s", file, err);
            snprintf(err, errlen, "%s", tmp);
        }
        return -1;
    }
    return 0;
}

int config_reminder_offsets(const char *s, long long out[CONFIG_MAX_REMINDERS])
{
    int n = 0;
    while (s && *s) {
        char *end;
        if (!isdigit((unsigned char)*s) || n == CONFIG_MAX_REMINDERS)
            return -1;
        long long v = strtoll(s, &end, 10);
        if (*end == 's')
            end++;
        else
            v *= 60;
        if (v <= 0 || v > 7 * 86400 || (*end && *end != ',') || (*end == ',' && !end[1]))
            return -1;
        out[n++] = v;
        s = *end ? end + 1 : end;
    }
    return n;
}

long long config_max_clients(long long configured, long long nofile)
{
    long long allowed = nofile - CONFIG_FD_RESERVE;
    if (allowed < 1)
        allowed = 1;
    return configured > 0 && configured < allowed ? configured : allowed;
}

void signal_config_free(signal_config_t *cfg)
{
    conf_free(signal_config_keys, cfg);
}
