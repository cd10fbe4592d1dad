/* worker.c — see worker.h. */
#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "batchwait.h"
#include "log.h"
#include "net_ring.h"
#include "net_udp.h"
#include "pace.h"

#define WORKER_EVENTS 128
#define WORKER_RX_ROUNDS 8     /* recvmmsg batches per socket per wakeup: bounded work */
#define WORKER_ACCEPTS 32      /* accepts per listener per wakeup */
#define WORKER_MAX_WAIT_MS 1000
#define WORKER_TCP_IDLE_MS 60000 /* a TCP/TLS connection silent this long without an allocation */

enum { H_WAKE, H_UDP, H_TCP_LISTEN, H_TLS_LISTEN, H_RELAY, H_CONN };

typedef struct handle {
    int kind;
    int fd;
    int dead;       /* closed; freed at the end of this wakeup (events may still name it) */
    int closing;    /* connection failed while in use: closed at the end of this wakeup */
    int out_armed;  /* EPOLLOUT registered */
    int paused;     /* listener: accepting paused after EMFILE (re-armed by worker_idle_check) */
    int ring_live;  /* H_UDP/H_RELAY on the ring: its receive names this handle until it has ended */
    uint64_t last_rx_ms;    /* H_CONN: last time the client sent something */
    addr_t local;
    alloc_relay_t *relay;   /* H_RELAY */
    net_conn_t *conn;       /* H_CONN */
    turn_client_t client;   /* H_CONN */
    struct handle *prev, *next; /* H_CONN: the worker's connection list */
    struct handle *later;       /* dead / closing lists */
    struct handle *again_next;  /* H_CONN: TLS bytes left to process on the next round */
    int in_again;
} handle_t;

struct worker {
    int id;
    int ep;
    batchwait_t *bw; /* NULL: sleep in epoll_wait */
    pace_t pace;     /* whether this turn's wait lets datagrams gather (batchwait or the ring's minimum wait) */
    pthread_t thread;
    int started;
    sem_t ready;     /* posted by the thread once its loop is set up */
    int want_ring;   /* event-loop io_uring was asked for */
    unsigned batch_wait_us;
    net_ring_t *ring;  /* NULL: UDP sockets on epoll (created on the worker's thread) */
    int epoll_pending; /* ring: the epoll instance has (or may still have) events */
    handle_t *zombies; /* dead handles whose ring receive has not ended yet */
    atomic_int stop;
    handle_t wake;
    turn_t *turn;
    stats_t stats;
    net_rx_t *rx;
    net_tx_t *tx;
    net_tls_t *tls;
    handle_t **listeners;
    size_t nlisteners;
    handle_t conns; /* list head */
    handle_t *dead, *closing, *again;
    uint64_t now_ms;
    int64_t now_unix;
    uint64_t next_idle_check;
};

static void worker_clock(worker_t *w)
{
    struct timespec m, r;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r);
    w->now_ms = (uint64_t)m.tv_sec * 1000 + (uint64_t)m.tv_nsec / 1000000;
    w->now_unix = r.tv_sec;
}

static int watch(worker_t *w, handle_t *h, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = h};
    return epoll_ctl(w->ep, op, h->fd, &ev);
}

static void bury(worker_t *w, handle_t *h)
{
    if (h->dead)
        return;
    h->dead = 1;
    if (h->ring_live && w->ring)
        net_ring_recv_stop(w->ring, h->fd, h); /* submitted now: the fd can be closed */
    if (h->fd >= 0) {
        if (!h->ring_live)
            epoll_ctl(w->ep, EPOLL_CTL_DEL, h->fd, NULL);
        if (h->kind != H_CONN) /* a connection's fd is closed by net_conn_free */
            close(h->fd);
    }
    h->later = w->dead;
    w->dead = h;
}

