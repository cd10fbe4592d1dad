/* turn_load.c — a load generator for TURN relays (RFC 8656) over UDP on loopback.
 *
 * Owns: N allocations, each on its own client UDP socket, each ChannelBind-ed to an echo peer socket
 * that this program owns (one per worker thread). Every packet goes
 *   client --ChannelData--> relay --UDP--> peer --echo--> relay (relayed address) --ChannelData--> client
 * and carries its send time, so the client measures the round trip. Sending uses sendmmsg, receiving
 * recvmmsg; workers are threads, each owning a share of the allocations and its own peer.
 * Must not: talk to anything but the relay on 127.0.0.1/::1; run unbounded (duration and count caps).
 *
 *   turn_load -p PORT [-H 127.0.0.1] [-a ALLOCS] [-t THREADS] [-r PKTS_PER_S | -r 0 (max)]
 *             [-d SECONDS] [-n MAX_PACKETS] [-s BYTES] [-w WINDOW] [-W SECRET] [-u USERPREFIX]
 *             [-P RELAY_PID]
 *
 * -r 0 is "as fast as possible": closed loop with at most WINDOW packets in flight per allocation
 * (a stalled window reopens after 100 ms, so loss cannot stop the run); -r 0 -w 0 is an open-loop
 * flood (sendmmsg batches as fast as the sockets take them; expect loss). Without -W, no credentials
 * are sent (a relay in no-auth mode). Prints a human summary and one machine-readable line:
 *   RESULT sent=.. recv=.. seconds=.. pps=.. loss_pct=.. rtt_avg_us=.. rtt_p50_us=.. rtt_p99_us=..
 *          relay_cpu_s=.. sent_pps=..
 * With -P, relay_cpu_s is the relay process's utime+stime (all its threads, /proc/PID/stat) spent
 * between the start of sending and the end of the drain; setup is not counted. Otherwise -1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ALLOCS 20000
#define MAX_THREADS 64
#define BATCH 64
#define PKT_MAX 1400
#define HDR_LEN 16 /* payload: u64 send time (ns), u32 allocation index, u32 sequence */
/* RTT histogram: 1 us buckets up to 100 ms, then 1 ms buckets up to 10 s, then one overflow bucket */
#define HIST_FINE 100000
#define HIST_US (HIST_FINE + 9900)
#define CHANNEL 0x4000
#define STUN_MAGIC 0x2112A442u
#define DRAIN_MS 700

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#include <stdarg.h>
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("turn_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------
 * Minimal STUN encoding for the setup phase (RFC 8489 §5, §14) */

typedef struct {
    uint8_t b[1500];
    size_t len;
    uint8_t tid[12];
} stun_msg_t;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static void stun_begin(stun_msg_t *m, uint16_t type)
{
    memset(m->b, 0, 20);
    put16(m->b, type);
    put32(m->b + 4, STUN_MAGIC);
    if (RAND_bytes(m->tid, 12) != 1)
        die("RAND_bytes failed");
    memcpy(m->b + 8, m->tid, 12);
    m->len = 20;
}

static void stun_attr(stun_msg_t *m, uint16_t type, const void *v, size_t n)
{
    put16(m->b + m->len, type);
    put16(m->b + m->len + 2, (uint16_t)n);
    memcpy(m->b + m->len + 4, v, n);
    size_t padded = (n + 3) & ~(size_t)3;
    memset(m->b + m->len + 4 + n, 0, padded - n);
    m->len += 4 + padded;
    put16(m->b + 2, (uint16_t)(m->len - 20));
}

static void stun_xor_addr(stun_msg_t *m, uint16_t type, const struct sockaddr_in *sa)
{
    uint8_t v[8] = {0, 1};
    put16(v + 2, (uint16_t)(ntohs(sa->sin_port) ^ (STUN_MAGIC >> 16)));
    put32(v + 4, ntohl(sa->sin_addr.s_addr) ^ STUN_MAGIC);
    stun_attr(m, type, v, sizeof v);
}

/* MESSAGE-INTEGRITY (§14.5): HMAC-SHA1 over the message with the length already counting MI. */
static void stun_integrity(stun_msg_t *m, const uint8_t key[16])
{
    put16(m->b + 2, (uint16_t)(m->len - 20 + 24));
    unsigned int maclen = 0;
    uint8_t mac[EVP_MAX_MD_SIZE];
    HMAC(EVP_sha1(), key, 16, m->b, m->len, mac, &maclen);
    stun_attr(m, 0x0008, mac, 20);
}

static uint32_t crc32_table[256];
static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc32_table[i] = c;
    }
}
static void stun_fingerprint(stun_msg_t *m)
{
    put16(m->b + 2, (uint16_t)(m->len - 20 + 8));
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < m->len; i++)
        c = crc32_table[(c ^ m->b[i]) & 0xFF] ^ (c >> 8);
    c = ~c ^ 0x5354554Eu;
    uint8_t v[4];
    put32(v, c);
    stun_attr(m, 0x8028, v, 4);
}

