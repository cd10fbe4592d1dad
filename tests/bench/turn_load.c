/* turn_load.c — a load generator for TURN relays (RFC 8656) over UDP on loopback.
 *
 * Owns: N allocations, each on its own client UDP socket, each ChannelBind-ed to E echo peers (channel
 * 0x4000 + k to peer k; the peers are sockets of this program, E per worker thread). A stream is one
 * (allocation, peer) pair; every packet of a stream carries the stream's index, a per-stream sequence
 * number and its send time, and goes
 *   client --ChannelData--> relay --UDP--> peer --echo--> relay (relayed address) --ChannelData--> client
 * The client counts each sequence number of the measured window once: lost, duplicated and reordered
 * are separate figures. The echo side is non-blocking; what it could not send back (EAGAIN) and what
 * the kernel dropped on this program's own full receive queues (SO_RXQ_OVFL) are counted apart, so they
 * are not charged to the relay. Every index taken from a packet's bytes is bounds-checked first.
 * Must not: talk to anything but the relay on 127.0.0.0/8; run unbounded (duration and count caps).
 *
 *   turn_load selftest   (the packet accounting on crafted datagrams; exit 0 if it holds)
 *   turn_load -p PORT [-H 127.0.0.1] [-a ALLOCS] [-e PEERS] [-t THREADS] [-d SECONDS] [-U WARMUP]
 *             [-r PKTS_PER_S | -r 0 (max) | -F PKTS_PER_S_PER_STREAM -b PKTS_PER_FRAME]
 *             [-n MAX_PACKETS] [-s BYTES] [-w WINDOW] [-W SECRET] [-u USERPREFIX] [-P RELAY_PID]
 *
 * Three ways to send:
 *  -r R > 0  a steady total of R packets/s, spread round-robin over the streams;
 *  -r 0      as fast as possible, closed loop with at most WINDOW packets in flight per stream (a stalled
 *            window reopens after 100 ms, so loss cannot stop the run); -r 0 -w 0 is an open-loop flood;
 *  -F R -b B video-like: each stream sends a frame of B back-to-back packets every B/R seconds (R
 *            packets/s per stream), frames of different streams at random phases.
 * First WARMUP seconds (-U, default 0) of sending that are not measured, then SECONDS measured, then a
 * drain (until every measured packet is back or
 * nothing came back for 300 ms + twice the longest round trip seen, at most 3 s). Without -W, no credentials are sent.
 * Prints a human summary and one machine-readable line (all figures of the measured window):
 *   RESULT sent=.. recv=.. seconds=.. pps=.. sent_pps=.. lost=.. loss_pct=.. dup=.. reord=..
 *          echo_drops=.. gen_rx_drops=.. relay_loss_pct=.. rtt_avg_us=.. rtt_p50_us=.. rtt_p99_us=..
 *          relay_cpu_s=.. relay_cpu_pct=.. gen_cpu_s=.. gen_cpu_pct=.. pkts_per_cpu_s=.. bad=..
 * `seconds` is measured by the monotonic clock (first measured send to the last send), not configured.
 * With -P, relay_cpu_s is the relay's utime+stime (all its threads, /proc/PID/stat) from the start of
 * the measured window to the end of the drain, and relay_cpu_pct that over the same wall interval (100 =
 * one core busy); gen_cpu_* is this program's own, over the same interval. Otherwise -1.
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
#include <stdarg.h>
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
#define MAX_PEERS 8
#define MAX_THREADS 64
#define BATCH 64
#define PKT_MAX 1400
#define HDR_LEN 16 /* payload: u64 send time (ns), u32 stream index, u32 sequence */
/* RTT histogram: 1 us buckets up to 100 ms, then 1 ms buckets up to 10 s, then one overflow bucket */
#define HIST_FINE 100000
#define HIST_US (HIST_FINE + 9900)
#define CHANNEL 0x4000
#define STUN_MAGIC 0x2112A442u
#define DRAIN_MS 3000 /* at most; the drain ends as soon as every measured packet is back, */
#define QUIET_MS 300   /* or nothing came back for this long plus twice the longest round trip seen */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
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
    if (n > 0xFFFF || m->len + 4 + ((n + 3) & ~(size_t)3) > sizeof m->b)
        die("STUN message too large (attribute 0x%04x, %zu bytes)", type, n);
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
 * Allocations and streams */

typedef struct {
    int fd;               /* client socket, connected to the relay */
    char user[96];
    uint8_t key[16];      /* MD5(user:realm:password), once realm is known */
    char realm[128];
    uint8_t nonce[256];
    size_t nonce_len;
    struct sockaddr_in relayed;
    uint32_t rx_ovfl;     /* SO_RXQ_OVFL: datagrams the kernel dropped on this socket so far */
    uint32_t rx_ovfl_at_measure;
} alloc_t;

