/* config.h — staffroom-signal's configuration: one conf_key_t table (relay/base/conf.h) drives the
 * config file, the --key flags, --help and --check-config.
 *
 * Owns: signal_config_t and its table, semantic checks across keys, the process-wide current config.
 * Must not: open sockets or read secrets (secret *files* are read by the module that uses them).
 */
#ifndef STAFFROOM_SIGNAL_CONFIG_H
#define STAFFROOM_SIGNAL_CONFIG_H

#include <stddef.h>

#include "conf.h"

typedef struct {
    /* network and HTTP */
    char *listen_address;
    long long listen_port;
    char *web_root;
    char *tzdata_file;
    long long max_clients;       /* 0 in the file: what the file limit allows (config_max_clients) */
    long long max_frame_bytes;
    long long send_queue_max_bytes;
    long long send_queue_total_max_bytes; /* all connections' send queues together */
    long long ping_interval;     /* seconds idle before lws sends a WebSocket PING */
    long long ping_timeout;      /* seconds without any sign of life before a socket is dropped */
    /* Redis */
    conf_list_t trusted_proxy;     /* reverse proxies whose X-Real-IP / X-Forwarded-For is believed */
    char *redis_host;
    long long redis_port;
    char *redis_password_file;
    long long redis_ping_interval; /* milliseconds between PINGs of a quiet Redis connection */
    long long redis_timeout;       /* milliseconds a command may stay unanswered before the connection is dropped */
    conf_list_t redis_sentinel;    /* "host:port" of each Sentinel; empty: the fixed address */
    char *redis_sentinel_password_file; /* the Sentinels' requirepass; empty: none */
    char *redis_master_name;       /* the name the Sentinels monitor */
    long long chat_wait_replicas;  /* WAIT for this many replicas before a chat message is acknowledged */
    long long chat_wait_timeout;   /* milliseconds that WAIT may take */
    /* limits */
    long long login_rate;        /* per minute, per IP */
    long long login_burst;
    long long message_rate;      /* per minute, per user */
    long long message_burst;
    long long signal_rate;       /* per minute, per user: call.signal, room.signal, chat.typing, … */
    long long signal_burst;
    long long request_rate;      /* per minute, per user (per IP before sign-in): every other request type */
    long long request_burst;
    long long max_inflight;      /* requests in flight per connection before reading pauses */
    long long hash_queue_max;
    long long presence_coalesce_ms; /* window in which a circle's presence events are held and merged */    /* Argon2id jobs queued or running at once */
    /* accounts and presence */
    long long token_lifetime;    /* seconds */
    long long presence_ttl;      /* seconds */
    long long presence_sweep_interval; /* milliseconds */
    /* node and logs */
    char *node_id;
    char *log_level;
    /* relay credentials (turn.c) */
    char *turn_secret_file;
    conf_list_t turn_urls;
    long long turn_credential_ttl;
    /* calls and rooms (calls.c, rooms.c) */
    long long call_ring_timeout;      /* seconds */
    /* help requests (help.c) */
    long long help_timeout;           /* seconds an open help request waits for an accept */
    long long help_sweep_interval;    /* milliseconds between this node's sweeps of help deadlines */
    long long room_max_participants;
    long long room_participant_ttl;   /* seconds */
    char *room_media;                 /* "sfu" or "mesh" */
    long long sfu_request_timeout;    /* milliseconds a room.media request waits for the SFU */
    long long sfu_check_interval;     /* milliseconds between checks of the SFUs' sfu:alive: keys */
    /* scheduled mentoring (schedule.c) */
    char *reminder_offsets;      /* "15,1": minutes before a session (an item may end in s: seconds) */
    long long schedule_tick;     /* milliseconds between two "claim due reminders" runs on this node */
    /* PostgreSQL archive: pg.c, archive.c. */
    char *postgres_conninfo_file; /* file holding the libpq connection string; empty: no archive */
    long long postgres_retry_max; /* milliseconds: the longest wait between two connection attempts */
    long long postgres_timeout;   /* milliseconds: a connection attempt or query longer than this is dropped */
    long long archive_keep;       /* messages kept in each channel's Redis stream (the hot window) */
    long long archive_interval;   /* milliseconds between two archiver rounds */
    long long archive_batch;      /* messages copied per channel per round */
    long long archive_lock_ttl;   /* milliseconds: the community's archiver lock lives this long unless renewed */
    long long search_phrase_scan; /* rows chat.search walks back newest first for a phrase of frequent words */
    /* lesson clips: media.c, upload.c */
    char *media_dir;              /* where clips are stored (partial uploads too) */
    long long upload_max_bytes;   /* largest clip */
    long long file_max_bytes;     /* largest document (a library file: PDF, OpenDocument, Office) */
    long long user_quota_bytes;   /* a user's clips and files together, uploads in progress included */
    long long upload_expiry;      /* seconds an upload may rest between two chunks before it is deleted */
    long long media_token_ttl;    /* seconds a media URL (a <video src>) stays valid */
} signal_config_t;

/* The table; ends with {NULL}. */
extern const conf_key_t signal_config_keys[];

/* Defaults, then --config FILE, then flags. Arguments that are not config keys are written to rest[]
 * (indexes into argv) and *nrest. Then checks across keys (signal_config_check). Returns 0, or -1 with
 * err ("FILE:LINE: key 'NAME': reason" or "--NAME: reason"). On -1 the caller still calls
 * signal_config_free. */
int signal_config_load(signal_config_t *cfg, int argc, char **argv, int *rest, int *nrest, char *err,
                       size_t errlen);

/* Checks that need more than one key or more than a range (log level name, node id charset). */
int signal_config_check(const signal_config_t *cfg, char *err, size_t errlen);

void signal_config_free(signal_config_t *cfg);

#define CONFIG_MAX_REMINDERS 8
/* Parses a reminder-offsets value ("15,1", "90s,5"): comma-separated positive integers, minutes unless
 * suffixed with s (seconds); up to CONFIG_MAX_REMINDERS, each at most a week. Writes seconds into out and
 * returns how many, or -1 if malformed. */
int config_reminder_offsets(const char *s, long long out[CONFIG_MAX_REMINDERS]);

/* File descriptors kept back from the file limit for Redis, the listener, files and lws's own. */
#define CONFIG_FD_RESERVE 64
/* The connections this process accepts: configured (0: no cap of its own) limited by nofile, the
 * process's file limit, less CONFIG_FD_RESERVE (at least 1). Pure; main.c raises the limit first. */
long long config_max_clients(long long configured, long long nofile);

/* The running process's config (set once by main before anything starts; borrowed). */
const signal_config_t *config_get(void);
void config_set_current(const signal_config_t *cfg);

#endif
