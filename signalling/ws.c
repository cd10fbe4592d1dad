/* ws.c — see ws.h. libwebsockets 4.1 on a foreign libuv loop. */
#include "ws.h"

#include <errno.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <libwebsockets.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conn.h"
#include "dispatch.h"
#include "idle.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"

#define WS_PROTOCOL "staffroom.v1"
/* lws keeps one receive buffer of this size per WebSocket for its whole life: small (512 B: 3.27 KB of RSS per idle
 * connection against 3.77 KB with 1 KiB, bench-signal rss), because nearly
 * every request is a short JSON object; longer frames arrive in pieces and are assembled here. */
#define WS_RX_PIECE 512
/* lws caps one socket write at tx_packet_size (else at rx_buffer_size): without this, a frame longer
 * than WS_RX_PIECE would go out a kilobyte per writeable callback, the rest copied aside by lws. */
#define WS_TX_PACKET (1 << 20)
#define IDLE_TICK_MS 1000
/* glibc keeps freed heap for reuse; after many connections have gone, give it back to the system (at
 * most every TRIM_EVERY_MS, and only once TRIM_AFTER_CLOSES connections have closed since the last). */
#define TRIM_AFTER_CLOSES 256
#define TRIM_EVERY_MS 10000
#define HTTP_PATH_MAX 256

/* Per WebSocket; lws allocates it zeroed and frees it after LWS_CALLBACK_CLOSED. */
struct ws_sess {
    struct lws *wsi;
    conn_t *conn;
    char *rx;              /* a frame being assembled from pieces; NULL between frames */
    size_t rxlen, rxcap;
    unsigned char *out;    /* LWS_PRE headroom, then outlen bytes of framed messages not yet written */
    size_t outlen, outcap;
    ws_sess_t *dprev, *dnext; /* in the dirty list while it has output to flush this loop iteration */
    idle_node_t idle;      /* in `idle` while open, not killed and not paused */
    ws_sess_t *prev, *next; /* every open WebSocket, for shutdown */
    unsigned closing : 1;    /* too_large answered: discard input, close once the frame is drained */
    unsigned drained : 1;    /* closing, and the oversized frame is read to its end (or given up on) */
    size_t discarded;        /* bytes of the oversized frame thrown away so far */
    unsigned killed : 1;     /* dropped (slow client, idle): write nothing more */
    unsigned going_away : 1; /* server shutdown: close (1001) at the next writable */
    unsigned ending : 1;     /* ws_close: close with end_code once the output queued before is written */
    unsigned short end_code;
    const char *end_why;     /* static string */
    unsigned ping_due : 1;   /* write a PING at the next writable */
    unsigned paused : 1;     /* ws_pause_reading */
    unsigned dirty : 1;      /* in the dirty list */
    unsigned lws_busy : 1;   /* lws holds bytes of ours it could not write yet: ours wait for writeable */
    unsigned replay_gen;     /* == replay_gen while lws may still hold input it read ahead (see replay) */
};

/* An HTTP request for a route. While the connection lives, its http_sess_t points here; if the
 * connection closes before the answer, wsi is cleared and ws_http_answer frees it. */
struct ws_http_req {
    struct lws *wsi;        /* NULL once the client went away */
    int in_route;           /* the route's call is running: the accessors may read lws's headers */
    int answered, headers_sent;
    int status;
    char ctype[128]; /* an Office document's type is 73 characters */
    unsigned char *body;    /* LWS_PRE headroom, then len bytes */
    size_t len;
    char path[HTTP_PATH_MAX];
    const char *method;     /* static: "GET", "HEAD", "POST", "PUT", "DELETE" */
    /* the body (ws_http_on_body) */
    ws_http_body_fn body_fn;
    void *body_priv;
    int has_body;           /* the request declared a Content-Length > 0 */
    int body_done;          /* END or ABORT delivered, or the whole body read */
    int body_paused;
    uv_timer_t *end_soon;   /* WS_BODY_END for a request without a body, on the next loop turn */
    /* extra response headers: "Name: value\0" pairs as lws wants them (name with its colon) */
    char xhdr[1024];
    size_t xhdr_len;
    /* a file answer (ws_http_answer_file): fd >= 0 */
    int fd;
    uint64_t foff, fleft;   /* next byte to read, bytes still to send */
    int head_only;
    unsigned char *fbuf;    /* LWS_PRE headroom, then up to FILE_PIECE bytes */
    size_t fbuf_len;        /* bytes read and not yet written */
    uv_fs_t fs;
    int fs_busy;            /* a read is in flight: req is freed by its callback */
    int orphan;             /* freed while fs_busy: the read's callback frees it */
};

/* Per HTTP connection (kept across keep-alive requests): the request being answered, if any. */
typedef struct {
    ws_http_req_t *req;
} http_sess_t;

typedef struct {
    const char *prefix;
    size_t len;
    ws_http_fn fn;
    void *arg;
    int all_methods;
} route_t;

static struct lws_context *ctx;
static uv_loop_t *uvloop;
static uv_timer_t idle_timer;
static int idle_timer_on;
static idle_t idle;
static ws_sess_t *sessions;
static size_t nsessions;
static size_t queued_total;
static size_t closes_since_trim;
static uint64_t last_trim_ms;
static const signal_config_t *cfg;
static route_t routes[WS_MAX_ROUTES];
static size_t nroutes;
/* The files mount, then one callback mount per route. */
static struct lws_http_mount mounts[1 + WS_MAX_ROUTES];
/* All zero: lws arms no per-connection validity (ping/hang-up) timers; idle_tick does that job. */
static const lws_retry_bo_t no_validity_timers;