static void conn_close(worker_t *w, handle_t *h)
{
    if (h->dead)
        return;
    if (h->in_again) /* it will be freed at the end of this wakeup: off the retry list */
        for (handle_t **pp = &w->again; *pp; pp = &(*pp)->again_next)
            if (*pp == h) {
                *pp = h->again_next;
                h->in_again = 0;
                break;
            }
    turn_client_closed(w->turn, &h->client); /* §3.1: the allocation goes with the connection */
    h->prev->next = h->next;
    h->next->prev = h->prev;
    bury(w, h);
    net_conn_free(h->conn);
    h->conn = NULL;
    h->fd = -1;
}

static void conn_arm(worker_t *w, handle_t *h)
{
    int want = net_conn_wants_write(h->conn);
    if (want != h->out_armed) {
        watch(w, h, EPOLLIN | (want ? EPOLLOUT : 0), EPOLL_CTL_MOD);
        h->out_armed = want;
    }
}

/* A UDP socket's datagrams come through the ring when there is one, else through epoll. */
static int udp_watch(worker_t *w, handle_t *h)
{
    if (w->ring) {
        int rc = net_ring_recv_start(w->ring, h->fd, h);
        if (rc < 0) {
            errno = -rc;
            return -1;
        }
        h->ring_live = 1;
        return 0;
    }
    return watch(w, h, EPOLLIN, EPOLL_CTL_ADD);
}

/* ---- turn_io_t ---- */

static void io_send_client(void *ctx, const turn_client_t *c, const uint8_t *data, size_t len)
{
    worker_t *w = ctx;
    handle_t *h = c->conn;
    if (c->transport == TURN_UDP) {
        net_tx_add(w->tx, h->fd, &c->remote, data, len);
        return;
    }
    if (h->dead || h->closing)
        return;
    if (net_conn_send(h->conn, data, len) < 0) {
        h->closing = 1; /* maybe inside this connection's own read loop: close later */
        h->later = w->closing;
        w->closing = h;
        return;
    }
    conn_arm(w, h);
}

static int io_relay_open(void *ctx, const addr_t *addr, alloc_relay_t *relay, void **sock)
{
    worker_t *w = ctx;
    int fd = net_udp_open(addr, 0);
    if (fd < 0)
        return fd;
    if (relay->dont_fragment)
        net_udp_set_dont_fragment(fd, addr);
    handle_t *h = calloc(1, sizeof *h);
    if (!h) {
        close(fd);
        return -ENOMEM;
    }
    h->kind = H_RELAY;
    h->fd = fd;
    h->relay = relay;
    h->local = *addr;
    if (udp_watch(w, h) < 0) {
        int e = errno;
        close(fd);
        free(h);
        return -e;
    }
    *sock = h;
    return 0;
}

static void io_relay_close(void *ctx, void *sock)
{
    worker_t *w = ctx;
    handle_t *h = sock;
    net_tx_flush(w->tx); /* queued datagrams name this fd: send them before it is reused */
    h->relay = NULL;
    bury(w, h);
}

static void io_send_peer(void *ctx, void *sock, const addr_t *peer, const uint8_t *data, size_t len)
{
    worker_t *w = ctx;
    handle_t *h = sock;
    net_tx_add(w->tx, h->fd, peer, data, len);
}

/* ---- events ---- */

/* One datagram that arrived on a listening or relay socket, from either path. */
static void on_datagram(worker_t *w, handle_t *h, const uint8_t *p, size_t len, const addr_t *from)
{
    if (h->kind == H_UDP) {
        turn_client_t c = {.transport = TURN_UDP, .remote = *from, .local = h->local, .conn = h};
        turn_client_input(w->turn, &c, p, len, w->now_ms, w->now_unix);
    } else if (h->relay) {
        turn_peer_input(w->turn, h->relay, from, p, len, w->now_ms);
    }
}