/* One (allocation, peer) pair. Sequence numbers start at 0; those from `first` on were sent in the
 * measured window, and `seen` has one bit per such number (bit i = first + i came back). */
typedef struct {
    uint32_t seq;         /* next sequence number to send */
    uint32_t first;       /* first measured sequence number; meaningful once `measuring` */
    int measuring;
    uint32_t max_rx;      /* highest sequence number back + 1 (reordering) */
    uint32_t win_base;    /* the closed-loop window counts in flight from here (>= max_rx after a reopen) */
    uint64_t last_progress;
    uint64_t next_frame;  /* video-like mode: when the next frame is due */
    uint64_t *seen;
    uint32_t seen_bits;   /* capacity of `seen` in bits */
    uint32_t recv;        /* distinct measured sequence numbers back */
} stream_t;

typedef struct {
    const char *host;
    int port;
    int nallocs, npeers, nthreads;
    double rate;          /* packets/s in total; 0 = as fast as possible */
    double stream_rate;   /* video-like: packets/s per stream (0 = not this mode) */
    int burst;            /* video-like: packets per frame */
    double seconds, warmup;
    uint64_t max_packets;
    int size, window;
    const char *secret, *user_prefix;
    int relay_pid;
} opts_t;

static opts_t O = {"127.0.0.1", 3478, 4, 1, 1, 0, 0, 1, 10, 0, 100000000ull, 100, 64, NULL, "load", 0};

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
static stream_t *S;       /* nallocs * npeers, stream of allocation i and peer k at i * npeers + k */
static uint32_t nstreams;
static struct sockaddr_in relay_sa;

static void set_bufs(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    /* Receive queue overflows of our own sockets are the generator's loss, not the relay's: ask the
     * kernel to report its drop counter with each datagram. */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
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

/* The SO_RXQ_OVFL counter carried by a received datagram's control data, or `prev` if none. */
static uint32_t rxq_ovfl(struct msghdr *h, uint32_t prev)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
            c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            return v;
        }
    return prev;
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
    if (kl < 0 || kl >= (int)sizeof kin)
        return 0;
    unsigned int md5len = 0;
    EVP_Digest(kin, (size_t)kl, a->key, &md5len, EVP_md5(), NULL);
    return 1;
}

/* An authenticated request: retries once on 401 (first challenge) or 438 (stale nonce). */
static size_t request(alloc_t *a, uint16_t type, void (*attrs)(stun_msg_t *, const void *),
                      const void *arg, uint8_t *buf, size_t cap)
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

static void attrs_allocate(stun_msg_t *m, const void *arg)
{
    (void)arg;
    uint8_t udp[4] = {17, 0, 0, 0};
    stun_attr(m, 0x0019, udp, 4);
}

typedef struct {
    uint16_t channel;
    const struct sockaddr_in *peer;
} bind_arg_t;

static void attrs_bind(stun_msg_t *m, const void *arg)
{
    const bind_arg_t *b = arg;
    uint8_t ch[4] = {(uint8_t)(b->channel >> 8), (uint8_t)b->channel, 0, 0};
    stun_attr(m, 0x000C, ch, 4);
    stun_xor_addr(m, 0x0012, b->peer);
}

static void attrs_dealloc(stun_msg_t *m, const void *arg)
{
    (void)arg;
    uint8_t zero[4] = {0};
    stun_attr(m, 0x000D, zero, 4);
}

/* Allocates on a fresh socket and binds channel CHANNEL + k to peers[k] for every peer. */
static void setup_alloc(alloc_t *a, int idx, const struct sockaddr_in *peers)
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
    for (int k = 0; k < O.npeers; k++) {
        bind_arg_t b = {(uint16_t)(CHANNEL + k), &peers[k]};
        n = request(a, 0x0009, attrs_bind, &b, buf, sizeof buf);
        if (get16(buf) != 0x0109)
            die("allocation %d: ChannelBind %d refused: error %d", idx, k, stun_error_code(buf, n));
    }
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
    int first, count;     /* allocations [first, first + count) */
    int peer_fd[MAX_PEERS];
    struct sockaddr_in peer_sa[MAX_PEERS];
    uint32_t peer_ovfl[MAX_PEERS], peer_ovfl_at_measure[MAX_PEERS];
    pthread_t thread;
    uint64_t t_measure0, t_last_send, t_last_rx; /* measured by this worker's clock reads */
    int measuring;
    uint64_t sent, recv, dup, reord, echoed, echo_drops, bad, warm_rx, sent_total;
    uint64_t rtt_sum_ns, rtt_n, rtt_max_ns;
    uint32_t *hist;       /* HIST_US + 1 buckets */
} worker_t;