static uint64_t now_ms(void) { return uvloop ? uv_now(uvloop) : 0; }

/* ---------------- send path ----------------
 *
 * Messages for a connection go into its output buffer already framed (RFC 6455 section 5.2: a server's
 * frames are not masked, and we negotiate no extension, so a frame is a 2-10 byte header and the text),
 * and the buffer is written at the end of the loop iteration (a uv_check handle) with one send() straight
 * to the socket. A burst of events then costs a connection one system call, and the usual case changes
 * nothing in the poll set (asking lws for a writeable callback costs two epoll_ctl per write). What the
 * socket does not take is handed to lws (a raw lws_write), which keeps it and writes it as the socket
 * drains; until lws calls back writeable, later messages wait in the buffer, so bytes never overtake each
 * other. Control frames (ping, close) are written only from the writeable callback, after the buffer. */

static ws_sess_t *dirty_head;
/* Flushed after the poll phase (check: what its callbacks queued) and before the loop blocks again
 * (prepare: what timers and deferred callbacks queued), so no message waits for an unrelated wakeup. */
static uv_check_t flusher;
static uv_prepare_t flusher_before_poll;
static int flusher_ready;

static void dirty_add(ws_sess_t *s)
{
    if (s->dirty)
        return;
    s->dirty = 1;
    s->dprev = NULL;
    s->dnext = dirty_head;
    if (dirty_head)
        dirty_head->dprev = s;
    dirty_head = s;
}

static void dirty_remove(ws_sess_t *s)
{
    if (!s->dirty)
        return;
    if (s->dprev)
        s->dprev->dnext = s->dnext;
    else
        dirty_head = s->dnext;
    if (s->dnext)
        s->dnext->dprev = s->dprev;
    s->dprev = s->dnext = NULL;
    s->dirty = 0;
}

/* Forgets s's unwritten output and frees its buffer (nothing is kept while a connection idles). */
static void out_reset(ws_sess_t *s)
{
    queued_total -= s->outlen;
    free(s->out);
    s->out = NULL;
    s->outlen = s->outcap = 0;
    metrics_set_send_queued(queued_total);
}

static void queue_free(ws_sess_t *s)
{
    dirty_remove(s);
    out_reset(s);
}

/* The RFC 6455 section 5.2 header of an unmasked, final text frame of len bytes, written to out (at most
 * 10 bytes); returns its length. */
static size_t frame_header(unsigned char *out, size_t len)
{
    out[0] = 0x81; /* FIN, opcode 1 (text) */
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Appends one framed text message to s's buffer. 0, or -1 when out of memory. */
static int out_append(ws_sess_t *s, const char *text, size_t len)
{
    size_t need = LWS_PRE + s->outlen + 10 + len;
    if (need > s->outcap) {
        size_t cap = s->outcap ? s->outcap : 512;
        while (cap < need)
            cap *= 2;
        unsigned char *p = realloc(s->out, cap);
        if (!p)
            return -1;
        s->out = p;
        s->outcap = cap;
    }
    unsigned char *at = s->out + LWS_PRE + s->outlen;
    size_t h = frame_header(at, len);
    memcpy(at + h, text, len);
    s->outlen += h + len;
    queued_total += h + len;
    return 0;
}

/* Hands s's output from byte `sent` on to lws, which writes what the socket takes and keeps the rest;
 * then s waits for lws's writeable callback before writing anything else. -1 if lws failed. */
static int hand_to_lws(ws_sess_t *s, size_t sent)
{
    int rc = lws_write(s->wsi, s->out + LWS_PRE + sent, s->outlen - sent, LWS_WRITE_RAW);
    out_reset(s);
    if (rc < 0)
        return -1;
    if (lws_partial_buffered(s->wsi)) {
        s->lws_busy = 1;
        lws_callback_on_writable(s->wsi);
    }
    return 0;
}

static void kill_async(ws_sess_t *s);

/* Writes s's output straight to its socket (end of the loop iteration). */
static void flush_one(ws_sess_t *s)
{
    if (s->killed || !s->outlen)
        return;
    if (s->lws_busy || lws_partial_buffered(s->wsi)) {
        lws_callback_on_writable(s->wsi); /* the writeable callback takes it from here */
        return;
    }
    ssize_t n = send(lws_get_socket_fd(s->wsi), s->out + LWS_PRE, s->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            log_info("conn %llu: send failed: %s", (unsigned long long)(s->conn ? conn_id(s->conn) : 0),
                     strerror(errno));
            kill_async(s);
            return;
        }
        n = 0;
    }
    if ((size_t)n == s->outlen)
        out_reset(s);
    else if (hand_to_lws(s, (size_t)n) < 0)
        kill_async(s);
}

static void flush_dirty(void)
{
    while (dirty_head) {
        ws_sess_t *s = dirty_head;
        dirty_remove(s);
        flush_one(s);
    }
}

static void flush_after_poll(uv_check_t *h)
{
    (void)h;
    flush_dirty();
}

static void flush_before_poll(uv_prepare_t *h)
{
    (void)h;
    flush_dirty();
}