static void on_udp(worker_t *w, handle_t *h)
{
    for (int round = 0; round < WORKER_RX_ROUNDS; round++) {
        int n = net_rx_recv(w->rx, h->fd);
        for (int i = 0; i < n; i++) {
            size_t len;
            addr_t from;
            const uint8_t *p = net_rx_data(w->rx, i, &len, &from);
            if (p)
                on_datagram(w, h, p, len, &from);
        }
        /* No flush here: what this socket's packets produced waits in w->tx with the other sockets'
         * output and leaves in one sendmmsg per destination socket at the end of the wakeup (or when the
         * batch fills). Many allocations sending to one client socket then cost one system call, not one
         * per packet. */
        if (n < NET_RX_BATCH || h->dead)
            break;
    }
}

typedef struct {
    worker_t *w;
    handle_t *h;
} frame_ctx_t;

static void on_frame(void *ctx, const uint8_t *p, size_t n)
{
    frame_ctx_t *f = ctx;
    if (f->h->closing)
        return;
    turn_client_input(f->w->turn, &f->h->client, p, n, f->w->now_ms, f->w->now_unix);
}

static void on_conn(worker_t *w, handle_t *h, uint32_t ev)
{
    frame_ctx_t f = {w, h};
    int rc = 0;
    if (ev & EPOLLIN)
        h->last_rx_ms = w->now_ms;
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP) || (h->client.transport == TURN_TLS && (ev & EPOLLOUT)))
        rc = net_conn_on_ready(h->conn, on_frame, &f);
    if (rc == 1) { /* bounded work done, TLS has more: come back without waiting for epoll */
        rc = 0;
        if (!h->in_again) {
            h->in_again = 1;
            h->again_next = w->again;
            w->again = h;
        }
    }
    if (rc == 0 && !h->closing && (ev & EPOLLOUT))
        rc = net_conn_flush(h->conn);
    if (rc < 0 || h->closing) {
        if (!h->closing)
            conn_close(w, h);
        return;
    }
    conn_arm(w, h);
}

static void on_accept(worker_t *w, handle_t *l)
{
    static _Atomic uint64_t last_warn;
    for (int i = 0; i < WORKER_ACCEPTS; i++) {
        addr_t remote, local;
        int fd = net_tcp_accept(l->fd, &remote, &local);
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* Out of descriptors: stop watching this listener for a second (a level-triggered
                 * listener would wake us in a loop), leave the backlog waiting, warn at most every
                 * 10 s. */
                watch(w, l, 0, EPOLL_CTL_MOD);
                l->paused = 1;
                if (w->now_ms - atomic_load(&last_warn) > 10000) {
                    atomic_store(&last_warn, w->now_ms);
                    log_warn("worker %d: accept: %s; pausing accept", w->id, strerror(-fd));
                }
            }
            return;
        }
        handle_t *h = calloc(1, sizeof *h);
        net_conn_t *c = net_conn_new(fd, l->kind == H_TLS_LISTEN ? w->tls : NULL);
        if (!h || !c) {
            free(h);
            if (c)
                net_conn_free(c);
            continue;
        }
        h->kind = H_CONN;
        h->fd = fd;
        h->last_rx_ms = w->now_ms;
        h->conn = c;
        h->local = local;
        h->client = (turn_client_t){.transport = l->kind == H_TLS_LISTEN ? TURN_TLS : TURN_TCP,
                                    .remote = remote, .local = local, .conn = h};
        if (watch(w, h, EPOLLIN, EPOLL_CTL_ADD) < 0) {
            net_conn_free(c);
            free(h);
            continue;
        }
        h->next = w->conns.next;
        h->prev = &w->conns;
        w->conns.next->prev = h;
        w->conns.next = h;
        char a[ADDR_STRLEN];
        log_debug("worker %d: %s connection from %s", w->id, l->kind == H_TLS_LISTEN ? "TLS" : "TCP",
                  addr_format(&remote, a, sizeof a));
    }
}

/* Once a second: re-arms listeners paused by EMFILE, and closes connections that hold no
 * allocation and have been silent for WORKER_TCP_IDLE_MS (idle or half-open connections must not
 * pile up). */
