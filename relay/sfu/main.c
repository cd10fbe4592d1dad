/* main.c — staffroom-sfu: arguments, configuration, signals, and the wiring of its modules on one GLib
 * main loop (libnice needs one; Redis, DTLS timers and HTTP run on it too).
 *
 * Owns: process setup and teardown. SIGTERM/SIGINT drain: the SFU leaves placement (ZREM sfu:load), tells
 * the signal nodes which participants move (moved), drops them, deletes its sfu:alive key and exits 0.
 * SIGPIPE is ignored.
 */
#include <glib-unix.h>
#include <glib.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conf.h"
#include "config.h"
#include "control.h"
#include "dtls.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sendq.h"
#include "sfu.h"
#include "srtp.h"

#define SFU_VERSION "0.1.0"

typedef struct {
    GMainLoop *loop;
    control_t *control;
    sfu_t *sfu;
    cmd_t *cmd;
    int draining;
} app_t;

static void usage(FILE *out)
{
    fprintf(out, "usage: staffroom-sfu [--config FILE] [--check-config] [--KEY VALUE ...]\n"
                 "       staffroom-sfu --help | --version\n\n"
                 "Staffroom's selective forwarding unit: group rooms' media (ICE, DTLS-SRTP, RTP), controlled\n"
                 "over Redis by staffroom-signal. Every configuration key is also a flag; flags override the\n"
                 "file. --check-config validates, prints the effective configuration and exits.\n\nKeys:\n");
    conf_print_help(sfu_config_keys, out);
}

static void on_command(void *ctx, const char *payload, size_t len)
{
    app_t *a = ctx;
    cmd_handle(a->cmd, payload, len);
}

static void on_load(void *ctx, uint64_t *participants, uint64_t *rooms)
{
    app_t *a = ctx;
    sfu_gauges_t g = {0};
    sfu_gauges(a->sfu, &g);
    *participants = g.participants;
    *rooms = g.rooms;
}

static char *on_http(void *ctx, const char *path, int *status, const char **type)
{
    app_t *a = ctx;
    if (!strcmp(path, "/healthz")) {
        int up = control_up(a->control);
        *status = up ? 200 : 503;
        return g_strdup(up ? "ok\n" : "redis unavailable\n");
    }
    if (!strcmp(path, "/metrics")) {
        sfu_gauges_t g = {0};
        sfu_gauges(a->sfu, &g);
        g.redis_up = control_up(a->control);
        g.draining = a->draining;
        size_t cap = 65536;
        char *buf = g_malloc(cap);
        size_t at = metrics_render(&g, buf, cap);
        sfu_metrics_text(a->sfu, buf + at, cap - at);
        *status = 200;
        *type = "text/plain; version=0.0.4";
        return buf;
    }
    *status = 404;
    return g_strdup("not found\n");
}

static void on_drained(void *ctx)
{
    app_t *a = ctx;
    sfu_drain(a->sfu);
    g_main_loop_quit(a->loop);
}

static gboolean on_signal(gpointer ctx)
{
    app_t *a = ctx;
    if (a->draining)
        return G_SOURCE_CONTINUE;
    a->draining = 1;
    log_info("draining: leaving placement, moving participants");
    /* Out of placement first, so no signal node sends a new room here while its participants move. */
    control_drain(a->control, on_drained, a);
    return G_SOURCE_CONTINUE;
}

static char *read_secret(const char *path)
{
    gchar *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    text[strcspn(text, "\r\n")] = 0;
    return text;
}

/* Allocations from this size on get pages of their own (mmap) instead of heap. libnice gives each
 * participant's ICE component two 64 KiB buffers (one for UDP receives, one for RFC 4571 framing, used
 * only over TCP) of which a few pages are ever written; from the heap they land on memory other objects
 * already dirtied and count whole in RSS, from mmap only the pages written do (some 60 KiB less per
 * participant in the bench). Nothing on the packet path allocates this much. */
#define MMAP_THRESHOLD_BYTES (60 * 1024)