/* lws (libuv flavour) runs its due timers and replays held-back input only after it has serviced a
 * socket. Work queued from outside its callbacks (our idle timer, a Redis reply) would wait for the next
 * socket event; waking its service pipe makes that happen now. One wake-up covers every request made
 * before lws reports it (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
static int lws_kicked;
static void lws_kick(void)
{
    if (ctx && !lws_kicked) {
        lws_kicked = 1;
        lws_cancel_service(ctx);
    }
}

static void kill_async(ws_sess_t *s)
{
    s->killed = 1;
    queue_free(s);
    idle_remove(&idle, &s->idle);
    /* Closing from outside lws's own callback for this wsi is only safe asynchronously: a timer of 0 s. */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    lws_kick();
}

static unsigned long long sess_id(const ws_sess_t *s) { return (unsigned long long)(s->conn ? conn_id(s->conn) : 0); }

void ws_send(ws_sess_t *s, const char *text, size_t len)
{
    if (s->killed)
        return;
    if (s->outlen + len > (size_t)cfg->send_queue_max_bytes) {
        log_warn("conn %llu: send queue over %lld bytes: disconnecting a slow client", sess_id(s),
                 cfg->send_queue_max_bytes);
        metrics_slow_client();
        kill_async(s);
        return;
    }
    if (queued_total + len > (size_t)cfg->send_queue_total_max_bytes) {
        log_warn("conn %llu: all send queues together over %lld bytes: disconnecting this client (%zu queued)",
                 sess_id(s), cfg->send_queue_total_max_bytes, s->outlen);
        metrics_slow_client();
        metrics_send_budget_drop();
        kill_async(s);
        return;
    }
    if (out_append(s, text, len) < 0) {
        kill_async(s);
        return;
    }
    metrics_set_send_queued(queued_total);
    dirty_add(s);
}

size_t ws_queued_total(void) { return queued_total; }