static void worker_idle_check(worker_t *w)
{
    if (w->now_ms < w->next_idle_check)
        return;
    w->next_idle_check = w->now_ms + 1000;
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i]->paused) {
            w->listeners[i]->paused = 0;
            watch(w, w->listeners[i], EPOLLIN, EPOLL_CTL_MOD);
        }
    for (handle_t *h = w->conns.next, *next; h != &w->conns; h = next) {
        next = h->next;
        if (w->now_ms - h->last_rx_ms > WORKER_TCP_IDLE_MS && !turn_has_allocation(w->turn, &h->client))
            conn_close(w, h);
    }
}

static void worker_reap(worker_t *w)
{
    while (w->closing) {
        handle_t *h = w->closing;
        w->closing = h->later;
        conn_close(w, h);
    }
    while (w->dead) {
        handle_t *h = w->dead;
        w->dead = h->later;
        if (h->ring_live && w->ring) { /* its receive's last completion is still to come */
            h->later = w->zombies;
            w->zombies = h;
        } else {
            free(h);
        }
    }
    for (handle_t **pp = &w->zombies; *pp;) {
        handle_t *h = *pp;
        if (h->ring_live && w->ring) {
            pp = &h->later;
        } else {
            *pp = h->later;
            free(h);
        }
    }
}

static uint64_t relayed_packets(worker_t *w)
{
    return atomic_load_explicit(&w->stats.client_to_peer_packets, memory_order_relaxed) +
           atomic_load_explicit(&w->stats.peer_to_client_packets, memory_order_relaxed);
}

/* Collects ready events, sleeping up to wait_ms when there are none. With a batchwait in use the sleep
 * lets a burst gather (see batchwait.h); the events themselves always come from epoll_wait. */
static int worker_wait(worker_t *w, struct epoll_event *evs, int wait_ms)
{
    int batching = w->bw && pace_turn(&w->pace, w->now_ms, relayed_packets(w));
    if (!batching || wait_ms == 0)
        return epoll_wait(w->ep, evs, WORKER_EVENTS, wait_ms);
    batchwait_arm(w->bw);
    int n = epoll_wait(w->ep, evs, WORKER_EVENTS, 0);
    if (n != 0)
        return n;
    int rc = batchwait_sleep(w->bw, wait_ms);
    if (rc < 0) {
        log_warn("worker %d: batched wait failed (%s): waking per event from now on", w->id, strerror(-rc));
        batchwait_free(w->bw);
        w->bw = NULL;
        return epoll_wait(w->ep, evs, WORKER_EVENTS, wait_ms);
    }
    return epoll_wait(w->ep, evs, WORKER_EVENTS, 0);
}

/* Handles what epoll_wait reported. */
static void worker_events(worker_t *w, const struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        handle_t *h = evs[i].data.ptr;
        if (h->dead)
            continue;
        switch (h->kind) {
        case H_WAKE: {
            uint64_t v;
            ssize_t r = read(h->fd, &v, sizeof v);
            (void)r;
            break;
        }
        case H_UDP:
        case H_RELAY:
            on_udp(w, h);
            break;
        case H_TCP_LISTEN:
        case H_TLS_LISTEN:
            on_accept(w, h);
            break;
        case H_CONN:
            if (!h->closing)
                on_conn(w, h, evs[i].events);
            break;
        }
    }
}

/* TLS connections that still had decrypted input: one more bounded round each. */
static void worker_again(worker_t *w)
{
    handle_t *again = w->again;
    w->again = NULL;
    while (again) {
        handle_t *h = again;
        again = h->again_next;
        h->in_again = 0;
        if (!h->dead && !h->closing)
            on_conn(w, h, EPOLLIN);
    }
}

