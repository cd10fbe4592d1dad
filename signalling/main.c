/* main.c — staffroom-signal: arguments, config, signals, loop wiring. No protocol logic here.
 *
 * Start-up may block (reading files); once uv_run starts, nothing does. Shutdown (SIGTERM/SIGINT):
 * close every connection (their devices leave presence), stop timers, flush Redis, let every handle
 * close, free everything, exit 0. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "accounts.h"
#include "archive.h"
#include "pg.h"
#include "search.h"
#include "bus.h"
#include "calls.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "channels.h"
#include "circles.h"
#include "help.h"
#include "log.h"
#include "comments.h"
#include "media.h"
#include "mentoring.h"
#include "metrics.h"
#include "moderation.h"
#include "module.h"
#include "presence.h"
#include "readmark.h"
#include "record.h"
#include "rooms.h"
#include "schedule.h"
#include "turn.h"
#include "store.h"
#include "tz.h"
#include "ws.h"

#define VERSION "0.1.0"

static uv_signal_t sig_term, sig_int;
static uv_timer_t drain;
static int stopping, drain_ticks;

#define DRAIN_TICK_MS 20
#define DRAIN_FORCE_TICKS 50   /* after 1 s, drop connections that did not close */
#define DRAIN_GIVEUP_TICKS 100 /* after 2 s, destroy whatever is left */

static void finish_stop(void)
{
    ws_stop();
    module_stop_all(); /* after the connections: their calls ended (disconnected), their rooms were left */
    store_close(); /* sends what is queued (presence removals), then disconnects */
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

/* Waits for the WebSockets to close before destroying lws's context. */
static void drain_tick(uv_timer_t *t)
{
    drain_ticks++;
    size_t open = ws_close_all(drain_ticks >= DRAIN_FORCE_TICKS);
    if (open == 0 || drain_ticks >= DRAIN_GIVEUP_TICKS) {
        uv_close((uv_handle_t *)t, NULL);
        finish_stop();
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: staffroom-signal [--config FILE] [--KEY VALUE ...]\n"
            "       staffroom-signal --check-config [--config FILE] [--KEY VALUE ...]\n"
            "       staffroom-signal --create-admin NAME   (password: one line on stdin)\n"
            "       staffroom-signal --help | --version\n\n"
            "The signalling server of Staffroom: HTTP (web client, /healthz, /metrics, /ics) and the WebSocket /ws.\n"
            "At start the soft file limit (ulimit -n) is raised to the hard one; max-clients 0 follows it.\n"
            "Flags override the config file. Keys:\n");
    conf_print_help(signal_config_keys, out);
}

/* Reads the first line of a secret file into buf. Returns 0, or -1 with a message in err. */
static int read_secret(const char *path, char *buf, size_t n, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(buf, (int)n, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) {
        snprintf(err, errlen, "%s: empty", path);
        return -1;
    }
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (stopping)
        return;
    stopping = 1;
    log_info("signal %d: shutting down (%zu connections)", signum, conn_count());
    /* Close every connection first (their devices leave presence), then tear down. */
    ws_close_all(0);
    uv_timer_init(uv_handle_get_loop((uv_handle_t *)h), &drain);
    uv_timer_start(&drain, drain_tick, 0, DRAIN_TICK_MS);
}

static void close_leftover(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        log_warn("closing a leftover handle of type %s", uv_handle_type_name(uv_handle_get_type(h)));
        uv_close(h, NULL);
    }
}

static void loop_finish(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) == UV_EBUSY) {
        uv_walk(loop, close_leftover, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_loop_close(loop);
    }
}

typedef struct {
    int help, version, check, bad;
    const char *admin;
} opts_t;

static void parse_rest(int argc, char **argv, const int *rest, int nrest, opts_t *o)
{
    for (int i = 0; i < nrest; i++) {
        const char *a = argv[rest[i]];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            o->help = 1;
        else if (!strcmp(a, "--version"))
            o->version = 1;
        else if (!strcmp(a, "--check-config"))
            o->check = 1;
        else if (!strcmp(a, "--config") && i + 1 < nrest && rest[i + 1] == rest[i] + 1)
            i++; /* already read by signal_config_load */
        else if (!strncmp(a, "--config=", 9))
            ;
        else if (!strcmp(a, "--create-admin") && i + 1 < nrest && rest[i + 1] == rest[i] + 1)
            o->admin = argv[rest[++i]];
        else {
            fprintf(stderr, "staffroom-signal: unknown option '%s' (see --help)\n", a);
            o->bad = 1;
        }
    }
    (void)argc;
}