void ws_close(ws_sess_t *s, int code, const char *why)
{
    if (s->killed || s->ending)
        return;
    s->ending = 1;
    s->end_code = (unsigned short)code;
    s->end_why = why;
    lws_callback_on_writable(s->wsi);
    lws_kick();
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

/* lws's writeable callback: output that waited (lws was busy, or the socket was full), then a PING if one
 * is due, then a close frame. Returns -1 to have lws close the connection. */
static int on_writeable(ws_sess_t *s)
{
    if (s->killed)
        return -1;
    s->lws_busy = 0; /* lws calls back only once what it kept is written */
    if (s->going_away)
        return send_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    if (s->outlen) {
        dirty_remove(s);
        if (hand_to_lws(s, 0) < 0)
            return -1;
        if (s->ping_due || s->closing || s->ending)
            lws_callback_on_writable(s->wsi); /* one write per callback */
        return 0;
    }
    if (s->ending)
        return send_close(s, (enum lws_close_status)s->end_code, s->end_why);
    if (s->ping_due) {
        /* RFC 6455 section 5.5.2: the peer's PONG (or any frame) shows it is alive. Not empty: lws 4.1
         * does not report an empty PONG to the protocol callback (LWS_CALLBACK_RECEIVE_PONG). */
        unsigned char buf[LWS_PRE + 1];
        buf[LWS_PRE] = 'p';
        s->ping_due = 0;
        if (lws_write(s->wsi, buf + LWS_PRE, 1, LWS_WRITE_PING) < 0)
            return -1;
        if (s->closing)
            lws_callback_on_writable(s->wsi);
        return 0;
    }
    if (s->closing && s->drained)
        return send_close(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame too large");
    return 0;
}

/* ---------------- idle connections ---------------- */

/* Once a second: drop the connections that stayed silent for ping-timeout although pinged, then ping
 * those silent for ping-interval. Both walks start at the oldest and stop at the first that is not due,
 * so the work is what is done, not the number of connections. */
static void idle_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = now_ms();
    idle_node_t *n;
    while ((n = idle_expired(&idle, now, (uint64_t)cfg->ping_timeout * 1000))) {
        ws_sess_t *s = IDLE_CONTAINER(n, ws_sess_t, idle);
        log_info("conn %llu: silent for %lld s (no pong): dropping", sess_id(s), cfg->ping_timeout);
        metrics_idle_timeout();
        kill_async(s);
    }
    while ((n = idle_ping_due(&idle, now, (uint64_t)cfg->ping_interval * 1000))) {
        ws_sess_t *s = IDLE_CONTAINER(n, ws_sess_t, idle);
        s->ping_due = 1;
        lws_callback_on_writable(s->wsi);
    }
    if (closes_since_trim >= TRIM_AFTER_CLOSES && now - last_trim_ms >= TRIM_EVERY_MS) {
        closes_since_trim = 0;
        last_trim_ms = now;
        malloc_trim(0);
    }
}

/* lws replays the input it read ahead of a paused connection only from its own idle pass, which a socket
 * event starts and which stops itself after one round (lws 4.1, libuv): a resumed connection with a
 * backlog would stall until its peer sent something else. So after a resume we wake lws once per loop
 * iteration for as long as the replaying connections keep receiving, and stop after a few quiet rounds. */
#define REPLAY_QUIET_ROUNDS 3
static uv_idle_t replay_idle;
static int replay_on, replay_ready, replay_quiet;
static unsigned replay_gen = 1;
static unsigned long replay_progress;

static void replay_round(uv_idle_t *h)
{
    if (replay_progress == 0 && ++replay_quiet >= REPLAY_QUIET_ROUNDS) {
        uv_idle_stop(h);
        replay_on = 0;
        replay_gen++; /* every connection's replay is over */
        return;
    }
    if (replay_progress)
        replay_quiet = 0;
    replay_progress = 0;
    lws_kick();
}

static void replay_start(ws_sess_t *s)
{
    if (!replay_ready)
        return;
    s->replay_gen = replay_gen;
    replay_quiet = 0;
    if (!replay_on) {
        replay_on = 1;
        uv_idle_start(&replay_idle, replay_round);
    }
}

void ws_pause_reading(ws_sess_t *s, int paused)
{
    paused = !!paused;
    if (s->killed || (int)s->paused == paused)
        return;
    s->paused = (unsigned)paused;
    /* A connection we are not reading cannot show us its pongs: its idle clock stops meanwhile. */
    if (paused)
        idle_remove(&idle, &s->idle);
    else
        idle_touch(&idle, &s->idle, now_ms());
    lws_rx_flow_control(s->wsi, !paused);
    if (!paused) {
        lws_kick(); /* frames lws read ahead are replayed from its service loop */
        replay_start(s);
    }
}

/* ---------------- receiving ---------------- */

static void rx_free(ws_sess_t *s)
{
    free(s->rx);
    s->rx = NULL;
    s->rxlen = s->rxcap = 0;
}

/* An oversized frame is read to its end before the close: closing a socket with unread input makes the
 * kernel send a reset, and a reset makes the client drop the too_large frame it had not read yet (it
 * sees 1006). Bounded: past WS_DRAIN_MAX discarded bytes we close anyway, and a client that stops
 * sending meanwhile is dropped by the idle pings (input being discarded does not count as activity). */
#define WS_DRAIN_MAX ((size_t)64 << 20)

static void drain(ws_sess_t *s, size_t len)
{
    s->discarded += len;
    int frame_done = lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0;
    if (!s->drained && (frame_done || s->discarded > WS_DRAIN_MAX)) {
        s->drained = 1;
        lws_callback_on_writable(s->wsi);
    }
}

static void too_large(ws_sess_t *s, size_t len)
{
    char *text = msg_error_text(NULL, E_TOO_LARGE, NULL, 0, "frame larger than max-frame-bytes");
    log_info("conn %llu: frame over %lld bytes: closing", sess_id(s), cfg->max_frame_bytes);
    metrics_request("unknown", E_TOO_LARGE);
    if (text)
        ws_send(s, text, strlen(text));
    free(text);
    s->closing = 1;
    rx_free(s);
    drain(s, len);
    lws_callback_on_writable(s->wsi);
}

static void deliver(ws_sess_t *s, const char *buf, size_t len)
{
    if (lws_frame_is_binary(s->wsi))
        dispatch_reject(s->conn, "frames must be text (JSON)");
    else
        dispatch_frame(s->conn, buf, len);
}

/* One piece of a frame (at most WS_RX_PIECE bytes). lws tells how much of the current fragment is
 * still to come, so the size is checked against max-frame-bytes before anything is allocated, and the
 * buffer is sized to the fragment at once. */
static int on_receive(ws_sess_t *s, const void *in, size_t len)
{
    if (s->closing && !s->killed) {
        drain(s, len);
        return 0;
    }
    if (s->killed || !s->conn)
        return 0;
    if (!s->paused)
        idle_touch(&idle, &s->idle, now_ms());
    if (replay_on && s->replay_gen == replay_gen)
        replay_progress++;
    size_t rest = lws_remaining_packet_payload(s->wsi);
    if (rest > (size_t)cfg->max_frame_bytes || s->rxlen + len + rest > (size_t)cfg->max_frame_bytes) {
        too_large(s, len);
        return 0;
    }
    int last = lws_is_final_fragment(s->wsi) && rest == 0;
    if (last && s->rxlen == 0) { /* the whole frame in one piece: straight from lws's buffer */
        deliver(s, in ? in : "", len);
        return 0;
    }
    size_t need = s->rxlen + len + rest;
    if (need > s->rxcap) {
        char *p = realloc(s->rx, need ? need : 1);
        if (!p)
            return -1;
        s->rx = p;
        s->rxcap = need;
    }
    if (len)
        memcpy(s->rx + s->rxlen, in, len);
    s->rxlen += len;
    if (!last)
        return 0;
    /* Taken off the session before dispatching, so that nothing is kept while the connection idles. */
    char *frame = s->rx;
    size_t n = s->rxlen;
    s->rx = NULL;
    s->rxlen = s->rxcap = 0;
    deliver(s, frame, n);
    free(frame);
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

/* Behind a reverse proxy every connection comes from the proxy's address: when the direct peer is one of
 * the trusted-proxy addresses, the client's address is the one the proxy reports — X-Real-IP, or else
 * the last X-Forwarded-For entry (the one the proxy itself appended; earlier ones come from the client
 * and prove nothing). Per-address limits (sign-ins) and logs then see the real client. A peer that is not
 * a trusted proxy cannot claim any address this way. */
static int is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void client_address(struct lws *wsi, char *peer, size_t cap)
{
    int trusted = 0;
    for (size_t i = 0; i < cfg->trusted_proxy.n && !trusted; i++)
        trusted = strcmp(cfg->trusted_proxy.items[i], peer) == 0;
    if (!trusted)
        return;
    char v[256];
    const char *ip = NULL;
    if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_X_REAL_IP) > 0) {
        ip = v;
    } else if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
        const char *comma = strrchr(v, ',');
        ip = comma ? comma + 1 : v;
    }
    while (ip && *ip == ' ')
        ip++;
    if (ip) {
        char clean[64];
        snprintf(clean, sizeof clean, "%.*s", (int)strcspn(ip, " \t"), ip);
        if (is_ip(clean))
            snprintf(peer, cap, "%s", clean);
    }
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
        client_address(wsi, peer, sizeof peer);
        s->wsi = wsi;
        s->conn = conn_new(s, peer);
        if (!s->conn)
            return -1;
        s->next = sessions;
        if (sessions)
            sessions->prev = s;
        sessions = s;
        nsessions++;
        idle_touch(&idle, &s->idle, now_ms());
        metrics_conn_opened();
        log_info("conn %llu: open from %s", (unsigned long long)conn_id(s->conn), peer);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        return on_receive(s, in, len);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* not about one connection: s is NULL */
        lws_kicked = 0;
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (s->conn && !s->killed && !s->paused)
            idle_touch(&idle, &s->idle, now_ms());
        return 0;
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
            closes_since_trim++;
            log_info("conn %llu: closed", (unsigned long long)conn_id(s->conn));
            conn_closed(s->conn);
            s->conn = NULL;
            metrics_conn_closed();
        }
        idle_remove(&idle, &s->idle);
        queue_free(s);
        rx_free(s);
        return 0;
    default:
        return 0;
    }
}