int main(int argc, char **argv)
{
    sfu_config_t cfg;
    char err[1024];
    int rc = 1, check = 0;
    app_t app = {0};
    dtls_ctx_t *dtls = NULL;
    http_t *http = NULL;
    char *password = NULL;
    char id[65];
    int srtp_up = 0;

    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES); /* before anything allocates */
    memset(&cfg, 0, sizeof cfg);
    log_init("staffroom-sfu");
    signal(SIGPIPE, SIG_IGN);
    if (conf_defaults(sfu_config_keys, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-sfu: %s\n", err);
        goto out;
    }
    const char *path = conf_find_arg(argc, argv, "config");
    if (path && conf_load_file(sfu_config_keys, &cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    /* A list key given as a flag replaces the file's list (flags override the file). */
    for (const conf_key_t *k = sfu_config_keys; k->name; k++) {
        if (k->type != CONF_LIST || !conf_find_arg(argc, argv, k->name))
            continue;
        conf_list_t *l = (conf_list_t *)((char *)&cfg + k->offset);
        for (size_t i = 0; i < l->n; i++)
            free(l->items[i]);
        free(l->items);
        l->items = NULL;
        l->n = 0;
    }
    int *rest = calloc((size_t)argc + 1, sizeof *rest), nrest = 0;
    if (!rest || conf_apply_args(sfu_config_keys, &cfg, argc, argv, rest, &nrest, err, sizeof err) < 0) {
        fprintf(stderr, "staffroom-sfu: %s\n", rest ? err : "out of memory");
        free(rest);
        goto out;
    }
    for (int i = 0; i < nrest; i++) {
        const char *a = argv[rest[i]];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            rc = 0;
            free(rest);
            goto out;
        } else if (!strcmp(a, "--version")) {
            printf("staffroom-sfu %s\n", SFU_VERSION);
            rc = 0;
            free(rest);
            goto out;
        } else if (!strcmp(a, "--check-config")) {
            check = 1;
        } else if (!strcmp(a, "--config") && i + 1 < nrest && rest[i + 1] == rest[i] + 1) {
            i++;
        } else if (!strncmp(a, "--config=", 9)) {
            continue;
        } else {
            fprintf(stderr, "staffroom-sfu: unknown option '%s' (see --help)\n", a);
            free(rest);
            goto out;
        }
    }
    free(rest);
    if (sfu_config_validate(&cfg, path, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    log_set_level_name(cfg.log_level);
    if (check) {
        conf_print_values(sfu_config_keys, &cfg, stdout);
        rc = 0;
        goto out;
    }
    if (*cfg.id)
        g_strlcpy(id, cfg.id, sizeof id);
    else
        snprintf(id, sizeof id, "sfu-%08x", g_random_int());
    if (*cfg.redis_password_file && !(password = read_secret(cfg.redis_password_file))) {
        fprintf(stderr, "staffroom-sfu: redis-password-file: cannot read\n");
        goto out;
    }
    if (sfu_srtp_init() < 0) {
        fprintf(stderr, "staffroom-sfu: libsrtp init failed\n");
        goto out;
    }
    srtp_up = 1;
    if (!(dtls = dtls_ctx_new(cfg.dtls_cert_file, cfg.dtls_key_file, err, sizeof err))) {
        fprintf(stderr, "staffroom-sfu: %s\n", err);
        goto out;
    }

    app.loop = g_main_loop_new(NULL, FALSE);
    app.cmd = cmd_new();
    sfu_events_t ev = cmd_events(app.cmd);
    sfu_params_t sp = {.media_addresses = (const char *const *)cfg.media_address.items,
                       .nmedia_addresses = cfg.media_address.n,
                       .port_min = (uint16_t)cfg.udp_port_min, .port_max = (uint16_t)cfg.udp_port_max,
                       .room_max_participants = (unsigned)cfg.room_max_participants,
                       .capacity = (unsigned)cfg.capacity, .ice_timeout_ms = (unsigned)cfg.ice_timeout_ms,
                       .media_timeout_ms = (unsigned)cfg.media_timeout_ms, .dtls = dtls,
                       .recordings_dir = cfg.recordings_dir, .record_max_seconds = (unsigned)cfg.record_max_seconds};
    app.sfu = sfu_new(&sp, &ev);
    cmd_set_sfu(app.cmd, app.sfu);
    control_params_t cp = {.id = id, .host = cfg.redis_host, .password = password, .port = (uint16_t)cfg.redis_port,
                           .heartbeat_ms = (unsigned)cfg.heartbeat_ms, .capacity = (uint64_t)cfg.capacity,
                           .started_ms = (uint64_t)(g_get_real_time() / 1000)};
    control_callbacks_t cc = {.on_command = on_command, .load = on_load, .ctx = &app};
    app.control = control_new(&cp, &cc);
    cmd_set_control(app.cmd, app.control);
    if (!(http = http_new(cfg.http_address, (uint16_t)cfg.http_port, on_http, &app, err, sizeof err))) {
        fprintf(stderr, "staffroom-sfu: %s\n", err);
        goto out;
    }
    g_unix_signal_add(SIGTERM, on_signal, &app);
    g_unix_signal_add(SIGINT, on_signal, &app);
    log_info("staffroom-sfu %s id %s http %s:%u media %s dtls fingerprint sha-256 %s", SFU_VERSION, id,
             cfg.http_address, http_port(http), cfg.media_address.items[0], dtls_ctx_fingerprint(dtls));
    fprintf(stderr, "staffroom-sfu listening id=%s http-port=%u\n", id, http_port(http));
    g_main_loop_run(app.loop);
    log_info("stopped");
    rc = 0;
out:
    http_free(http);
    control_free(app.control); /* first: it turns the loop while it deletes its key */
    if (app.cmd)
        cmd_set_control(app.cmd, NULL); /* recordings finished by sfu_free have no one to tell */
    if (app.sfu)
        sfu_free(app.sfu);
    sendq_deinit();
    cmd_free(app.cmd);
    /* Let cancelled I/O and freed sources finish on the loop before it goes. */
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
        ;
    if (app.loop)
        g_main_loop_unref(app.loop);
    dtls_ctx_free(dtls);
    if (srtp_up)
        sfu_srtp_deinit();
    g_free(password);
    conf_free(sfu_config_keys, &cfg);
    return rc;
}