static worker_t W[MAX_THREADS];
static uint64_t hist_bucket(uint64_t us);
static atomic_int go;
static uint64_t t_start, t_measure, t_stop_send, t_end;

/* Echoes everything that reached a peer socket back to where it came from (a relayed address).
 * Never blocks: what the socket does not take now is counted as the echo side's own drop. */
static void peer_echo(worker_t *w, int k)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in from[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX];
    static _Thread_local uint8_t ctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], PKT_MAX};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                              .msg_iov = &iov[i], .msg_iovlen = 1,
                                              .msg_control = ctl[i], .msg_controllen = sizeof ctl[i]};
        }
        int n = recvmmsg(w->peer_fd[k], msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
            w->peer_ovfl[k] = rxq_ovfl(&msgs[i].msg_hdr, w->peer_ovfl[k]);
            msgs[i].msg_hdr.msg_control = NULL; /* not for sending */
            msgs[i].msg_hdr.msg_controllen = 0;
        }
        int done = 0;
        while (done < n) {
            int s = sendmmsg(w->peer_fd[k], msgs + done, (unsigned)(n - done), MSG_DONTWAIT);
            if (s <= 0)
                break; /* EAGAIN (full send buffer) or an error: drop the rest, counted below */
            done += s;
        }
        w->echoed += (uint64_t)done;
        w->echo_drops += (uint64_t)(n - done);
    }
}

/* Makes room in a stream's `seen` bitmap for measured sequence number offset `bit`. */
static void seen_reserve(stream_t *s, uint32_t bit)
{
    if (bit < s->seen_bits)
        return;
    uint64_t bits = s->seen_bits ? s->seen_bits : 4096;
    while (bits <= bit)
        bits *= 2;
    if (bits > UINT32_MAX)
        die("a stream exceeded 2^32 packets");
    size_t old_words = s->seen_bits / 64, words = (size_t)(bits / 64);
    uint64_t *p = realloc(s->seen, words * sizeof *p);
    if (!p)
        die("out of memory");
    memset(p + old_words, 0, (words - old_words) * sizeof *p);
    s->seen = p;
    s->seen_bits = (uint32_t)bits;
}

/* Accounts for one ChannelData datagram that came back on allocation `ai`'s socket. */
static void account_packet(worker_t *w, int ai, const uint8_t *b, size_t len, uint64_t now)
{
    if (len < 4 + HDR_LEN) {
        w->bad++; /* e.g. a late STUN answer */
        return;
    }
    uint16_t channel = get16(b), dlen = get16(b + 2);
    if (channel < CHANNEL || channel >= CHANNEL + O.npeers || dlen < HDR_LEN || dlen > len - 4) {
        w->bad++;
        return;
    }
    uint64_t sent;
    uint32_t sidx, seq;
    memcpy(&sent, b + 4, 8);
    memcpy(&sidx, b + 12, 4);
    memcpy(&seq, b + 16, 4);
    /* The stream index comes from the packet's bytes: check it before indexing, and check that it is
     * the stream of this socket and channel. */
    if (sidx >= nstreams || sidx != (uint32_t)ai * (uint32_t)O.npeers + (uint32_t)(channel - CHANNEL)) {
        w->bad++;
        return;
    }
    stream_t *s = &S[sidx];
    if (seq >= s->seq || sent > now || sent < t_start) { /* never sent as such */
        w->bad++;
        return;
    }
    int reordered = seq + 1 < s->max_rx;
    if (seq + 1 > s->max_rx) {
        s->max_rx = seq + 1;
        s->last_progress = now;
        if (s->max_rx > s->win_base)
            s->win_base = s->max_rx;
    }
    if (!s->measuring || seq < s->first) {
        w->warm_rx++;
        return;
    }
    uint32_t bit = seq - s->first;
    if (bit >= s->seen_bits) { /* reserved when sent: cannot happen unless the bytes lie */
        w->bad++;
        return;
    }
    uint64_t mask = 1ull << (bit % 64);
    if (s->seen[bit / 64] & mask) {
        w->dup++;
        return;
    }
    s->seen[bit / 64] |= mask;
    s->recv++;
    w->recv++;
    w->reord += (uint64_t)reordered;
    uint64_t rtt = now - sent;
    w->rtt_sum_ns += rtt;
    w->rtt_n++;
    if (rtt > w->rtt_max_ns)
        w->rtt_max_ns = rtt;
    w->hist[hist_bucket(rtt / 1000)]++;
}