/* Finds an attribute in a response; returns its length or -1. */
static int stun_find(const uint8_t *b, size_t n, uint16_t type, const uint8_t **val)
{
    if (n < 20)
        return -1;
    size_t end = 20 + (size_t)get16(b + 2);
    if (end > n)
        return -1;
    for (size_t off = 20; off + 4 <= end;) {
        uint16_t t = get16(b + off), l = get16(b + off + 2);
        if (off + 4 + l > end)
            return -1;
        if (t == type) {
            *val = b + off + 4;
            return l;
        }
        off += 4 + (((size_t)l + 3) & ~(size_t)3);
    }
    return -1;
}

static int stun_error_code(const uint8_t *b, size_t n)
{
    const uint8_t *v;
    int l = stun_find(b, n, 0x0009, &v);
    if (l < 4)
        return 0;
    return (v[2] & 7) * 100 + v[3];
}

/* ---------------------------------------------------------------------------------------------
 * Allocations */

typedef struct {
    int fd;               /* client socket, connected to the relay */
    char user[96];
    uint8_t key[16];      /* MD5(user:realm:password), once realm is known */
    char realm[128];
    uint8_t nonce[256];
    size_t nonce_len;
    struct sockaddr_in relayed;
    uint32_t seq;         /* next sequence number to send */
    uint32_t max_rx;      /* highest sequence number echoed back + 1 */
    uint64_t last_progress;
} alloc_t;

typedef struct {
    const char *host;
    int port;
    int nallocs, nthreads;
    double rate; /* packets/s in total; 0 = as fast as possible */
    double seconds;
    uint64_t max_packets;
    int size, window;
    const char *secret, *user_prefix;
    int relay_pid;
} opts_t;

static opts_t O = {"127.0.0.1", 3478, 4, 1, 0, 10, 100000000ull, 100, 64, NULL, "load", 0};

/* CPU seconds (user + system) a process has used so far, from /proc/PID/stat; -1 if unknown. */
static double proc_cpu_seconds(int pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
static alloc_t *A;
static struct sockaddr_in relay_sa;

static void set_bufs(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

static int udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&lo, sizeof lo) != 0)
        die("bind: %s", strerror(errno));
    return fd;
}

/* Sends a request and waits for the response with the same transaction id (retransmits every
 * 200 ms, 10 tries). Returns the response length in buf. */
static size_t transact(int fd, stun_msg_t *m, uint8_t *buf, size_t cap)
{
    for (int tries = 0; tries < 10; tries++) {
        if (send(fd, m->b, m->len, 0) < 0)
            die("send: %s", strerror(errno));
        uint64_t deadline = now_ns() + 200000000ull;
        for (;;) {
            int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
            if (left <= 0)
                break;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)left) <= 0)
                break;
            ssize_t n = recv(fd, buf, cap, 0);
            if (n >= 20 && (buf[0] & 0xC0) == 0 && memcmp(buf + 8, m->tid, 12) == 0)
                return (size_t)n;
        }
    }
    die("no answer from the relay at %s:%d", O.host, O.port);
}

static void add_auth(alloc_t *a, stun_msg_t *m)
{
    if (!O.secret)
        return;
    stun_attr(m, 0x0006, a->user, strlen(a->user));
    stun_attr(m, 0x0014, a->realm, strlen(a->realm));
    stun_attr(m, 0x0015, a->nonce, a->nonce_len);
    stun_integrity(m, a->key);
}