/* The ms the loop may sleep: until turn's next timer, at most WORKER_MAX_WAIT_MS, 0 with work left. */
static int worker_timeout(worker_t *w)
{
    uint64_t wait = turn_tick(w->turn, w->now_ms);
    if (wait > WORKER_MAX_WAIT_MS)
        wait = WORKER_MAX_WAIT_MS;
    if (w->again || w->epoll_pending)
        wait = 0;
    return (int)wait;
}

static void worker_loop_epoll(worker_t *w)
{
    struct epoll_event evs[WORKER_EVENTS];
    while (!atomic_load(&w->stop)) {
        worker_clock(w);
        int n = worker_wait(w, evs, worker_timeout(w));
        if (n < 0 && errno != EINTR) {
            log_error("worker %d: epoll_wait: %s", w->id, strerror(errno));
            break;
        }
        worker_clock(w);
        worker_events(w, evs, n);
        worker_again(w);
        net_tx_flush(w->tx);
        worker_idle_check(w);
        worker_reap(w);
    }
}

/* ---- the io_uring loop: net_ring's callbacks ---- */

static void ring_datagram(void *ctx, void *tag, const uint8_t *data, size_t len, const addr_t *from)
{
    handle_t *h = tag;
    if (!h->dead) /* completions queued before its receive was cancelled */
        on_datagram(ctx, h, data, len, from);
}

static void ring_recv_ended(void *ctx, void *tag, int stopped, int res)
{
    worker_t *w = ctx;
    handle_t *h = tag;
    (void)stopped;
    if (h->dead) { /* cancelled (or ended just before): nothing of the ring names it any more */
        h->ring_live = 0;
        return;
    }
    /* Ended on its own: -ENOBUFS when every buffer was taken by a burst (the datagrams wait in the socket
     * until the buffers given back during this dispatch take them), rarely a socket error. Go on. */
    if (res != -ENOBUFS)
        log_debug("worker %d: receive ended (%s); restarting it", w->id, strerror(-res));
    if (net_ring_recv_start(w->ring, h->fd, h) < 0) {
        log_error("worker %d: cannot restart a receive: the socket is deaf", w->id);
        h->ring_live = 0;
    }
}

static void ring_epoll_ready(void *ctx)
{
    worker_t *w = ctx;
    w->epoll_pending = 1;
}

static void ring_send_failed(void *ctx, int res, unsigned segs)
{
    worker_t *w = ctx;
    /* As on the sendmmsg path: no segmentation on this path, so one by one from now on (this batch's
     * datagrams are lost once); other errors (EAGAIN, ICMP-reported ones) drop the datagrams. */
    if (segs > 1 && (res == -EIO || res == -EINVAL))
        net_tx_gso_disable(w->tx);
}

static void worker_loop_ring(worker_t *w)
{
    struct epoll_event evs[WORKER_EVENTS];
    while (!atomic_load(&w->stop)) {
        worker_clock(w);
        /* One system call: this turn's sends go out, every socket's datagrams come in. The minimum wait
         * is free here (no extra calls), but it only pays under steady traffic: the pacer measures which
         * mode costs less (pace.h), as for batchwait. */
        int batch = net_ring_min_wait(w->ring) && pace_turn(&w->pace, w->now_ms, relayed_packets(w));
        int rc = net_ring_enter(w->ring, worker_timeout(w), batch);
        net_tx_committed(w->tx);
        if (rc < 0) {
            log_error("worker %d: io_uring_enter: %s", w->id, strerror(-rc));
            break;
        }
        worker_clock(w);
        net_ring_dispatch(w->ring);
        if (w->epoll_pending) {
            w->epoll_pending = 0;
            int n = epoll_wait(w->ep, evs, WORKER_EVENTS, 0);
            /* Look again without sleeping after any event: the ring's multishot poll on the epoll fd
             * fires on new wake-ups only, and a handler that does bounded work (accept, TCP reads)
             * leaves its socket ready without one. Epoll's own loop gets that from level triggering;
             * here, connections left in a listener's queue waited for the next new event. */
            if (n > 0)
                w->epoll_pending = 1;
            worker_events(w, evs, n);
        }
        worker_again(w);
        net_tx_flush(w->tx); /* handed to the ring: leaves with the next enter */
        worker_idle_check(w);
        worker_reap(w);
    }
}