static void client_recv(worker_t *w, int ai)
{
    alloc_t *a = &A[ai];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX + 4];
    static _Thread_local uint8_t ctl[BATCH][CMSG_SPACE(sizeof(uint32_t))];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
            msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1,
                                              .msg_control = ctl[i], .msg_controllen = sizeof ctl[i]};
        }
        int n = recvmmsg(a->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            a->rx_ovfl = rxq_ovfl(&msgs[i].msg_hdr, a->rx_ovfl);
            account_packet(w, ai, bufs[i], msgs[i].msg_len, now);
        }
        w->t_last_rx = now;
    }
}

/* Sends up to `n` packets of stream `si` with one sendmmsg; returns how many went out. */
static int client_send(worker_t *w, uint32_t si, int n)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    static _Thread_local uint8_t bufs[BATCH][PKT_MAX + 4];
    stream_t *s = &S[si];
    alloc_t *a = &A[si / (uint32_t)O.npeers];
    uint16_t channel = (uint16_t)(CHANNEL + si % (uint32_t)O.npeers);
    if (n > BATCH)
        n = BATCH;
    if (s->measuring)
        seen_reserve(s, s->seq + (uint32_t)n - s->first);
    uint64_t now = now_ns();
    for (int i = 0; i < n; i++) {
        uint8_t *b = bufs[i];
        put16(b, channel);
        put16(b + 2, (uint16_t)O.size);
        uint32_t seq = s->seq + (uint32_t)i;
        memcpy(b + 4, &now, 8);
        memcpy(b + 12, &si, 4);
        memcpy(b + 16, &seq, 4);
        iov[i] = (struct iovec){b, 4 + (size_t)O.size};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int sent = sendmmsg(a->fd, msgs, (unsigned)n, MSG_DONTWAIT);
    if (sent <= 0)
        return 0;
    s->seq += (uint32_t)sent;
    w->sent_total += (uint64_t)sent;
    if (s->measuring)
        w->sent += (uint64_t)sent;
    w->t_last_send = now;
    return sent;
}

/* The measured window opens: from here on every stream's sequence numbers are counted. */
static void open_measured_window(worker_t *w, uint64_t now)
{
    w->measuring = 1;
    w->t_measure0 = now;
    w->sent = w->recv = w->dup = w->reord = w->echoed = w->echo_drops = w->bad = 0;
    for (int k = 0; k < O.npeers; k++)
        w->peer_ovfl_at_measure[k] = w->peer_ovfl[k];
    for (int i = w->first; i < w->first + w->count; i++) {
        A[i].rx_ovfl_at_measure = A[i].rx_ovfl;
        for (int k = 0; k < O.npeers; k++) {
            stream_t *s = &S[(uint32_t)i * (uint32_t)O.npeers + (uint32_t)k];
            s->measuring = 1;
            s->first = s->seq;
        }
    }
}

/* Every measured packet of this worker is back (the drain can end early). */
static int all_back(const worker_t *w)
{
    uint32_t lo = (uint32_t)w->first * (uint32_t)O.npeers, hi = lo + (uint32_t)w->count * (uint32_t)O.npeers;
    for (uint32_t i = lo; i < hi; i++)
        if (S[i].recv != S[i].seq - S[i].first)
            return 0;
    return 1;
}

static void send_steady(worker_t *w, double rate, double *credit, uint64_t now, uint64_t last, uint32_t *rr)
{
    uint32_t lo = (uint32_t)w->first * (uint32_t)O.npeers, n = (uint32_t)w->count * (uint32_t)O.npeers;
    *credit += (double)(now - last) * rate / 1e9;
    if (*credit > rate * 0.05 + BATCH)
        *credit = rate * 0.05 + BATCH; /* after a stall, no burst larger than 50 ms */
    int budget = (int)*credit;
    /* One packet per stream per pass, spread round-robin; a low per-stream rate means one packet per
     * syscall, as with real media. */
    int per = budget / (int)n, extra = budget % (int)n;
    for (uint32_t k = 0; k < n && budget > 0; k++) {
        int want = per + ((int)k < extra ? 1 : 0);
        while (want > 0) {
            int s = client_send(w, lo + (*rr + k) % n, want);
            if (s <= 0)
                break;
            want -= s;
            budget -= s;
            *credit -= s;
        }
    }
    *rr = (*rr + 1) % n;
}