/* Learns realm and nonce from a 401/438 answer; returns 1 if it did. */
static int take_nonce(alloc_t *a, const uint8_t *b, size_t n)
{
    const uint8_t *v;
    int rl = stun_find(b, n, 0x0014, &v);
    if (rl <= 0 || rl >= (int)sizeof a->realm)
        return 0;
    memcpy(a->realm, v, (size_t)rl);
    a->realm[rl] = 0;
    int nl = stun_find(b, n, 0x0015, &v);
    if (nl <= 0 || nl > (int)sizeof a->nonce)
        return 0;
    memcpy(a->nonce, v, (size_t)nl);
    a->nonce_len = (size_t)nl;
    /* password = base64(HMAC-SHA1(secret, username)); key = MD5(username:realm:password) */
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), O.secret, (int)strlen(O.secret), (const uint8_t *)a->user, strlen(a->user), mac,
         &maclen);
    char pass[64];
    EVP_EncodeBlock((unsigned char *)pass, mac, (int)maclen);
    char kin[512];
    int kl = snprintf(kin, sizeof kin, "%s:%s:%s", a->user, a->realm, pass);
    unsigned int md5len = 0;
    EVP_Digest(kin, (size_t)kl, a->key, &md5len, EVP_md5(), NULL);
    return 1;
}

/* An authenticated request: retries once on 401 (first challenge) or 438 (stale nonce). */
static size_t request(alloc_t *a, uint16_t type, void (*attrs)(stun_msg_t *, void *), void *arg,
                      uint8_t *buf, size_t cap)
{
    for (int tries = 0; tries < 3; tries++) {
        stun_msg_t m;
        stun_begin(&m, type);
        attrs(&m, arg);
        if (a->nonce_len)
            add_auth(a, &m);
        stun_fingerprint(&m);
        size_t n = transact(a->fd, &m, buf, cap);
        int code = stun_error_code(buf, n);
        if ((code == 401 || code == 438) && O.secret && (code == 438 || !a->nonce_len) &&
            take_nonce(a, buf, n))
            continue;
        return n;
    }
    die("authentication loop with the relay");
}

static void attrs_allocate(stun_msg_t *m, void *arg)
{
    (void)arg;
    uint8_t udp[4] = {17, 0, 0, 0};
    stun_attr(m, 0x0019, udp, 4);
}

static void attrs_bind(stun_msg_t *m, void *arg)
{
    uint8_t ch[4] = {CHANNEL >> 8, CHANNEL & 0xFF, 0, 0};
    stun_attr(m, 0x000C, ch, 4);
    stun_xor_addr(m, 0x0012, arg);
}

static void attrs_dealloc(stun_msg_t *m, void *arg)
{
    (void)arg;
    uint8_t zero[4] = {0};
    stun_attr(m, 0x000D, zero, 4);
}

static void setup_alloc(alloc_t *a, int idx, const struct sockaddr_in *peer)
{
    uint8_t buf[1500];
    a->fd = udp_socket();
    set_bufs(a->fd, 1 << 20);
    if (connect(a->fd, (struct sockaddr *)&relay_sa, sizeof relay_sa) != 0)
        die("connect: %s", strerror(errno));
    snprintf(a->user, sizeof a->user, "%lld:%s%d", (long long)time(NULL) + 86400, O.user_prefix, idx);
    size_t n = request(a, 0x0003, attrs_allocate, NULL, buf, sizeof buf);
    if (get16(buf) != 0x0103)
        die("allocation %d refused: error %d", idx, stun_error_code(buf, n));
    const uint8_t *v;
    int l = stun_find(buf, n, 0x0016, &v);
    if (l < 8 || v[1] != 1)
        die("allocation %d: no IPv4 XOR-RELAYED-ADDRESS", idx);
    a->relayed.sin_family = AF_INET;
    a->relayed.sin_port = htons((uint16_t)(get16(v + 2) ^ (STUN_MAGIC >> 16)));
    a->relayed.sin_addr.s_addr = htonl(get32(v + 4) ^ STUN_MAGIC);
    n = request(a, 0x0009, attrs_bind, (void *)peer, buf, sizeof buf);
    if (get16(buf) != 0x0109)
        die("allocation %d: ChannelBind refused: error %d", idx, stun_error_code(buf, n));
}

/* Releases an allocation (Refresh, lifetime 0); the answer is not awaited. */
static void release_alloc(alloc_t *a)
{
    stun_msg_t m;
    stun_begin(&m, 0x0004);
    attrs_dealloc(&m, NULL);
    add_auth(a, &m);
    stun_fingerprint(&m);
    (void)send(a->fd, m.b, m.len, 0);
    close(a->fd);
}