/* Sets up the ring if asked for and possible (on this thread: it is the ring's only submitter), and puts
 * the UDP listening sockets on the ring or on epoll. */
static void worker_setup_loop(worker_t *w)
{
    if (w->want_ring) {
        net_ring_cb_t cb = {.ctx = w, .datagram = ring_datagram, .recv_ended = ring_recv_ended,
                            .epoll_ready = ring_epoll_ready, .send_failed = ring_send_failed};
        w->ring = net_ring_new(w->ep, &cb, w->batch_wait_us);
        if (!w->ring && w->id == 0)
            log_warn("event-loop io_uring: not available here (%s): using epoll", strerror(errno));
    }
    if (w->ring) {
        net_tx_sender_t snd = {.ctx = w->ring, .send = net_ring_send, .commit = net_ring_commit};
        net_tx_set_sender(w->tx, &snd);
    }
    for (size_t i = 0; i < w->nlisteners; i++)
        if (w->listeners[i]->kind == H_UDP && udp_watch(w, w->listeners[i]) < 0)
            log_error("worker %d: cannot watch a UDP listener: %s", w->id, strerror(errno));
}

static void worker_teardown_loop(worker_t *w)
{
    if (!w->ring)
        return;
    net_tx_set_sender(w->tx, NULL); /* what is queued leaves through the ring first */
    net_ring_free(w->ring);
    w->ring = NULL; /* from here on no handle is named by the ring: reaping frees the zombies */
    worker_reap(w);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    worker_setup_loop(w);
    sem_post(&w->ready);
    if (w->ring)
        worker_loop_ring(w);
    else
        worker_loop_epoll(w);
    worker_teardown_loop(w);
    return NULL;
}

/* ---- setup ---- */