static void send_window(worker_t *w, uint64_t now)
{
    uint32_t lo = (uint32_t)w->first * (uint32_t)O.npeers, n = (uint32_t)w->count * (uint32_t)O.npeers;
    for (uint32_t i = lo; i < lo + n; i++) {
        stream_t *s = &S[i];
        if (O.window == 0) { /* open loop: a full batch per stream per pass */
            client_send(w, i, BATCH);
            continue;
        }
        uint32_t inflight = s->seq - s->win_base;
        if (inflight >= (uint32_t)O.window) {
            if (now - s->last_progress < 100000000ull)
                continue;
            /* A stalled window: stop waiting for those (they count as lost unless they come back
             * later; a late one is then counted once, as reordered, not as a duplicate). */
            s->last_progress = now;
            s->win_base = s->seq;
            inflight = 0;
        }
        client_send(w, i, O.window - (int)inflight);
    }
}

/* Video-like: every due stream sends one frame of O.burst packets back to back. A frame late by more
 * than a frame interval (the generator was descheduled) is not caught up: media does not. */
static void send_frames(worker_t *w, uint64_t now)
{
    uint64_t interval = (uint64_t)(1e9 * O.burst / O.stream_rate);
    uint32_t lo = (uint32_t)w->first * (uint32_t)O.npeers, n = (uint32_t)w->count * (uint32_t)O.npeers;
    for (uint32_t i = lo; i < lo + n; i++) {
        stream_t *s = &S[i];
        if (now < s->next_frame)
            continue;
        client_send(w, i, O.burst);
        s->next_frame += interval;
        if (s->next_frame + interval < now)
            s->next_frame = now + interval;
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN};
    for (int k = 0; k < O.npeers; k++) {
        ev.data.u64 = UINT64_MAX - (uint64_t)k;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w->peer_fd[k], &ev) != 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    for (int i = 0; i < w->count; i++) {
        ev.data.u64 = (uint64_t)(w->first + i);
        if (epoll_ctl(ep, EPOLL_CTL_ADD, A[w->first + i].fd, &ev) != 0)
            die("epoll_ctl: %s", strerror(errno));
    }
    while (!atomic_load(&go))
        usleep(100);
    double rate = O.rate / O.nthreads; /* this worker's share, packets per second */
    double credit = 0;
    uint64_t last = now_ns();
    uint32_t rr = 0;
    uint64_t share = O.max_packets / (uint64_t)O.nthreads;
    for (;;) {
        uint64_t now = now_ns();
        if (!w->measuring && now >= t_measure)
            open_measured_window(w, now);
        int sending = now < t_stop_send && w->sent_total < share;
        if (now >= t_end)
            break;
        if (!sending && w->measuring) {
            /* Draining: done when every measured packet is back, or the relay has gone quiet (the
             * rest is lost; waiting longer would only add idle time to the CPU interval). */
            uint64_t since = w->t_last_rx > t_stop_send ? w->t_last_rx : t_stop_send;
            if (all_back(w) || now - since > QUIET_MS * 1000000ull + 2 * w->rtt_max_ns)
                break;
        }
        if (sending) {
            if (O.stream_rate > 0)
                send_frames(w, now);
            else if (rate > 0)
                send_steady(w, rate, &credit, now, last, &rr);
            else
                send_window(w, now);
        }
        last = now;
        struct epoll_event evs[256];
        int flat_out = sending && O.stream_rate == 0 && rate == 0;
        int n = epoll_wait(ep, evs, 256, flat_out ? 0 : 1);
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag > UINT64_MAX - MAX_PEERS)
                peer_echo(w, (int)(UINT64_MAX - tag));
            else if (tag < (uint64_t)(w->first + w->count) && tag >= (uint64_t)w->first)
                client_recv(w, (int)tag);
        }
        if (flat_out && n == 0)
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