static int read_admin_password(char *buf, size_t n)
{
    if (!fgets(buf, (int)n, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* The "listening on" line is what scripts and tests wait for before they connect: it is written once the
 * socket listens and Redis is up, or after READY_WAIT_MS without Redis (the node serves anyway and
 * answers `unavailable` until Redis comes). Written whatever the log level. */
#define READY_TICK_MS 20
#define READY_WAIT_MS 3000
static uv_timer_t ready;
static int ready_waited;

static void ready_tick(uv_timer_t *t)
{
    const signal_config_t *cfg = t->data;
    if (!store_is_up() && ready_waited < READY_WAIT_MS && !stopping) {
        ready_waited += READY_TICK_MS;
        return;
    }
    fprintf(stderr, "staffroom-signal listening on http://%s:%lld (node %s, Redis %s:%lld%s)\n", cfg->listen_address,
            cfg->listen_port, cfg->node_id, cfg->redis_host, cfg->redis_port, store_is_up() ? "" : ", not reachable yet");
    uv_close((uv_handle_t *)t, NULL);
}

/* Every feature of the server, in the order their connection-gone observers run and they start (they
 * stop in reverse): calls and rooms change a device's status before presence removes the device. This
 * is the only list of features in the program; a feature missing here is missing from the server. */
static const module_t *const features[] = {
    &archive_module, &search_module, /* the chat archive (PostgreSQL): no connection-gone observers */
    &accounts_module, &circles_module, &channels_module, &turn_module, &mentoring_module,
    &calls_module,    &rooms_module,   &help_module,     &schedule_module, &moderation_module,
    &readmark_module, &presence_module, &record_module,
    &media_module, &comments_module, /* lesson clips and their comments (PostgreSQL): no connection-gone observers */
};

static int register_features(void)
{
    for (size_t i = 0; i < sizeof features / sizeof *features; i++)
        if (module_register(features[i]) < 0)
            return -1;
    return 0;
}

/* ---- HTTP routes served by this program itself (ws.h) ---- */

static void route_healthz(ws_http_req_t *req, void *arg)
{
    const signal_config_t *cfg = arg;
    if (strcmp(ws_http_path(req), "/healthz") != 0) {
        ws_http_answer(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
        return;
    }
    int up = store_is_up();
    char body[256];
    /* PostgreSQL (the chat archive) is reported but does not make the node unhealthy: chat goes on in Redis. */
    int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"redis\":%s,%s\"connections\":%zu,\"node\":\"%s\"}\n",
                     up ? "ok" : "unavailable", up ? "true" : "false",
                     !archive_enabled() ? "" : pg_is_up() ? "\"postgres\":true," : "\"postgres\":false,", conn_count(),
                     cfg->node_id);
    ws_http_answer(req, up ? 200 : 503, "application/json", body, (size_t)n);
}

static void route_metrics(ws_http_req_t *req, void *arg)
{
    (void)arg;
    size_t n;
    char *text = strcmp(ws_http_path(req), "/metrics") == 0 ? metrics_render(store_is_up(), &n) : NULL;
    if (text)
        ws_http_answer(req, 200, "text/plain; version=0.0.4", text, n);
    else
        ws_http_answer(req, 404, "text/plain; charset=utf-8", "not found\n", 10);
    free(text);
}

/* Raises the soft file limit to the hard one (lws sizes its fd table from it when its context is
 * created, so this comes first) and derives max-clients from it: 0 means "what the limit allows". lws
 * gives up on limits above ten million, so the raise stops at a million. */
#define NOFILE_CEILING 1048576
static void apply_file_limit(signal_config_t *cfg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > NOFILE_CEILING ? NOFILE_CEILING : rl.rlim_max;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                getrlimit(RLIMIT_NOFILE, &rl);
        }
    } else {
        rl.rlim_cur = 1024;
    }
    long long nofile = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > NOFILE_CEILING ? NOFILE_CEILING : (long long)rl.rlim_cur;
    long long eff = config_max_clients(cfg->max_clients, nofile);
    if (cfg->max_clients > eff)
        log_warn("max-clients %lld is more than the file limit allows (%lld open files): using %lld", cfg->max_clients,
                 nofile, eff);
    cfg->max_clients = eff;
}

static int run_server(uv_loop_t *loop, signal_config_t *cfg)
{
    /* Zone names are read now, before the loop runs, so checking a user's time zone is no file I/O. */
    if (tz_names_load(cfg->tzdata_file) <= 0)
        log_warn("time zones: cannot read zone names from %s: every time zone will be refused", cfg->tzdata_file);
    if (register_features() < 0 || ws_route_add("/healthz", route_healthz, cfg) < 0 ||
        ws_route_add("/metrics", route_metrics, NULL) < 0 || module_add_routes() < 0 || dispatch_init() < 0 ||
        bus_init(cfg->node_id) < 0 || ws_start(loop, cfg) < 0) {
        store_close();
        return 1;
    }
    if (module_start_all(loop) < 0) {
        ws_stop();
        store_close();
        return 1;
    }
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_timer_init(loop, &ready);
    ready.data = cfg;
    uv_timer_start(&ready, ready_tick, 0, READY_TICK_MS);
    return 0;
}

int main(int argc, char **argv)
{
    log_init("staffroom-signal");
    signal_config_t cfg;
    char err[1024];
    int *rest = calloc((size_t)argc + 1, sizeof *rest), nrest = 0, rc = 0;
    opts_t o = {0};
    if (!rest)
        return 1;
    if (signal_config_load(&cfg, argc, argv, rest, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-signal: %s\n", err);
        rc = 2;
        goto out;
    }
    parse_rest(argc, argv, rest, nrest, &o);
    if (o.bad) {
        rc = 2;
        goto out;
    }
    if (o.help || o.version) {
        if (o.version)
            printf("staffroom-signal %s\n", VERSION);
        else
            usage(stdout);
        goto out;
    }
    log_set_level_name(cfg.log_level);
    if (!cfg.node_id[0]) {
        char host[64] = "node", id[96];
        gethostname(host, sizeof host - 1);
        host[strcspn(host, ".")] = '\0';
        snprintf(id, sizeof id, "%s-%d", host, (int)getpid());
        conf_set(signal_config_keys, &cfg, "node-id", id, err, sizeof err);
    }
    apply_file_limit(&cfg);
    config_set_current(&cfg);

    char password[512] = "";
    if (cfg.redis_password_file[0] &&
        read_secret(cfg.redis_password_file, password, sizeof password, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-signal: key 'redis-password-file': %s\n", err);
        rc = 2;
        goto out;
    }
    char sentinel_password[512] = "";
    if (cfg.redis_sentinel_password_file[0] &&
        read_secret(cfg.redis_sentinel_password_file, sentinel_password, sizeof sentinel_password, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-signal: key 'redis-sentinel-password-file': %s\n", err);
        rc = 2;
        goto out;
    }
    if (o.check) {
        char secret[512];
        if (cfg.turn_secret_file[0] && read_secret(cfg.turn_secret_file, secret, sizeof secret, err, sizeof err) < 0) {
            fprintf(stderr, "staffroom-signal: key 'turn-secret-file': %s\n", err);
            rc = 2;
            goto out;
        }
        sodium_memzero(secret, sizeof secret);
        conf_print_values(signal_config_keys, &cfg, stdout);
        printf("# configuration OK\n");
        goto out;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "staffroom-signal: libsodium failed to initialise\n");
        rc = 1;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    uv_loop_init(&loop);
    store_set_handlers(bus_on_message, bus_on_sub_up, presence_on_store_up);
    store_set_liveness((unsigned)cfg.redis_ping_interval, (unsigned)cfg.redis_timeout);
    store_set_durability((unsigned)cfg.chat_wait_replicas, (unsigned)cfg.chat_wait_timeout);
    if (store_set_sentinels((const char *const *)cfg.redis_sentinel.items, cfg.redis_sentinel.n, cfg.redis_master_name,
                            sentinel_password) < 0) {
        fprintf(stderr, "staffroom-signal: key 'redis-sentinel': cannot use these Sentinels\n");
        rc = 2;
        uv_loop_close(&loop);
        goto out;
    }
    if (store_open(&loop, cfg.redis_host, (int)cfg.redis_port, password) < 0) {
        rc = 1;
        uv_loop_close(&loop);
        goto out;
    }
    sodium_memzero(password, sizeof password);
    sodium_memzero(sentinel_password, sizeof sentinel_password);
    accounts_init(&loop);
    if (o.admin) {
        char pw[1024];
        if (read_admin_password(pw, sizeof pw) < 0) {
            fprintf(stderr, "staffroom-signal: --create-admin: no password on stdin\n");
            store_close();
            rc = 1;
        } else {
            rc = accounts_create_admin(&loop, o.admin, pw);
            store_close(); /* no-op if it closed already; not if the input was refused up front */
        }
        sodium_memzero(pw, sizeof pw);
        loop_finish(&loop);
        goto out;
    }
    rc = run_server(&loop, &cfg);
    loop_finish(&loop);
    if (req_outstanding())
        log_warn("%ld requests were still unanswered at exit", req_outstanding());
    log_info("stopped");
out:
    bus_free_all();
    conn_free_all();
    dispatch_free();
    signal_config_free(&cfg);
    free(rest);
    return rc;
}
