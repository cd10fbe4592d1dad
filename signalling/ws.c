/* ws.c — see ws.h. libwebsockets 4.1 on a foreign libuv loop. */
#include "ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "schedule.h"
#include "store.h"

#define WS_PROTOCOL "staffroom.v1"
#define RX_CHUNK 16384

typedef struct frame {
    struct frame *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
} frame_t;

/* Per WebSocket; lws allocates it zeroed and frees it after LWS_CALLBACK_CLOSED. */
struct ws_sess {
    struct lws *wsi;
    conn_t *conn;
    char *rx;
    size_t rxlen, rxcap;
    int rx_skip;      /* discarding the rest of an oversized frame */
    frame_t *head, *tail;
    size_t queued;
    int closing;      /* close once the queue is written (too_large) */
    int killed;       /* dropped (slow client): write nothing more */
    int going_away;   /* server shutdown: close (1001) at the next writable */
    ws_sess_t *prev, *next; /* every open WebSocket, for shutdown */
};

/* A GET /ics/… waiting for Redis. Owned by the HTTP session while it lives; if the connection closes
 * first, wsi is cleared and the answer's callback frees it. */
typedef struct {
    struct lws *wsi; /* NULL once the connection is gone */
    int done;        /* the answer is in status/body */
    unsigned status;
    char *body;
    size_t len;
} ics_pending_t;

/* Per HTTP request on the dynamic mounts. */
typedef struct {
    unsigned char *body; /* LWS_PRE headroom, then the body */
    size_t len;
    ics_pending_t *ics;
} http_sess_t;

static struct lws_context *ctx;
static ws_sess_t *sessions;
static size_t nsessions;
static const signal_config_t *cfg;
static lws_retry_bo_t idle_policy;

/* ---------------- send queue ---------------- */

static void queue_free(ws_sess_t *s)
{
    while (s->head) {
        frame_t *f = s->head;
        s->head = f->next;
        free(f);
    }
    s->tail = NULL;
    s->queued = 0;
}