static void sleep_until(uint64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000ull), (long)(t % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---------------------------------------------------------------------------------------------
 * Self-test: the packet accounting on crafted datagrams (run by bench-relay.sh before any figure). */

static size_t craft(uint8_t *b, uint16_t channel, uint16_t dlen, uint64_t sent, uint32_t sidx, uint32_t seq)
{
    memset(b, 0, 4 + HDR_LEN + 8);
    put16(b, channel);
    put16(b + 2, dlen);
    memcpy(b + 4, &sent, 8);
    memcpy(b + 12, &sidx, 4);
    memcpy(b + 16, &seq, 4);
    return 4 + HDR_LEN + 8;
}

static int selftest(void)
{
    O.nallocs = 2;
    O.npeers = 2;
    nstreams = 4;
    A = calloc(2, sizeof *A);
    S = calloc(nstreams, sizeof *S);
    worker_t *w = &W[0];
    w->hist = calloc(HIST_US + 1, sizeof *w->hist);
    if (!A || !S || !w->hist)
        die("out of memory");
    uint64_t now = now_ns();
    t_start = now - 1000000000ull;
    stream_t *s = &S[1]; /* allocation 0, peer 1: channel 0x4001 */
    s->seq = 10;         /* 0..9 sent; 5..9 in the measured window */
    s->measuring = 1;
    s->first = 5;
    seen_reserve(s, s->seq - s->first);
    uint8_t b[64];
    uint64_t t = now - 1000;
    int failed = 0, checks = 0;
#define EXPECT(what, cond)                                                                         \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failed++;                                                                              \
            fprintf(stderr, "turn_load selftest: FAILED: %s\n", what);                             \
        }                                                                                          \
    } while (0)
    account_packet(w, 0, b, 10, now);
    EXPECT("a datagram shorter than the header is bad", w->bad == 1);
    account_packet(w, 0, b, craft(b, CHANNEL + 2, HDR_LEN, t, 1, 6), now);
    EXPECT("a channel beyond the bound peers is bad", w->bad == 2);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN + 200, t, 1, 6), now);
    EXPECT("a ChannelData length beyond the datagram is bad", w->bad == 3);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, UINT32_MAX, 6), now);
    EXPECT("a stream index out of bounds is bad (not dereferenced)", w->bad == 4);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 3, 6), now);
    EXPECT("another allocation's stream is bad", w->bad == 5);
    account_packet(w, 0, b, craft(b, CHANNEL, HDR_LEN, t, 1, 6), now);
    EXPECT("a stream that does not match the channel is bad", w->bad == 6);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 10), now);
    EXPECT("a sequence number never sent is bad", w->bad == 7);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, now + 1000000, 1, 6), now);
    EXPECT("a send time in the future is bad", w->bad == 8);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 3), now);
    EXPECT("a warm-up packet is not measured", w->warm_rx == 1 && w->recv == 0);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 7), now);
    EXPECT("a measured packet is received", w->recv == 1 && s->recv == 1 && w->reord == 0);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 7), now);
    EXPECT("the same sequence number again is a duplicate", w->dup == 1 && w->recv == 1);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 6), now);
    EXPECT("an earlier one after a later one is reordered, and received", w->reord == 1 && w->recv == 2);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 9), now);
    account_packet(w, 0, b, craft(b, CHANNEL + 1, HDR_LEN, t, 1, 8), now);
    EXPECT("in order / reordered counted apart", w->recv == 4 && w->reord == 2 && w->dup == 1);
    EXPECT("lost = sent in the window - distinct back", (s->seq - s->first) - s->recv == 1);
    EXPECT("nothing bad was counted as received", w->bad == 8 && w->rtt_n == 4);