/* ---------------------------------------------------------------------------------------------
 * Workers */

typedef struct {
    int id;
    int first, count;  /* allocations [first, first + count) */
    int peer_fd;
    struct sockaddr_in peer_sa;
    pthread_t thread;
    uint64_t sent, recv, echoed, bad;
    uint64_t rtt_sum_ns, rtt_n;
    uint32_t *hist;     /* HIST_US + 1 buckets */
} worker_t;

static worker_t W[MAX_THREADS];
static uint64_t hist_bucket(uint64_t us);
static atomic_int go;
static uint64_t t_start, t_stop_send, t_end;

/* Echo everything that reached the peer socket back to where it came from (a relayed address). */
static void peer_echo(worker_t *w)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in from[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], PKT_MAX};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                              .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(w->peer_fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            iov[i].iov_len = msgs[i].msg_len;
        int done = 0;
        while (done < n) {
            int s = sendmmsg(w->peer_fd, msgs + done, (unsigned)(n - done), 0);
            if (s <= 0)
                break; /* a full send buffer: the rest count as loss */
            done += s;
        }
        w->echoed += (uint64_t)done;
    }
}

static void client_recv(worker_t *w, alloc_t *a)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX + 4];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int n = recvmmsg(a->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            const uint8_t *b = bufs[i];
            if (msgs[i].msg_len < 4 + HDR_LEN || get16(b) != CHANNEL) {
                w->bad++; /* e.g. a late STUN answer */
                continue;
            }
            uint64_t sent;
            uint32_t idx, seq;
            memcpy(&sent, b + 4, 8);
            memcpy(&idx, b + 12, 4);
            memcpy(&seq, b + 16, 4);
            if (&A[idx] != a) {
                w->bad++;
                continue;
            }
            if (seq + 1 > a->max_rx) {
                a->max_rx = seq + 1;
                a->last_progress = now;
            }
            w->recv++;
            uint64_t rtt = now - sent;
            w->rtt_sum_ns += rtt;
            w->rtt_n++;
            w->hist[hist_bucket(rtt / 1000)]++;
        }
    }
}

/* Sends up to `n` packets on allocation a with one sendmmsg; returns how many went out. */
static int client_send(worker_t *w, alloc_t *a, int n)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX + 4];
    if (n > BATCH)
        n = BATCH;
    uint64_t now = now_ns();
    uint32_t idx = (uint32_t)(a - A);
    for (int i = 0; i < n; i++) {
        uint8_t *b = bufs[i];
        put16(b, CHANNEL);
        put16(b + 2, (uint16_t)O.size);
        uint32_t seq = a->seq + (uint32_t)i;
        memcpy(b + 4, &now, 8);
        memcpy(b + 12, &idx, 4);
        memcpy(b + 16, &seq, 4);
        iov[i] = (struct iovec){b, 4 + (size_t)O.size};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int s = sendmmsg(a->fd, msgs, (unsigned)n, MSG_DONTWAIT);
    if (s <= 0)
        return 0;
    a->seq += (uint32_t)s;
    w->sent += (uint64_t)s;
    return s;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, w->peer_fd, &ev);
    for (int i = 0; i < w->count; i++) {
        ev.data.u64 = (uint64_t)(w->first + i);
        epoll_ctl(ep, EPOLL_CTL_ADD, A[w->first + i].fd, &ev);
    }
    while (!atomic_load(&go))
        usleep(100);
    double rate = O.rate / O.nthreads; /* this worker's share, packets per second */
    double credit = 0;
    uint64_t last = now_ns();
    int rr = 0; /* round-robin position among this worker's allocations */
    uint64_t share = O.max_packets / (uint64_t)O.nthreads;
    for (;;) {
        uint64_t now = now_ns();
        int sending = now < t_stop_send && w->sent < share;
        if (now >= t_end)
            break;
        if (sending && rate > 0) {
            credit += (double)(now - last) * rate / 1e9;
            if (credit > rate * 0.05 + BATCH)
                credit = rate * 0.05 + BATCH; /* after a stall, no burst larger than 50 ms */
            int budget = (int)credit;
            /* One packet per allocation per pass, spread round-robin; a low per-allocation rate
             * means one packet per syscall, as with real media. */
            int per = budget / w->count;
            int extra = budget % w->count;
            for (int k = 0; k < w->count && budget > 0; k++) {
                alloc_t *a = &A[w->first + (rr + k) % w->count];
                int want = per + (k < extra ? 1 : 0);
                while (want > 0) {
                    int s = client_send(w, a, want);
                    if (s <= 0)
                        break;
                    want -= s;
                    budget -= s;
                    credit -= s;
                }
            }
            rr = (rr + 1) % w->count;
        } else if (sending) {
            for (int k = 0; k < w->count; k++) {
                alloc_t *a = &A[w->first + k];
                if (O.window == 0) { /* open loop: a full batch per allocation per pass */
                    client_send(w, a, BATCH);
                    continue;
                }
                uint32_t inflight = a->seq - a->max_rx;
                if (inflight >= (uint32_t)O.window) {
                    if (now - a->last_progress < 100000000ull)
                        continue;
                    a->last_progress = now; /* a stalled window: consider those lost */
                    a->max_rx = a->seq;
                    inflight = 0;
                }
                client_send(w, a, O.window - (int)inflight);
            }
        }
        last = now;
        struct epoll_event evs[256];
        int timeout = sending && rate == 0 ? 0 : 1;
        int n = epoll_wait(ep, evs, 256, timeout);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == UINT64_MAX)
                peer_echo(w);
            else
                client_recv(w, &A[evs[i].data.u64]);
        }
        if (sending && rate == 0 && n == 0)
            sched_yield();
    }
    close(ep);
    return NULL;
}