/* ---------------- HTTP routes ---------------- */

int ws_route_add(const char *prefix, ws_http_fn fn, void *arg) { return ws_route_add_methods(prefix, fn, arg, 0); }

int ws_route_add_methods(const char *prefix, ws_http_fn fn, void *arg, int all_methods)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (ctx || !fn || nroutes == WS_MAX_ROUTES || n < 2 || prefix[0] != '/' || prefix[n - 1] == '/' ||
        n >= HTTP_PATH_MAX)
        return -1;
    for (size_t i = 0; i < nroutes; i++)
        if (strcmp(routes[i].prefix, prefix) == 0)
            return -1;
    routes[nroutes++] = (route_t){prefix, n, fn, arg, all_methods};
    return 0;
}

/* The route serving path: the longest prefix that ends at a '/' or at the end of path. */
static const route_t *route_find(const char *path)
{
    const route_t *best = NULL;
    for (size_t i = 0; i < nroutes; i++) {
        const route_t *r = &routes[i];
        if (strncmp(path, r->prefix, r->len) == 0 && (path[r->len] == '\0' || path[r->len] == '/') &&
            (!best || r->len > best->len))
            best = r;
    }
    return best;
}

static void end_soon_closed(uv_handle_t *h) { free(h); }

static void req_free(ws_http_req_t *req)
{
    if (!req)
        return;
    if (req->end_soon) {
        uv_close((uv_handle_t *)req->end_soon, end_soon_closed);
        req->end_soon = NULL;
    }
    if (req->fs_busy) { /* the thread pool still writes into fbuf: its callback frees req */
        req->orphan = 1;
        return;
    }
    if (req->fd >= 0)
        close(req->fd); /* a regular file: close does not wait on the disk */
    free(req->fbuf);
    free(req->body);
    free(req);
}

const char *ws_http_path(const ws_http_req_t *req) { return req->path; }

/* An answer to a request whose body reading is paused: lws does not get on with a connection whose input
 * is held back, so let the rest of the body come (it is dropped unless the route still wants it). */
static void http_unpause_for_answer(ws_http_req_t *req)
{
    if (req->body_paused && req->wsi) {
        req->body_paused = 0;
        lws_rx_flow_control(req->wsi, 1);
    }
}

static int copy_out(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v);
    if (n >= cap) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, v, n + 1);
    return (int)n;
}

int ws_http_arg(const ws_http_req_t *req, const char *name, char *out, size_t cap)
{
    char key[64], buf[1024];
    if (!cap)
        return -1;
    out[0] = '\0';
    if (!req->in_route || !req->wsi || snprintf(key, sizeof key, "%s=", name) >= (int)sizeof key)
        return -1;
    /* lws copies "name=value" (URL-decoded) into buf and points at the value. */
    const char *v = lws_get_urlarg_by_name(req->wsi, key, buf, (int)sizeof buf);
    return v ? copy_out(v, out, cap) : -1;
}

int ws_http_header(const ws_http_req_t *req, const char *name, char *out, size_t cap)
{
    if (!cap)
        return -1;
    out[0] = '\0';
    if (!req->in_route || !req->wsi)
        return -1;
    size_t n = strlen(name);
    /* lws names its known headers "host:", "authorization:", …: find the token by that name. */
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        if (!s || strncasecmp(s, name, n) != 0 || s[n] != ':')
            continue;
        int len = lws_hdr_total_length(req->wsi, (enum lws_token_indexes)t);
        if (len <= 0 || (size_t)len >= cap)
            return -1;
        return lws_hdr_copy(req->wsi, out, (int)cap, (enum lws_token_indexes)t) < 0 ? -1 : len;
    }
    return -1;
}