static int add_listener(worker_t *w, int kind, int fd, char *err, size_t errlen)
{
    handle_t *h = calloc(1, sizeof *h);
    handle_t **grown = realloc(w->listeners, (w->nlisteners + 1) * sizeof *grown);
    if (!h || !grown) {
        free(h);
        if (grown)
            w->listeners = grown;
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->listeners = grown;
    h->kind = kind;
    h->fd = fd;
    net_local_addr(fd, &h->local);
    w->listeners[w->nlisteners++] = h;
    if (kind != H_UDP && watch(w, h, EPOLLIN, EPOLL_CTL_ADD) < 0) { /* UDP: worker_setup_loop, on its thread */
        snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int open_listener(worker_t *w, int kind, const addr_t *base, uint16_t *port, char *err,
                         size_t errlen)
{
    addr_t a = *base;
    a.port = *port;
    if (w->id == 0 && a.port != 0) {
        /* SO_REUSEPORT would let us share a port with another relay left running: the first
         * worker checks that nobody holds it by binding once without the option. */
        int probe = kind == H_UDP ? net_udp_open(&a, 0) : net_tcp_listen(&a, 0);
        if (probe < 0) {
            char s[ADDR_STRLEN];
            snprintf(err, errlen, "cannot listen on %s %s: %s", kind == H_UDP ? "udp" : "tcp",
                     addr_format(&a, s, sizeof s), strerror(-probe));
            return -1;
        }
        close(probe);
    }
    int fd = kind == H_UDP ? net_udp_open(&a, 1) : net_tcp_listen(&a, 1);
    if (fd < 0) {
        char s[ADDR_STRLEN];
        snprintf(err, errlen, "cannot listen on %s %s: %s", kind == H_UDP ? "udp" : "tcp",
                 addr_format(&a, s, sizeof s), strerror(-fd));
        return -1;
    }
    if (*port == 0) {
        addr_t got;
        net_local_addr(fd, &got);
        *port = got.port;
    }
    return add_listener(w, kind, fd, err, errlen);
}

worker_t *worker_new(int id, worker_params_t *p, char *err, size_t errlen)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->id = id;
    w->ep = -1;
    w->wake.fd = -1;
    w->conns.next = w->conns.prev = &w->conns;
    w->tls = p->tls;
    w->want_ring = p->io_uring;
    w->batch_wait_us = p->batch_wait_us;
    pace_init(&w->pace);
    if (sem_init(&w->ready, 0, 0) < 0) {
        free(w);
        snprintf(err, errlen, "sem_init: %s", strerror(errno));
        return NULL;
    }
    turn_io_t io = {.ctx = w, .send_client = io_send_client, .relay_open = io_relay_open,
                    .relay_close = io_relay_close, .send_peer = io_send_peer};
    if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (w->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    w->wake.kind = H_WAKE;
    if (watch(w, &w->wake, EPOLLIN, EPOLL_CTL_ADD) < 0 || !(w->rx = net_rx_new()) ||
        !(w->tx = net_tx_new()) || !(w->turn = turn_new(&p->turn, &io, &w->stats))) {
        snprintf(err, errlen, "worker setup: out of memory");
        goto fail;
    }
    if (p->batch_wait_us && !p->io_uring && !(w->bw = batchwait_new(w->ep, p->batch_wait_us)) && id == 0)
        log_info("batch-wait-us: not available on this kernel (%s): waking per event", strerror(errno));
    for (size_t i = 0; i < p->nlisten; i++) {
        if (open_listener(w, H_UDP, &p->listen[i], &p->port, err, errlen) < 0 ||
            open_listener(w, H_TCP_LISTEN, &p->listen[i], &p->port, err, errlen) < 0)
            goto fail;
        if (p->tls && open_listener(w, H_TLS_LISTEN, &p->listen[i], &p->tls_port, err, errlen) < 0)
            goto fail;
    }
    return w;
fail:
    worker_free(w);
    return NULL;
}

int worker_start(worker_t *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return -1;
    w->started = 1;
    while (sem_wait(&w->ready) < 0 && errno == EINTR)
        ;
    return 0;
}

void worker_stop(worker_t *w)
{
    if (!w || !w->started)
        return;
    atomic_store(&w->stop, 1);
    uint64_t one = 1;
    ssize_t r = write(w->wake.fd, &one, sizeof one);
    (void)r;
    pthread_join(w->thread, NULL);
    w->started = 0;
}

void worker_free(worker_t *w)
{
    if (!w)
        return;
    turn_free(w->turn); /* closes relay sockets through io_relay_close */
    while (w->conns.next != &w->conns) {
        handle_t *h = w->conns.next;
        h->prev->next = h->next;
        h->next->prev = h->prev;
        net_conn_free(h->conn);
        free(h);
    }
    for (size_t i = 0; i < w->nlisteners; i++) {
        close(w->listeners[i]->fd);
        free(w->listeners[i]);
    }
    free(w->listeners);
    w->turn = NULL;
    w->closing = NULL; /* connections on it were freed just above */
    w->again = NULL;
    while (w->dead) {
        handle_t *h = w->dead;
        w->dead = h->later;
        free(h);
    }
    if (w->tx)
        net_tx_flush(w->tx);
    net_tx_free(w->tx);
    net_rx_free(w->rx);
    if (w->wake.fd >= 0)
        close(w->wake.fd);
    batchwait_free(w->bw);
    if (w->ep >= 0)
        close(w->ep);
    sem_destroy(&w->ready);
    free(w);
}

const char *worker_event_loop(const worker_t *w)
{
    return w->ring ? "io_uring" : "epoll";
}

const stats_t *worker_stats(const worker_t *w)
{
    return &w->stats;
}

void worker_set_bandwidth_limit(worker_t *w, uint64_t bytes_per_s) { turn_set_bandwidth_limit(w->turn, bytes_per_s); }