/* Bucket of a round trip of `us` microseconds, and the middle of a bucket in microseconds. */
static uint64_t hist_bucket(uint64_t us)
{
    if (us < HIST_FINE)
        return us;
    uint64_t b = HIST_FINE + (us - HIST_FINE) / 1000;
    return b > HIST_US ? HIST_US : b;
}
static double hist_value(int b)
{
    return b < HIST_FINE ? b + 0.5 : HIST_FINE + (b - HIST_FINE) * 1000.0 + 500.0;
}

static double percentile(const uint64_t *hist, uint64_t total, double p)
{
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)total), acc = 0;
    for (int i = 0; i <= HIST_US; i++) {
        acc += hist[i];
        if (acc > want)
            return hist_value(i);
    }
    return hist_value(HIST_US);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: turn_load -p PORT [-H 127.0.0.1] [-a ALLOCS] [-t THREADS] [-r PKTS_PER_S|0]\n"
            "                 [-d SECONDS] [-n MAX_PACKETS] [-s BYTES] [-w WINDOW] [-W SECRET]\n"
            "                 [-u USERPREFIX] [-P RELAY_PID]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "p:H:a:t:r:d:n:s:w:W:u:P:h")) != -1) {
        switch (c) {
        case 'p': O.port = atoi(optarg); break;
        case 'H': O.host = optarg; break;
        case 'a': O.nallocs = atoi(optarg); break;
        case 't': O.nthreads = atoi(optarg); break;
        case 'r': O.rate = atof(optarg); break;
        case 'd': O.seconds = atof(optarg); break;
        case 'n': O.max_packets = strtoull(optarg, NULL, 10); break;
        case 's': O.size = atoi(optarg); break;
        case 'w': O.window = atoi(optarg); break;
        case 'W': O.secret = optarg; break;
        case 'u': O.user_prefix = optarg; break;
        case 'P': O.relay_pid = atoi(optarg); break;
        default: usage();
        }
    }
    if (O.port <= 0 || O.port > 65535 || O.nallocs < 1 || O.nallocs > MAX_ALLOCS || O.nthreads < 1 ||
        O.nthreads > MAX_THREADS || O.nthreads > O.nallocs || O.rate < 0 || O.seconds <= 0 ||
        O.seconds > 600 || O.size < HDR_LEN || O.size > PKT_MAX || O.window < 0 || O.window > 4096)
        usage();
    memset(&relay_sa, 0, sizeof relay_sa);
    relay_sa.sin_family = AF_INET;
    relay_sa.sin_port = htons((uint16_t)O.port);
    if (inet_pton(AF_INET, O.host, &relay_sa.sin_addr) != 1 ||
        (ntohl(relay_sa.sin_addr.s_addr) >> 24) != 127)
        die("-H must be an IPv4 loopback address");
    crc32_init();
    A = calloc((size_t)O.nallocs, sizeof *A);
    if (!A)
        die("out of memory");

    /* Peers first (ChannelBind needs their addresses), then allocations, split among workers. */
    uint64_t t0 = now_ns();
    for (int t = 0; t < O.nthreads; t++) {
        worker_t *w = &W[t];
        w->id = t;
        w->first = O.nallocs * t / O.nthreads;
        w->count = O.nallocs * (t + 1) / O.nthreads - w->first;
        w->peer_fd = udp_socket();
        set_bufs(w->peer_fd, 8 << 20);
        socklen_t sl = sizeof w->peer_sa;
        getsockname(w->peer_fd, (struct sockaddr *)&w->peer_sa, &sl);
        w->hist = calloc(HIST_US + 1, sizeof *w->hist);
        if (!w->hist)
            die("out of memory");
        for (int i = 0; i < w->count; i++)
            setup_alloc(&A[w->first + i], w->first + i, &w->peer_sa);
    }
    fprintf(stderr, "turn_load: %d allocations bound to %d peers in %.2f s\n", O.nallocs,
            O.nthreads, (double)(now_ns() - t0) / 1e9);

    for (int t = 0; t < O.nthreads; t++)
        if (pthread_create(&W[t].thread, NULL, worker_main, &W[t]) != 0)
            die("pthread_create failed");
    t_start = now_ns();
    t_stop_send = t_start + (uint64_t)(O.seconds * 1e9);
    t_end = t_stop_send + DRAIN_MS * 1000000ull;
    for (int i = 0; i < O.nallocs; i++)
        A[i].last_progress = t_start;
    double cpu0 = O.relay_pid ? proc_cpu_seconds(O.relay_pid) : -1;
    atomic_store(&go, 1);
    for (int t = 0; t < O.nthreads; t++)
        pthread_join(W[t].thread, NULL);
    double cpu1 = O.relay_pid ? proc_cpu_seconds(O.relay_pid) : -1;
    double cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;

    uint64_t sent = 0, recv = 0, bad = 0, rtt_n = 0, rtt_sum = 0, echoed = 0;
    uint64_t *hist = calloc(HIST_US + 1, sizeof *hist);
    if (!hist)
        die("out of memory");
    for (int t = 0; t < O.nthreads; t++) {
        sent += W[t].sent;
        recv += W[t].recv;
        bad += W[t].bad;
        echoed += W[t].echoed;
        rtt_n += W[t].rtt_n;
        rtt_sum += W[t].rtt_sum_ns;
        for (int i = 0; i <= HIST_US; i++)
            hist[i] += W[t].hist[i];
    }
    /* Sending time: the configured duration, or shorter if the count cap stopped it earlier
     * (then the rate is over the whole window, a lower bound). */
    double secs = O.seconds;
    double pps = (double)recv / secs;
    double loss = sent ? 100.0 * (double)(sent - (recv < sent ? recv : sent)) / (double)sent : 0;
    double avg = rtt_n ? (double)rtt_sum / (double)rtt_n / 1000.0 : 0;
    double p50 = percentile(hist, rtt_n, 0.50), p99 = percentile(hist, rtt_n, 0.99);
    printf("turn_load: %d allocs, %d threads, %s, %d-byte payloads, %.1f s: sent %llu, "
           "received %llu (%.0f pkt/s back), peer echoed %llu, loss %.3f%%, RTT avg %.1f us, "
           "p50 %.1f us, p99 %.1f us%s\n",
           O.nallocs, O.nthreads, O.rate > 0 ? "fixed rate" : "max rate", O.size, secs,
           (unsigned long long)sent, (unsigned long long)recv, pps, (unsigned long long)echoed,
           loss, avg, p50, p99, bad ? " (stray packets seen)" : "");
    printf("RESULT sent=%llu recv=%llu seconds=%.3f pps=%.0f loss_pct=%.3f rtt_avg_us=%.1f "
           "rtt_p50_us=%.1f rtt_p99_us=%.1f relay_cpu_s=%.2f sent_pps=%.0f\n",
           (unsigned long long)sent, (unsigned long long)recv, secs, pps, loss, avg, p50, p99, cpu,
           (double)sent / secs);
    fflush(stdout);
    for (int i = 0; i < O.nallocs; i++)
        release_alloc(&A[i]);
    for (int t = 0; t < O.nthreads; t++) {
        close(W[t].peer_fd);
        free(W[t].hist);
    }
    free(hist);
    free(A);
    return 0;
}