void ws_http_answer(ws_http_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    if (!req || req->answered)
        return;
    if (!req->wsi) { /* the client went away meanwhile */
        req_free(req);
        return;
    }
    req->answered = 1;
    http_unpause_for_answer(req);
    req->body = malloc(LWS_PRE + len + 1);
    if (req->body) {
        memcpy(req->body + LWS_PRE, body, len);
        req->len = len;
        req->status = status;
        snprintf(req->ctype, sizeof req->ctype, "%s", content_type);
    } else {
        req->status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
    }
    lws_callback_on_writable(req->wsi);
}

/* ---------------- HTTP methods, bodies, file answers ---------------- */

static int http_write_headers(struct lws *wsi, ws_http_req_t *req, uint64_t clen);
static int http_done(struct lws *wsi, http_sess_t *h);
static void http_detach(http_sess_t *h);

/* A file answer goes out in pieces of this size: one thread-pool read, then one lws_write each. */
#define FILE_PIECE (64 * 1024)

const char *ws_http_method(const ws_http_req_t *req) { return req->method; }

static void end_soon_fire(uv_timer_t *t)
{
    ws_http_req_t *req = t->data;
    uv_close((uv_handle_t *)t, end_soon_closed);
    req->end_soon = NULL;
    if (req->body_done || !req->body_fn)
        return;
    req->body_done = 1;
    req->body_fn(req, req->wsi ? WS_BODY_END : WS_BODY_ABORT, NULL, 0, req->body_priv);
}

void ws_http_on_body(ws_http_req_t *req, ws_http_body_fn fn, void *priv)
{
    req->body_fn = fn;
    req->body_priv = priv;
    if (!fn || req->has_body || req->end_soon)
        return;
    /* Nothing will come: say so from the loop, not from inside this call. */
    req->end_soon = malloc(sizeof *req->end_soon);
    if (!req->end_soon)
        return; /* out of memory: the route's own timeout (or the client) ends it */
    uv_timer_init(uvloop, req->end_soon);
    req->end_soon->data = req;
    uv_timer_start(req->end_soon, end_soon_fire, 0, 0);
}

void ws_http_pause_body(ws_http_req_t *req, int paused)
{
    if (!req->wsi || req->body_paused == !!paused)
        return;
    req->body_paused = !!paused;
    lws_rx_flow_control(req->wsi, !paused);
}

int ws_http_add_header(ws_http_req_t *req, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || req->xhdr_len + n + v + 3 > sizeof req->xhdr)
        return -1;
    char *p = req->xhdr + req->xhdr_len;
    memcpy(p, name, n);
    p[n] = ':'; /* lws wants the name with its colon */
    p[n + 1] = '\0';
    memcpy(p + n + 2, value, v + 1);
    req->xhdr_len += n + v + 3;
    return 0;
}

void ws_http_answer_file(ws_http_req_t *req, int status, const char *content_type, int fd, uint64_t offset,
                         uint64_t len, int head_only)
{
    if (!req || req->answered) {
        if (fd >= 0)
            close(fd);
        return;
    }
    req->fd = fd;
    if (!req->wsi) {
        req_free(req);
        return;
    }
    req->answered = 1;
    http_unpause_for_answer(req);
    req->status = status;
    req->foff = offset;
    req->fleft = len;
    req->head_only = head_only;
    snprintf(req->ctype, sizeof req->ctype, "%s", content_type);
    lws_callback_on_writable(req->wsi);
}