#undef EXPECT
    free(s->seen);
    free(w->hist);
    free(S);
    free(A);
    printf("turn_load selftest: %d of %d checks passed\n", checks - failed, checks);
    return failed ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: turn_load -p PORT [-H 127.0.0.1] [-a ALLOCS] [-e PEERS] [-t THREADS] [-d SECONDS]\n"
            "                 [-U WARMUP] [-r PKTS_PER_S|0 | -F PKTS_PER_S_PER_STREAM -b PKTS_PER_FRAME]\n"
            "                 [-n MAX_PACKETS] [-s BYTES] [-w WINDOW] [-W SECRET] [-u USERPREFIX]\n"
            "                 [-P RELAY_PID]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "selftest") == 0)
        return selftest();
    int c;
    while ((c = getopt(argc, argv, "p:H:a:e:t:r:F:b:d:U:n:s:w:W:u:P:h")) != -1) {
        switch (c) {
        case 'p': O.port = atoi(optarg); break;
        case 'H': O.host = optarg; break;
        case 'a': O.nallocs = atoi(optarg); break;
        case 'e': O.npeers = atoi(optarg); break;
        case 't': O.nthreads = atoi(optarg); break;
        case 'r': O.rate = atof(optarg); break;
        case 'F': O.stream_rate = atof(optarg); break;
        case 'b': O.burst = atoi(optarg); break;
        case 'd': O.seconds = atof(optarg); break;
        case 'U': O.warmup = atof(optarg); break;
        case 'n': O.max_packets = strtoull(optarg, NULL, 10); break;
        case 's': O.size = atoi(optarg); break;
        case 'w': O.window = atoi(optarg); break;
        case 'W': O.secret = optarg; break;
        case 'u': O.user_prefix = optarg; break;
        case 'P': O.relay_pid = atoi(optarg); break;
        default: usage();
        }
    }
    if (O.port <= 0 || O.port > 65535 || O.nallocs < 1 || O.nallocs > MAX_ALLOCS || O.npeers < 1 ||
        O.npeers > MAX_PEERS || O.nthreads < 1 || O.nthreads > MAX_THREADS || O.nthreads > O.nallocs ||
        O.rate < 0 || O.stream_rate < 0 || O.stream_rate > 100000 || O.burst < 1 || O.burst > BATCH ||
        O.seconds <= 0 || O.seconds > 600 || O.warmup < 0 || O.warmup > 60 || O.size < HDR_LEN ||
        O.size > PKT_MAX || O.window < 0 || O.window > 4096)
        usage();
    memset(&relay_sa, 0, sizeof relay_sa);
    relay_sa.sin_family = AF_INET;
    relay_sa.sin_port = htons((uint16_t)O.port);
    if (inet_pton(AF_INET, O.host, &relay_sa.sin_addr) != 1 ||
        (ntohl(relay_sa.sin_addr.s_addr) >> 24) != 127)
        die("-H must be an IPv4 loopback address");
    crc32_init();
    nstreams = (uint32_t)O.nallocs * (uint32_t)O.npeers;
    A = calloc((size_t)O.nallocs, sizeof *A);
    S = calloc(nstreams, sizeof *S);
    if (!A || !S)
        die("out of memory");

    /* Peers first (ChannelBind needs their addresses), then allocations, split among workers. */
    uint64_t t0 = now_ns();
    for (int t = 0; t < O.nthreads; t++) {
        worker_t *w = &W[t];
        w->id = t;
        w->first = O.nallocs * t / O.nthreads;
        w->count = O.nallocs * (t + 1) / O.nthreads - w->first;
        for (int k = 0; k < O.npeers; k++) {
            w->peer_fd[k] = udp_socket();
            set_bufs(w->peer_fd[k], 8 << 20);
            socklen_t sl = sizeof w->peer_sa[k];
            if (getsockname(w->peer_fd[k], (struct sockaddr *)&w->peer_sa[k], &sl) != 0)
                die("getsockname: %s", strerror(errno));
        }
        w->hist = calloc(HIST_US + 1, sizeof *w->hist);
        if (!w->hist)
            die("out of memory");
        for (int i = 0; i < w->count; i++)
            setup_alloc(&A[w->first + i], w->first + i, w->peer_sa);
    }
    fprintf(stderr, "turn_load: %d allocations x %d peers bound in %.2f s\n", O.nallocs, O.npeers,
            (double)(now_ns() - t0) / 1e9);

    t_start = now_ns();
    t_measure = t_start + (uint64_t)(O.warmup * 1e9);
    t_stop_send = t_measure + (uint64_t)(O.seconds * 1e9);
    t_end = t_stop_send + DRAIN_MS * 1000000ull;
    uint64_t frame_ns = O.stream_rate > 0 ? (uint64_t)(1e9 * O.burst / O.stream_rate) : 1;
    for (uint32_t i = 0; i < nstreams; i++) {
        S[i].last_progress = t_start;
        uint64_t r;
        if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
            die("RAND_bytes failed");
        S[i].next_frame = t_start + r % frame_ns; /* frames of the streams at random phases */
    }
    for (int t = 0; t < O.nthreads; t++)
        if (pthread_create(&W[t].thread, NULL, worker_main, &W[t]) != 0)
            die("pthread_create failed");
    atomic_store(&go, 1);
    sleep_until(t_measure);
    uint64_t cpu_t0 = now_ns();
    double cpu0 = O.relay_pid ? proc_cpu_seconds(O.relay_pid) : -1;
    double gen0 = proc_cpu_seconds((int)getpid());
    for (int t = 0; t < O.nthreads; t++)
        pthread_join(W[t].thread, NULL);
    double cpu1 = O.relay_pid ? proc_cpu_seconds(O.relay_pid) : -1;
    double gen1 = proc_cpu_seconds((int)getpid());
    double cpu_wall = (double)(now_ns() - cpu_t0) / 1e9;
    double cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    double gen = gen0 >= 0 && gen1 >= 0 ? gen1 - gen0 : -1;

    uint64_t sent = 0, recv = 0, bad = 0, dup = 0, reord = 0, rtt_n = 0, rtt_sum = 0, echoed = 0;
    uint64_t echo_drops = 0, gen_rx_drops = 0, warm_rx = 0;
    uint64_t m0 = UINT64_MAX, m1 = 0;
    uint64_t *hist = calloc(HIST_US + 1, sizeof *hist);
    if (!hist)
        die("out of memory");
    for (int t = 0; t < O.nthreads; t++) {
        worker_t *w = &W[t];
        sent += w->sent;
        recv += w->recv;
        bad += w->bad;
        dup += w->dup;
        reord += w->reord;
        echoed += w->echoed;
        echo_drops += w->echo_drops;
        warm_rx += w->warm_rx;
        rtt_n += w->rtt_n;
        rtt_sum += w->rtt_sum_ns;
        if (w->measuring && w->t_measure0 < m0)
            m0 = w->t_measure0;
        if (w->t_last_send > m1)
            m1 = w->t_last_send;
        for (int k = 0; k < O.npeers; k++)
            gen_rx_drops += (uint32_t)(w->peer_ovfl[k] - w->peer_ovfl_at_measure[k]);
        for (int i = 0; i <= HIST_US; i++)
            hist[i] += w->hist[i];
    }
    for (int i = 0; i < O.nallocs; i++)
        gen_rx_drops += (uint32_t)(A[i].rx_ovfl - A[i].rx_ovfl_at_measure);
    /* The measured sending time, by the clock: from the window's opening to the last send. */
    double secs = m1 > m0 ? (double)(m1 - m0) / 1e9 : 0;
    if (secs <= 0 || sent == 0)
        die("nothing was sent in the measured window");
    uint64_t lost = sent > recv ? sent - recv : 0;
    uint64_t ours = echo_drops + gen_rx_drops;
    uint64_t relay_lost = lost > ours ? lost - ours : 0;
    double pps = (double)recv / secs;
    double loss = 100.0 * (double)lost / (double)sent;
    double relay_loss = 100.0 * (double)relay_lost / (double)sent;
    double avg = rtt_n ? (double)rtt_sum / (double)rtt_n / 1000.0 : 0;
    double p50 = percentile(hist, rtt_n, 0.50), p99 = percentile(hist, rtt_n, 0.99);
    double relay_pct = cpu >= 0 && cpu_wall > 0 ? 100.0 * cpu / cpu_wall : -1;
    double gen_pct = gen >= 0 && cpu_wall > 0 ? 100.0 * gen / cpu_wall : -1;
    double per_cpu = cpu > 0 ? (double)recv / cpu : -1;
    const char *mode = O.stream_rate > 0 ? "video-like" : O.rate > 0 ? "fixed rate" : "max rate";
    printf("turn_load: %d allocs x %d peers, %d threads, %s, %d-byte payloads, %.3f s measured after "
           "%.1f s warm-up: sent %llu, back %llu (%.0f pkt/s), lost %llu (%.3f%%; echo side dropped "
           "%llu, our receive queues %llu), duplicated %llu, reordered %llu, RTT avg %.1f us, p50 %.1f "
           "us, p99 %.1f us; relay CPU %.2f s (%.0f%%), generator CPU %.2f s (%.0f%%)%s\n",
           O.nallocs, O.npeers, O.nthreads, mode, O.size, secs, O.warmup, (unsigned long long)sent,
           (unsigned long long)recv, pps, (unsigned long long)lost, loss, (unsigned long long)echo_drops,
           (unsigned long long)gen_rx_drops, (unsigned long long)dup, (unsigned long long)reord, avg,
           p50, p99, cpu, relay_pct, gen, gen_pct, bad ? " (malformed or stray packets seen)" : "");
    printf("RESULT sent=%llu recv=%llu seconds=%.3f pps=%.0f sent_pps=%.0f lost=%llu loss_pct=%.3f "
           "dup=%llu reord=%llu echo_drops=%llu gen_rx_drops=%llu relay_loss_pct=%.3f rtt_avg_us=%.1f "
           "rtt_p50_us=%.1f rtt_p99_us=%.1f relay_cpu_s=%.2f relay_cpu_pct=%.1f gen_cpu_s=%.2f "
           "gen_cpu_pct=%.1f pkts_per_cpu_s=%.0f bad=%llu warm_rx=%llu\n",
           (unsigned long long)sent, (unsigned long long)recv, secs, pps, (double)sent / secs,
           (unsigned long long)lost, loss, (unsigned long long)dup, (unsigned long long)reord,
           (unsigned long long)echo_drops, (unsigned long long)gen_rx_drops, relay_loss, avg, p50, p99,
           cpu, relay_pct, gen, gen_pct, per_cpu, (unsigned long long)bad, (unsigned long long)warm_rx);
    fflush(stdout);
    for (int i = 0; i < O.nallocs; i++)
        release_alloc(&A[i]);
    for (int t = 0; t < O.nthreads; t++) {
        for (int k = 0; k < O.npeers; k++)
            close(W[t].peer_fd[k]);
        free(W[t].hist);
    }
    for (uint32_t i = 0; i < nstreams; i++)
        free(S[i].seen);
    free(hist);
    free(S);
    free(A);
    return 0;
}