static void kill_async(ws_sess_t *s)
{
    s->killed = 1;
    queue_free(s);
    /* Closing from outside lws's own callback for this wsi is only safe asynchronously. */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void ws_send(ws_sess_t *s, const char *text, size_t len)
{
    if (s->killed)
        return;
    if (s->queued + len > (size_t)cfg->send_queue_max_bytes) {
        log_warn("conn %llu: send queue over %lld bytes: disconnecting a slow client",
                 (unsigned long long)(s->conn ? conn_id(s->conn) : 0), cfg->send_queue_max_bytes);
        metrics_slow_client();
        kill_async(s);
        return;
    }
    frame_t *f = malloc(sizeof *f + LWS_PRE + len);
    if (!f) {
        kill_async(s);
        return;
    }
    f->next = NULL;
    f->len = len;
    memcpy(f->buf + LWS_PRE, text, len);
    if (s->tail)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    s->queued += len;
    lws_callback_on_writable(s->wsi);
}

void ws_pause_reading(ws_sess_t *s, int paused)
{
    if (!s->killed)
        lws_rx_flow_control(s->wsi, paused ? 0 : 1);
}

/* Writes a close frame (RFC 6455 section 5.5.1: 2-byte status, then a reason) and returns -1 so that
 * lws drops the socket. lws 4.1 marks a socket unusable when a writeable callback returns -1, so its own
 * lws_close_reason() frame would never be sent from here: we write it ourselves. */
static int send_close(ws_sess_t *s, enum lws_close_status status, const char *why)
{
    unsigned char buf[LWS_PRE + 64];
    size_t n = strlen(why);
    if (n > sizeof buf - LWS_PRE - 2)
        n = sizeof buf - LWS_PRE - 2;
    buf[LWS_PRE] = (unsigned char)((unsigned)status >> 8);
    buf[LWS_PRE + 1] = (unsigned char)((unsigned)status & 0xff);
    memcpy(buf + LWS_PRE + 2, why, n);
    /* Opcode 4 is lws's own LWS_WRITE_CLOSE, which 4.1's public header leaves to lws_close_reason(). */
    lws_write(s->wsi, buf + LWS_PRE, n + 2, (enum lws_write_protocol)4);
    s->killed = 1;
    return -1;
}

/* Writes one frame; returns -1 to have lws close the connection. */
static int on_writeable(ws_sess_t *s)
{
    if (s->killed)
        return -1;
    if (s->going_away)
        return send_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    frame_t *f = s->head;
    if (f) {
        s->head = f->next;
        if (!s->head)
            s->tail = NULL;
        s->queued -= f->len;
        int n = lws_write(s->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
        free(f);
        if (n < 0)
            return -1;
        /* One write per callback: a close frame, too, waits for the next one. */
        if (s->head || s->closing)
            lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->closing)
        return send_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame too large");
    return 0;
}

/* ---------------- receiving ---------------- */

static void too_large(ws_sess_t *s)
{
    char *text = msg_error_text(NULL, E_TOO_LARGE, NULL, 0, "frame larger than max-frame-bytes");
    log_info("conn %llu: frame over %lld bytes: closing", (unsigned long long)conn_id(s->conn), cfg->max_frame_bytes);
    metrics_request("unknown", E_TOO_LARGE);
    if (text)
        ws_send(s, text, strlen(text));
    free(text);
    s->closing = 1;
    s->rxlen = 0;
    lws_callback_on_writable(s->wsi);
}

static int on_receive(ws_sess_t *s, const void *in, size_t len)
{
    if (s->closing || s->killed || !s->conn)
        return 0;
    if (s->rxlen + len > (size_t)cfg->max_frame_bytes) {
        too_large(s);
        return 0;
    }
    if (s->rxlen + len > s->rxcap) {
        size_t cap = s->rxcap ? s->rxcap : RX_CHUNK;
        while (cap < s->rxlen + len)
            cap *= 2;
        if (cap > (size_t)cfg->max_frame_bytes)
            cap = (size_t)cfg->max_frame_bytes;
        char *p = realloc(s->rx, cap);
        if (!p)
            return -1;
        s->rx = p;
        s->rxcap = cap;
    }
    memcpy(s->rx + s->rxlen, in, len);
    s->rxlen += len;
    if (!lws_is_final_fragment(s->wsi) || lws_remaining_packet_payload(s->wsi))
        return 0;
    size_t n = s->rxlen;
    s->rxlen = 0;
    if (lws_frame_is_binary(s->wsi))
        dispatch_reject(s->conn, "frames must be text (JSON)");
    else
        dispatch_frame(s->conn, s->rx, n);
    return 0;
}

/* ---------------- WebSocket protocol ---------------- */

static int path_is_ws(struct lws *wsi)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
        return 0;
    return strcmp(uri, "/ws") == 0;
}

static int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    ws_sess_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!path_is_ws(wsi)) {
            metrics_conn_rejected("path");
            return 1;
        }
        if (conn_count() >= (size_t)cfg->max_clients) {
            log_warn("max-clients (%lld) reached: refusing a connection", cfg->max_clients);
            metrics_conn_rejected("max_clients");
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED: {
        char peer[64] = "";
        lws_get_peer_simple(wsi, peer, sizeof peer);
        s->wsi = wsi;
        s->conn = conn_new(s, peer);
        if (!s->conn)
            return -1;
        s->next = sessions;
        if (sessions)
            sessions->prev = s;
        sessions = s;
        nsessions++;
        metrics_conn_opened();
        log_info("conn %llu: open from %s", (unsigned long long)conn_id(s->conn), peer);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return on_receive(s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(s);
    case LWS_CALLBACK_CLOSED:
        if (s->conn) {
            if (s->prev)
                s->prev->next = s->next;
            else
                sessions = s->next;
            if (s->next)
                s->next->prev = s->prev;
            nsessions--;
            log_info("conn %llu: closed", (unsigned long long)conn_id(s->conn));
            conn_closed(s->conn);
            s->conn = NULL;
            metrics_conn_closed();
        }
        queue_free(s);
        free(s->rx);
        s->rx = NULL;
        return 0;
    default:
        return 0;
    }
}

/* ---------------- HTTP: /healthz, /metrics ---------------- */

static int http_reply(struct lws *wsi, http_sess_t *h, unsigned status, const char *ctype, const char *body,
                      size_t len)
{
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    h->body = malloc(LWS_PRE + len + 1);
    if (!h->body)
        return -1;
    memcpy(h->body + LWS_PRE, body, len);
    h->len = len;
    if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* ---------------- HTTP: GET /ics/<booking>.ics (schedule.h) ---------------- */

static void ics_done(int status, const char *body, size_t len, void *priv)
{
    ics_pending_t *p = priv;
    if (!p->wsi) { /* the client went away meanwhile */
        free(p);
        return;
    }
    p->body = malloc(len + 1);
    if (p->body) {
        memcpy(p->body, body, len);
        p->len = len;
        p->status = (unsigned)status;
    } else {
        p->status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
    }
    p->done = 1;
    lws_callback_on_writable(p->wsi);
}

/* The token: ?token=… or "Authorization: Bearer …"; "" if neither. */
static void ics_token(struct lws *wsi, char *out, size_t cap)
{
    char auth[128];
    out[0] = '\0';
    const char *v = lws_get_urlarg_by_name(wsi, "token=", out, (int)cap);
    if (v) {
        memmove(out, v, strlen(v) + 1);
        return;
    }
    out[0] = '\0';
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 7 && strncmp(auth, "Bearer ", 7) == 0)
        snprintf(out, cap, "%s", auth + 7);
}

/* Starts answering GET /ics/<32 hex>.ics; the answer is written once Redis has checked the token. */
static int ics_start(struct lws *wsi, http_sess_t *h, const char *uri)
{
    char bid[40] = "", token[128], host[128] = "", url[256];
    size_t n = strlen(uri);
    if (n != 5 + 32 + 4 || strcmp(uri + n - 4, ".ics") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
        return -1;
    }
    memcpy(bid, uri + 5, 32);
    bid[32] = '\0';
    ics_token(wsi, token, sizeof token);
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0 || strpbrk(host, "\r\n \"<>"))
        snprintf(host, sizeof host, "%s:%lld", cfg->listen_address, cfg->listen_port);
    snprintf(url, sizeof url, "http://%s/#/sessions/join/%s", host, bid); /* the web client's route */
    ics_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->wsi = wsi;
    h->ics = p;
    schedule_ics(bid, token, url, ics_done, p);
    return 0;
}