static void file_read_done(uv_fs_t *fs)
{
    ws_http_req_t *req = fs->data;
    ssize_t n = fs->result;
    uv_fs_req_cleanup(fs);
    req->fs_busy = 0;
    if (req->orphan) {
        req->orphan = 0;
        req_free(req);
        return;
    }
    if (n <= 0) { /* the file shrank or failed: the promised length cannot be sent, so end the connection */
        log_warn("http: reading %s failed: %s", req->path, n < 0 ? uv_strerror((int)n) : "end of file");
        req->fleft = 0;
        req->fbuf_len = 0;
        if (req->wsi)
            lws_set_timeout(req->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    req->fbuf_len = (size_t)n;
    if (req->wsi)
        lws_callback_on_writable(req->wsi);
}

/* Starts reading the next piece of a file answer on the thread pool. 0, or -1 if it cannot. */
static int file_read_next(ws_http_req_t *req)
{
    size_t want = req->fleft < FILE_PIECE ? (size_t)req->fleft : FILE_PIECE;
    if (!req->fbuf && !(req->fbuf = malloc(LWS_PRE + FILE_PIECE)))
        return -1;
    uv_buf_t b = uv_buf_init((char *)req->fbuf + LWS_PRE, (unsigned)want);
    req->fs.data = req;
    if (uv_fs_read(uvloop, &req->fs, req->fd, &b, 1, (int64_t)req->foff, file_read_done) < 0)
        return -1;
    req->fs_busy = 1;
    return 0;
}

/* One step of a file answer per writeable callback: the headers, then each piece once it is read. */
static int http_write_file(struct lws *wsi, http_sess_t *h)
{
    ws_http_req_t *req = h->req;
    if (!req->headers_sent) {
        if (http_write_headers(wsi, req, req->fleft))
            return -1;
        if (req->head_only || req->fleft == 0) {
            /* lws wants the end of a transaction marked by a final write, even of nothing */
            return http_done(wsi, h);
        }
        return file_read_next(req);
    }
    if (req->fs_busy || !req->fbuf_len)
        return 0; /* the read's callback asks for writeable again */
    size_t n = req->fbuf_len;
    req->fleft -= n;
    req->foff += n;
    req->fbuf_len = 0;
    int last = req->fleft == 0;
    if (lws_write(wsi, req->fbuf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) {
        http_detach(h);
        return -1;
    }
    if (last)
        return http_done(wsi, h);
    return file_read_next(req);
}

/* The connection's request is over (answered and written, or the connection closed). */
static void http_detach(http_sess_t *h)
{
    if (!h || !h->req)
        return;
    ws_http_req_t *req = h->req;
    h->req = NULL;
    if (req->answered) {
        req_free(req);
        return;
    }
    req->wsi = NULL; /* ws_http_answer frees it */
    if (req->body_fn && !req->body_done) {
        req->body_done = 1;
        req->body_fn(req, WS_BODY_ABORT, NULL, 0, req->body_priv); /* may answer: frees req */
    }
}

/* The request's method and its path (the URI token of that method). Returns the method, NULL if none we serve. */
static const char *http_method(struct lws *wsi, char *uri, size_t cap)
{
    static const struct { enum lws_token_indexes tok; const char *name; } methods[] = {
        {WSI_TOKEN_GET_URI, "GET"},   {WSI_TOKEN_HEAD_URI, "HEAD"},     {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_PUT_URI, "PUT"},   {WSI_TOKEN_DELETE_URI, "DELETE"},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0)
            return lws_hdr_copy(wsi, uri, (int)cap, methods[i].tok) > 0 ? methods[i].name : NULL;
    return NULL;
}

static int on_http(struct lws *wsi, http_sess_t *h)
{
    char uri[HTTP_PATH_MAX];
    const char *method = http_method(wsi, uri, sizeof uri);
    const route_t *r = method ? route_find(uri) : NULL;
    if (r && !r->all_methods && strcmp(method, "GET") != 0) {
        lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
        return -1;
    }
    if (!method) {
        lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
        return -1;
    }
    ws_http_req_t *req = r && h ? calloc(1, sizeof *req) : NULL;
    if (!req) {
        lws_return_http_status(wsi, r ? HTTP_STATUS_INTERNAL_SERVER_ERROR : HTTP_STATUS_NOT_FOUND, NULL);
        return -1;
    }
    http_detach(h); /* a request left over on a kept-alive connection */
    memcpy(req->path, uri, strlen(uri) + 1);
    req->method = method;
    req->fd = -1;
    req->has_body = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && strcmp(method, "GET") != 0 &&
                    strcmp(method, "HEAD") != 0;
    if (req->has_body) {
        char cl[24];
        if (lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 && strtoull(cl, NULL, 10) == 0)
            req->has_body = 0;
    }
    req->wsi = wsi;
    h->req = req;
    req->in_route = 1;
    r->fn(req, r->arg);
    if (h->req == req)
        req->in_route = 0;
    return 0;
}

/* Headers at one writeable callback, the body at the next (lws 4.1 wants one write per callback). */
/* The status line and headers of req's answer: Content-Length clen, Cache-Control, the route's own. */
static int http_write_headers(struct lws *wsi, ws_http_req_t *req, uint64_t clen)
{
    /* room for the status line, the canned security headers (about 700 bytes) and our own (1 KiB) */
    unsigned char hdr[LWS_PRE + 3072], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)req->status, req->ctype, (lws_filepos_t)clen, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    for (size_t i = 0; i < req->xhdr_len;) {
        const char *name = req->xhdr + i, *value = name + strlen(name) + 1;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value,
                                        (int)strlen(value), &p, end))
            return -1;
        i += strlen(name) + strlen(value) + 2;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    req->headers_sent = 1;
    return 0;
}

/* The answer is written: keep the connection for the next request, unless the body was not read to
 * its end (what follows on the socket would be parsed as a request) — then close it. */
static int http_done(struct lws *wsi, http_sess_t *h)
{
    ws_http_req_t *req = h->req;
    int unread = req->has_body && !req->body_done;
    http_detach(h);
    return unread || lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int http_write_file(struct lws *wsi, http_sess_t *h);

/* Headers at one writeable callback, the body at the next (lws 4.1 wants one write per callback). */
static int http_write(struct lws *wsi, http_sess_t *h)
{
    ws_http_req_t *req = h->req;
    if (req->fd >= 0)
        return http_write_file(wsi, h);
    if (!req->body) {
        lws_return_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL);
        return -1;
    }
    if (!req->headers_sent) {
        if (http_write_headers(wsi, req, req->len))
            return -1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    int n = lws_write(wsi, req->body + LWS_PRE, req->len, LWS_WRITE_HTTP_FINAL);
    if (n < 0) {
        http_detach(h);
        return -1;
    }
    return http_done(wsi, h);
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
        if (h && h->req && h->req->answered)
            return http_write(wsi, h) ? -1 : 0;
        break;
    case LWS_CALLBACK_HTTP_BODY:
        if (h && h->req && h->req->body_fn && !h->req->body_done && len)
            h->req->body_fn(h->req, WS_BODY_DATA, in, len, h->req->body_priv);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (h && h->req && !h->req->body_done) {
            h->req->body_done = 1;
            if (h->req->body_fn)
                h->req->body_fn(h->req, WS_BODY_END, NULL, 0, h->req->body_priv);
        }
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        http_detach(h);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"http", cb_http, sizeof(http_sess_t), 0, 0, NULL, 0},
    {WS_PROTOCOL, cb_ws, sizeof(ws_sess_t), WS_RX_PIECE, 0, NULL, WS_TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

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

/* Security headers on every HTTP response lws makes (the web client's files, the routes' answers, lws's
 * own errors): lws adds a vhost's canned headers wherever it writes a status line. The policy fits the
 * web client exactly — ES modules and a stylesheet from this server, no inline script or style, no eval,
 * the WebSocket back to this server only (CSP 3: 'self' covers ws:/wss: to the same host), media from
 * the camera, microphone and screen only for this origin — so an injected string can run nothing, load
 * nothing from elsewhere and send nothing elsewhere. The names carry lws's trailing colon. */
#define CSP_POLICY                                                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "                         \
    "media-src 'self' blob:; connect-src 'self'; manifest-src 'self'; font-src 'self'; base-uri 'none'; "          \
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
#define PERMISSIONS_POLICY                                                                                           \
    "camera=(self), microphone=(self), display-capture=(self), autoplay=(self), fullscreen=(self), "               \
    "geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), midi=()"
static const struct lws_protocol_vhost_options security_headers[] = {
    {&security_headers[1], NULL, "Content-Security-Policy:", CSP_POLICY},
    {&security_headers[2], NULL, "X-Content-Type-Options:", "nosniff"},
    {&security_headers[3], NULL, "X-Frame-Options:", "DENY"},
    {&security_headers[4], NULL, "Referrer-Policy:", "no-referrer"},
    {&security_headers[5], NULL, "Permissions-Policy:", PERMISSIONS_POLICY},
    {NULL, NULL, "Cross-Origin-Opener-Policy:", "same-origin"},
};

int ws_start(uv_loop_t *loop, const signal_config_t *config)
{
    cfg = config;
    uvloop = loop;
    idle_init(&idle);
    lws_set_log_level(LLL_ERR | LLL_WARN | (log_level >= LOG_LVL_DEBUG ? LLL_NOTICE : 0), lws_log);

    mounts[0].mountpoint = "/";
    mounts[0].origin = cfg->web_root;
    mounts[0].def = "index.html";
    mounts[0].origin_protocol = LWSMPRO_FILE;
    mounts[0].mountpoint_len = 1;
    for (size_t i = 0; i < nroutes; i++) {
        struct lws_http_mount *m = &mounts[1 + i];
        m->mountpoint = routes[i].prefix;
        m->mountpoint_len = (unsigned char)routes[i].len;
        m->origin = "http"; /* the protocol whose callback answers */
        m->origin_protocol = LWSMPRO_CALLBACK;
        mounts[i].mount_next = m;
    }

    static void *loops[1];
    loops[0] = loop;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.port = (int)cfg->listen_port;
    info.iface = cfg->listen_address;
    info.protocols = protocols;
    info.mounts = mounts;
    info.vhost_name = "staffroom";
    info.headers = security_headers;
    /* lws's own idle pings would re-arm a per-connection timer in its sorted timer list at every frame
     * and pong (O(n) each): turned off, idle_tick does the same job in O(1) per event. */
    info.retry_and_idle_policy = &no_validity_timers;
    /* Handshakes and HTTP requests that stall are dropped after this long (lws arms these timers only
     * while a request is incomplete, never on an established WebSocket). */
    info.timeout_secs = 10;
    /* lws sizes its fd table from the process's file limit (main.c raises it first); fd_limit_per_thread
     * stays 0, since a value below the limit turns lws's fd lookup into a linear scan. */
    ctx = lws_create_context(&info);
    if (!ctx) {
        log_error("cannot listen on %s:%lld (see lws errors above)", cfg->listen_address, cfg->listen_port);
        return -1;
    }
    uv_idle_init(loop, &replay_idle);
    replay_ready = 1;
    uv_check_init(loop, &flusher);
    uv_check_start(&flusher, flush_after_poll);
    uv_unref((uv_handle_t *)&flusher);
    uv_prepare_init(loop, &flusher_before_poll);
    uv_prepare_start(&flusher_before_poll, flush_before_poll);
    uv_unref((uv_handle_t *)&flusher_before_poll);
    flusher_ready = 1;
    uv_timer_init(loop, &idle_timer);
    uv_timer_start(&idle_timer, idle_tick, IDLE_TICK_MS, IDLE_TICK_MS);
    idle_timer_on = 1;
    last_trim_ms = now_ms();
    return 0;
}

size_t ws_close_all(int force)
{
    for (ws_sess_t *s = sessions; s; s = s->next) {
        if (s->killed)
            continue;
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
    if (idle_timer_on) {
        uv_timer_stop(&idle_timer);
        uv_close((uv_handle_t *)&idle_timer, NULL);
        idle_timer_on = 0;
    }
    if (flusher_ready) {
        flush_dirty();
        uv_check_stop(&flusher);
        uv_close((uv_handle_t *)&flusher, NULL);
        uv_prepare_stop(&flusher_before_poll);
        uv_close((uv_handle_t *)&flusher_before_poll, NULL);
        flusher_ready = 0;
    }
    if (replay_ready) {
        uv_idle_stop(&replay_idle);
        uv_close((uv_handle_t *)&replay_idle, NULL);
        replay_ready = replay_on = 0;
    }
    if (!ctx)
        return;
    lws_context_destroy(ctx);
    ctx = NULL;
    lws_kicked = 0;
}