static void ics_drop(http_sess_t *h)
{
    if (!h || !h->ics)
        return;
    if (h->ics->done) {
        free(h->ics->body);
        free(h->ics);
    } else {
        h->ics->wsi = NULL; /* ics_done frees it */
    }
    h->ics = NULL;
}

static int http_reply(struct lws *wsi, http_sess_t *h, unsigned status, const char *ctype, const char *body,
                      size_t len);

/* Writes the answer of a finished /ics request (headers now; the body at the next writable). */
static int ics_write(struct lws *wsi, http_sess_t *h)
{
    ics_pending_t *p = h->ics;
    unsigned st = p->body ? p->status : HTTP_STATUS_INTERNAL_SERVER_ERROR;
    int rc = http_reply(wsi, h, st, st == 200 ? "text/calendar; charset=utf-8" : "text/plain; charset=utf-8",
                        p->body ? p->body : "internal error\n", p->body ? p->len : 15);
    ics_drop(h);
    return rc;
}

static int on_http(struct lws *wsi, http_sess_t *h)
{
    char uri[64] = "";
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) {
        lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
        return -1;
    }
    if (strcmp(uri, "/healthz") == 0) {
        int up = store_is_up();
        char body[256];
        int n = snprintf(body, sizeof body, "{\"status\":\"%s\",\"redis\":%s,\"connections\":%zu,\"node\":\"%s\"}\n",
                         up ? "ok" : "unavailable", up ? "true" : "false", conn_count(), cfg->node_id);
        return http_reply(wsi, h, up ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE, "application/json", body,
                          (size_t)n);
    }
    if (strncmp(uri, "/ics/", 5) == 0)
        return ics_start(wsi, h, uri);
    if (strcmp(uri, "/metrics") == 0) {
        size_t n;
        char *text = metrics_render(store_is_up(), &n);
        if (!text)
            return -1;
        int rc = http_reply(wsi, h, HTTP_STATUS_OK, "text/plain; version=0.0.4", text, n);
        free(text);
        return rc;
    }
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return -1;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    http_sess_t *h = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket without the staffroom.v1 subprotocol lands here: refuse it. */
        metrics_conn_rejected("path");
        return 1;
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, h) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (h && h->ics && h->ics->done)
            return ics_write(wsi, h) ? -1 : 0;
        if (!h || !h->body)
            break;
        {
            int n = lws_write(wsi, h->body + LWS_PRE, h->len, LWS_WRITE_HTTP_FINAL);
            free(h->body);
            h->body = NULL;
            if (n < 0 || lws_http_transaction_completed(wsi))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (h) {
            free(h->body);
            h->body = NULL;
            ics_drop(h);
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", cb_http, sizeof(http_sess_t), 0, 0, NULL, 0},
    {WS_PROTOCOL, cb_ws, sizeof(ws_sess_t), RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static struct lws_http_mount mount_files, mount_health, mount_metrics, mount_ics;

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_error("lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

int ws_start(uv_loop_t *loop, const signal_config_t *config)
{
    cfg = config;
    lws_set_log_level(LLL_ERR | LLL_WARN | (log_level >= LOG_LVL_DEBUG ? LLL_NOTICE : 0), lws_log);

    mount_metrics.mountpoint = "/metrics";
    mount_metrics.origin = "http";
    mount_metrics.origin_protocol = LWSMPRO_CALLBACK;
    mount_metrics.mountpoint_len = 8;
    mount_metrics.mount_next = &mount_ics;
    mount_ics.mountpoint = "/ics";
    mount_ics.origin = "http";
    mount_ics.origin_protocol = LWSMPRO_CALLBACK;
    mount_ics.mountpoint_len = 4;
    mount_health.mount_next = &mount_metrics;
    mount_health.mountpoint = "/healthz";
    mount_health.origin = "http";
    mount_health.origin_protocol = LWSMPRO_CALLBACK;
    mount_health.mountpoint_len = 8;
    mount_files.mount_next = &mount_health;
    mount_files.mountpoint = "/";
    mount_files.origin = cfg->web_root;
    mount_files.def = "index.html";
    mount_files.origin_protocol = LWSMPRO_FILE;
    mount_files.mountpoint_len = 1;

    /* lws pings a WebSocket idle for ping-interval and drops it after ping-timeout without any sign of
     * life: how a vanished client (cable pulled, laptop closed) is noticed. */
    idle_policy.secs_since_valid_ping = (uint16_t)cfg->ping_interval;
    idle_policy.secs_since_valid_hangup = (uint16_t)cfg->ping_timeout;

    static void *loops[1];
    loops[0] = loop;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.port = (int)cfg->listen_port;
    info.iface = cfg->listen_address;
    info.protocols = protocols;
    info.mounts = &mount_files;
    info.vhost_name = "staffroom";
    info.retry_and_idle_policy = &idle_policy;
    info.timeout_secs = 10;
    ctx = lws_create_context(&info);
    if (!ctx) {
        log_error("cannot listen on %s:%lld (see lws errors above)", cfg->listen_address, cfg->listen_port);
        return -1;
    }
    return 0;
}

size_t ws_close_all(int force)
{
    for (ws_sess_t *s = sessions; s; s = s->next) {
        if (force) {
            kill_async(s);
        } else if (!s->going_away) {
            s->going_away = 1;
            lws_callback_on_writable(s->wsi);
        }
    }
    return nsessions;
}

void ws_stop(void)
{
    if (!ctx)
        return;
    lws_context_destroy(ctx);
    ctx = NULL;
}
