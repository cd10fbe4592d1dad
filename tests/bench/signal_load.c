/* signal_load.c — a load client for WebSocket signalling servers: staffroom-signal and the PeerJS server.
 *
 * Owns: up to MAX_CONNS client WebSockets to one server on 127.0.0.1, driven by one epoll loop, with a
 * minimal RFC 6455 client of its own (opening handshake §4.1/§4.2.2, masked client frames §5.3,
 * fragmented messages §5.4, ping/pong/close §5.5); and a raw RESP writer that seeds Staffroom's accounts,
 * sessions and circle straight into Redis (keys as in signalling/ARCHITECTURE.md).
 * Must not: talk to anything but 127.0.0.1; run unbounded (every phase has a deadline, every count a cap);
 * be the bottleneck (non-blocking sockets, one write per connection per loop turn, no per-message malloc).
 *
 *   signal_load selftest   (the frame reader and JSON scanner on crafted input; no sockets)
 *   signal_load seed   -r REDIS_PORT [-N IDLE_USERS] [-M MEMBERS] [-Q PAIRS]
 *   signal_load relay  -S staffroom|peerjs -p PORT [-n PAIRS] [-I IDLE] [-d SECONDS] [-u WARMUP] [-w WINDOW] [-z]
 *   signal_load idle   -S staffroom|peerjs -p PORT -N CONNS [-C CYCLES] [-i IDLE_SECONDS]
 *   signal_load fanout -S staffroom -p PORT [-m MEMBERS] [-I OTHERS] [-k MESSAGES] [-g GAP_MS]
 *   common: -P SERVER_PID [-R REDIS_PID] [-c CONCURRENT_HANDSHAKES] [-A SOURCE_ADDRS] [-H HEARTBEAT_S]
 *           (-H: seconds between an idle client's keep-alives: Staffroom `ping` 25, PeerJS HEARTBEAT 5; 0: none)
 *
 * Every mode prints a few human lines and one machine-readable line starting with "RESULT ". It exits
 * 0 only if nothing failed: no connection or sign-in failed, nothing was lost or reordered, no request
 * was answered with an error, and something was delivered.
 *
 * Users (Staffroom; the same indices name PeerJS peers "p<i>"): index i has uid "be" + 30 hex digits of
 * i, name "bench<i>" and session token "5e" + 62 hex digits of i (64 hex characters, as auth.resume
 * wants). Idle users are 0…IDLE_MAX-1, the fan-out circle's members start at MEMBER_BASE, pair users at
 * PAIR_BASE. The bench script seeds a fresh Redis for every measurement, so ranges may be reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 60000
#define IDLE_MAX 20000
#define MEMBER_BASE 20000
#define MEMBER_MAX 5000
#define PAIR_BASE 30000
#define PAIR_MAX 1000
#define MAX_MSG (1u << 24)     /* largest message we accept from a server (fragments counted together) */
#define HANDSHAKE_MAX 8192     /* an opening-handshake answer larger than this is refused */
#define RBUF_SIZE (256 * 1024) /* one shared read buffer: leftovers of a partial frame are copied out */
#define CONNECT_TIMEOUT_NS (20ull * 1000000000ull)
#define CLOSE_TIMEOUT_NS (5ull * 1000000000ull)
#define CIRCLE_ID "ce000000000000000000000000000001"
#define CHANNEL_ID "c4000000000000000000000000000001"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("signal_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        die("out of memory (%zu bytes)", n);
    return q;
}

/* ---------------------------------------------------------------------------------------------
 * Options */

enum server_kind { SRV_STAFFROOM, SRV_PEERJS };
static struct {
    const char *mode;
    enum server_kind kind;
    int port, redis_port;
    int pid, redis_pid;
    int pairs, idle, window, members, messages, gap_ms, cycles, naddrs, concurrency, heartbeat_s;
    int idle_users, seed_members, seed_pairs, conns, no_prime;
    double seconds, warmup, idle_seconds;
} opt = {.kind = SRV_STAFFROOM, .pairs = 1, .window = 32, .members = 1000, .messages = 20, .gap_ms = 50,
         .naddrs = 16, .concurrency = 128, .heartbeat_s = -1, .idle_users = IDLE_MAX, .seed_members = 1000,
         .seed_pairs = 100, .seconds = 3, .warmup = 1};

static void user_uid(int i, char out[33]) { snprintf(out, 33, "be%030x", (unsigned)i); }
static void user_token(int i, char out[65]) { snprintf(out, 65, "5e%062x", (unsigned)i); }

/* ---------------------------------------------------------------------------------------------
 * CPU and memory of other processes, from /proc (proc(5)) */

static long clk_tck;

/* utime+stime of pid in seconds (all threads), or -1 if it cannot be read. */
static double proc_cpu_s(int pid)
{
    if (pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may contain spaces and parentheses: fields are counted after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* fields 3..13 then utime (14) and stime (15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)clk_tck;
}

static long proc_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

typedef struct {
    uint64_t wall;
    double srv, redis, self;
} snap_t;

static snap_t snap(void)
{
    snap_t s = {now_ns(), proc_cpu_s(opt.pid), proc_cpu_s(opt.redis_pid), self_cpu_s()};
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Base64 and the handshake key (RFC 6455 §4.1: Sec-WebSocket-Key is 16 random bytes in base64; the
 * server's Sec-WebSocket-Accept is base64(SHA-1(key + GUID)), §4.2.2) */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static void accept_for(const char key[25], char out[29])
{
    char cat[24 + sizeof WS_GUID];
    memcpy(cat, key, 24);
    memcpy(cat + 24, WS_GUID, sizeof WS_GUID);
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, 24 + sizeof WS_GUID - 1, h);
    EVP_EncodeBlock((unsigned char *)out, h, SHA_DIGEST_LENGTH);
}

/* Masking keys (§5.3) only have to be unpredictable to scripts that could steer a browser's bytes into a
 * proxy; this client talks to loopback, so a fast xorshift seeded from getrandom() is enough. */
static uint64_t rng_state;
static uint32_t rng32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---------------------------------------------------------------------------------------------
 * Connections */

enum conn_state { C_FREE, C_CONNECTING, C_HANDSHAKE, C_SIGNING, C_READY, C_CLOSING, C_DONE, C_FAILED };
enum conn_role { R_IDLE, R_PAIR_A, R_PAIR_B, R_MEMBER };

typedef struct {
    int fd;
    uint8_t state, role, msg_op, dirty;
    int user;             /* user (and peer id) index */
    int peer;             /* R_PAIR_*: the other connection of the pair */
    char *in;             /* unparsed bytes (handshake answer, or a partial frame) */
    size_t in_len, in_cap;
    char *msg;            /* a fragmented message being assembled (§5.4) */
    size_t msg_len, msg_cap;
    char *out;
    size_t out_off, out_len, out_cap;
    char key[25];         /* Sec-WebSocket-Key */
    uint64_t t_open, t_hb; /* when opening started; next PeerJS heartbeat */
    uint64_t sent, got;   /* relay: signals this side sent / signals delivered to this side */
    uint64_t next_id;     /* request ids */
    int call_ready;
    char call[33];
} conn_t;

static conn_t *conns;
static int nconns;
static int epfd;
static int *dirty_list, ndirty;
static char *rbuf;

/* Phase counters */
static int n_ready, n_failed, n_pending, n_done;
static int open_next, open_end; /* connections [open_next, open_end) still to be opened */
static long n_errors;           /* error answers to requests after sign-in */
static int failures_shown;

static void on_message(conn_t *c, const char *m, size_t n);

static void conn_fail(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(conn_t *c, const char *fmt, ...)
{
    if (c->state == C_FAILED || c->state == C_DONE)
        return;
    if (failures_shown < 5) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "signal_load: connection %d (user %d): ", (int)(c - conns), c->user);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        if (++failures_shown == 5)
            fprintf(stderr, "signal_load: (further failures not shown)\n");
    }
    if (c->state >= C_CONNECTING && c->state <= C_SIGNING)
        n_pending--;
    if (c->state == C_READY)
        n_ready--;
    c->state = C_FAILED;
    n_failed++;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

static void out_reserve(conn_t *c, size_t extra)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + extra <= c->out_cap)
        return;
    if (c->out_off) { /* slide unsent bytes to the front before growing */
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + extra <= c->out_cap)
            return;
    }
    size_t cap = c->out_cap ? c->out_cap : 1024;
    while (cap < c->out_len + extra)
        cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->out_cap = cap;
}

static void mark_dirty(conn_t *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        dirty_list[ndirty++] = (int)(c - conns);
    }
}

/* Queues one frame (§5.2): FIN set, the client's mask bit and key, the payload masked. Written out at
 * the end of the loop turn, so a turn's frames to one socket go in one write(). */
static void ws_send(conn_t *c, int op, const void *data, size_t n)
{
    out_reserve(c, n + 14);
    uint8_t *p = (uint8_t *)c->out + c->out_len;
    size_t h = 0;
    p[h++] = (uint8_t)(0x80 | op);
    if (n < 126) {
        p[h++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        p[h++] = 0x80 | 126;
        p[h++] = (uint8_t)(n >> 8);
        p[h++] = (uint8_t)n;
    } else {
        p[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            p[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t k = rng32();
    uint8_t mask[4];
    memcpy(mask, &k, 4);
    memcpy(p + h, mask, 4);
    h += 4;
    const uint8_t *s = data;
    for (size_t i = 0; i < n; i++)
        p[h + i] = s[i] ^ mask[i & 3];
    c->out_len += h + n;
    mark_dirty(c);
}

static void ws_text(conn_t *c, const char *s, size_t n) { ws_send(c, 0x1, s, n); }

static void ws_textf(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ws_textf(conn_t *c, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf)
        die("frame too long for ws_textf");
    ws_text(c, buf, (size_t)n);
}

static void conn_flush(conn_t *c)
{
    while (c->fd >= 0 && c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w > 0) {
            c->out_off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return; /* edge-triggered EPOLLOUT brings us back */
        } else {
            conn_fail(c, "write: %s", strerror(errno));
            return;
        }
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
}

static void flush_dirty(void)
{
    for (int i = 0; i < ndirty; i++) {
        conn_t *c = &conns[dirty_list[i]];
        c->dirty = 0;
        conn_flush(c);
    }
    ndirty = 0;
}

static void conn_open(conn_t *c)
{
    int idx = (int)(c - conns);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Many loopback source addresses, each with its own ephemeral port range: 20k+ connections and the
     * TIME_WAITs of connect/leave cycles never run out of ports. The port is picked at connect() time
     * for the full 4-tuple (IP_BIND_ADDRESS_NO_PORT), not at bind() time. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx % opt.naddrs));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0)
        die("bind 127.0.0.%d: %s", 2 + idx % opt.naddrs, strerror(errno));
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    c->state = C_CONNECTING;
    c->t_open = now_ns();
    c->in_len = c->msg_len = c->out_len = c->out_off = 0;
    c->sent = c->got = 0;
    c->next_id = 1;
    c->call_ready = 0;
    n_pending++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u32 = (uint32_t)idx};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
    if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        conn_fail(c, "connect: %s", strerror(errno));
}

static void send_handshake(conn_t *c)
{
    uint8_t raw[16];
    for (int i = 0; i < 16; i += 4) {
        uint32_t r = rng32();
        memcpy(raw + i, &r, 4);
    }
    EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
    char req[512];
    int n;
    if (opt.kind == SRV_STAFFROOM)
        n = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: staffroom.v1\r\n\r\n",
                     opt.port, c->key);
    else
        n = snprintf(req, sizeof req,
                     "GET /peerjs?key=peerjs&id=p%d&token=t%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     c->user, c->user, opt.port, c->key);
    out_reserve(c, (size_t)n);
    memcpy(c->out + c->out_len, req, (size_t)n);
    c->out_len += (size_t)n;
    c->state = C_HANDSHAKE;
    conn_flush(c);
}

/* A connection is signed in (Staffroom: auth.resume answered ok; PeerJS: OPEN received). */
static void conn_ready(conn_t *c)
{
    c->state = C_READY;
    n_pending--;
    n_ready++;
    c->t_hb = now_ns() + (uint64_t)opt.heartbeat_s * 1000000000ull;
}

static void on_open(conn_t *c)
{
    if (opt.kind == SRV_STAFFROOM) {
        char tok[65];
        user_token(c->user, tok);
        ws_textf(c, "{\"type\":\"auth.resume\",\"id\":%llu,\"token\":\"%s\"}", (unsigned long long)c->next_id++, tok);
        c->state = C_SIGNING;
    } else {
        c->state = C_SIGNING; /* the PeerJS server sends OPEN once the peer is registered */
    }
}

/* Parses the server's handshake answer in c->in: 101, Upgrade, and the right Sec-WebSocket-Accept. */
static int parse_handshake(conn_t *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) {
        if (c->in_len > HANDSHAKE_MAX)
            conn_fail(c, "handshake answer too long");
        return 0;
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    *end = 0;
    if (strncmp(c->in, "HTTP/1.1 101", 12) != 0) {
        char *nl = strchr(c->in, '\r');
        if (nl)
            *nl = 0;
        conn_fail(c, "handshake refused: %s", c->in);
        return -1;
    }
    char want[29];
    accept_for(c->key, want);
    int ok = 0;
    for (char *line = strstr(c->in, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp(l, "Sec-WebSocket-Accept:", 21) == 0) {
            l += 21;
            while (*l == ' ')
                l++;
            ok = strncmp(l, want, 28) == 0;
        }
    }
    if (!ok) {
        conn_fail(c, "bad or missing Sec-WebSocket-Accept");
        return -1;
    }
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= hlen;
    on_open(c);
    return 1;
}

static void deliver(conn_t *c, int op, const char *m, size_t n)
{
    if (op == 0x1)
        on_message(c, m, n);
    else
        conn_fail(c, "binary message from the server");
}

/* Parses complete frames in buf (§5.2); returns the bytes consumed, or -1 after failing c. */
static ssize_t ws_parse(conn_t *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (c->state != C_FAILED && c->state != C_DONE && len - off >= 2) {
        const uint8_t *p = (const uint8_t *)buf + off;
        int fin = p[0] & 0x80, op = p[0] & 0x0f;
        if (p[0] & 0x70) {
            conn_fail(c, "RSV bits set (no extension was negotiated)");
            return -1;
        }
        if (p[1] & 0x80) {
            conn_fail(c, "masked frame from the server (§5.1)");
            return -1;
        }
        uint64_t plen = p[1] & 0x7f;
        size_t h = 2;
        if (plen == 126) {
            if (len - off < 4)
                break;
            plen = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (plen == 127) {
            if (len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            h = 10;
        }
        if (plen > MAX_MSG) {
            conn_fail(c, "frame of %llu bytes", (unsigned long long)plen);
            return -1;
        }
        if (len - off < h + plen)
            break;
        const char *pl = (const char *)p + h;
        size_t n = (size_t)plen;
        off += h + n;
        if (op & 0x8) { /* control frames: never fragmented, at most 125 bytes (§5.5) */
            if (!fin || n > 125) {
                conn_fail(c, "bad control frame");
                return -1;
            }
            if (op == 0x9) {
                ws_send(c, 0xA, pl, n); /* pong with the ping's payload (§5.5.3) */
            } else if (op == 0x8) {
                if (c->state == C_CLOSING) { /* our leave is answered: done */
                    c->state = C_DONE;
                    n_done++;
                    close(c->fd);
                    c->fd = -1;
                } else {
                    conn_fail(c, "closed by the server (code %d)", n >= 2 ? ((uint8_t)pl[0] << 8 | (uint8_t)pl[1]) : 0);
                }
                return -1;
            }
            continue;
        }
        if (op == 0x0) { /* continuation */
            if (!c->msg_op) {
                conn_fail(c, "continuation without a message");
                return -1;
            }
            if (c->msg_len + n > MAX_MSG) {
                conn_fail(c, "message too large");
                return -1;
            }
            if (c->msg_len + n > c->msg_cap) {
                c->msg_cap = (c->msg_len + n) * 2;
                c->msg = xrealloc(c->msg, c->msg_cap);
            }
            memcpy(c->msg + c->msg_len, pl, n);
            c->msg_len += n;
            if (fin) {
                int mop = c->msg_op;
                c->msg_op = 0;
                deliver(c, mop, c->msg, c->msg_len);
                c->msg_len = 0;
            }
        } else if (op == 0x1 || op == 0x2) {
            if (c->msg_op) {
                conn_fail(c, "new message inside a fragmented one");
                return -1;
            }
            if (fin) {
                deliver(c, op, pl, n);
            } else {
                c->msg_op = (uint8_t)op;
                if (n > c->msg_cap) {
                    c->msg_cap = n * 2;
                    c->msg = xrealloc(c->msg, c->msg_cap);
                }
                memcpy(c->msg, pl, n);
                c->msg_len = n;
            }
        } else {
            conn_fail(c, "reserved opcode %d", op);
            return -1;
        }
    }
    return (ssize_t)off;
}

static void in_append(conn_t *c, const char *d, size_t n)
{
    if (c->in_len + n > c->in_cap) {
        c->in_cap = (c->in_len + n) * 2;
        c->in = xrealloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, d, n);
    c->in_len += n;
}

/* Bytes read from c: the handshake answer, then frames. A partial frame is kept in c->in. Returns -1
 * once the connection is gone (failed or closed), else 0. */
static int conn_input(conn_t *c, const char *d, size_t n)
{
    if (c->state == C_HANDSHAKE) {
        in_append(c, d, n);
        int h = parse_handshake(c);
        if (h < 0)
            return -1;
        if (h == 0 || !c->in_len)
            return 0;
        ssize_t k = ws_parse(c, c->in, c->in_len);
        if (k < 0)
            return -1;
        memmove(c->in, c->in + k, c->in_len - (size_t)k);
        c->in_len -= (size_t)k;
        return 0;
    }
    if (c->in_len) { /* a partial frame is waiting: parse from the connection's own buffer */
        in_append(c, d, n);
        ssize_t k = ws_parse(c, c->in, c->in_len);
        if (k < 0)
            return -1;
        memmove(c->in, c->in + k, c->in_len - (size_t)k);
        c->in_len -= (size_t)k;
    } else { /* the common case: whole frames straight from the read buffer */
        ssize_t k = ws_parse(c, d, n);
        if (k < 0)
            return -1;
        if ((size_t)k < n)
            in_append(c, d + k, n - (size_t)k);
    }
    return 0;
}

static void conn_readable(conn_t *c)
{
    for (;;) {
        if (c->fd < 0)
            return;
        ssize_t r = read(c->fd, rbuf, RBUF_SIZE);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            if (c->state == C_CLOSING) {
                c->state = C_DONE;
                n_done++;
                close(c->fd);
                c->fd = -1;
            } else {
                conn_fail(c, "%s", r == 0 ? "connection closed by the server" : strerror(errno));
            }
            return;
        }
        if (conn_input(c, rbuf, (size_t)r) < 0)
            return;
    }
}

static void conn_event(conn_t *c, uint32_t ev)
{
    if (c->state == C_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_fail(c, "connect: %s", strerror(err));
            return;
        }
        send_handshake(c);
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn_readable(c);
    if ((ev & EPOLLOUT) && c->fd >= 0)
        conn_flush(c);
}

/* Starts leaving: a close frame (§5.5.1, code 1000); the server answers with its own close and closes
 * the TCP connection first (§7.1.1), which we wait for. */
static void conn_leave(conn_t *c)
{
    if (c->state != C_READY)
        return;
    n_ready--;
    c->state = C_CLOSING;
    c->t_open = now_ns();
    static const char code[2] = {0x03, (char)0xe8};
    ws_send(c, 0x8, code, 2);
}

/* ---------------------------------------------------------------------------------------------
 * The loop */

typedef int (*done_fn)(void);
static void (*tick_hook)(uint64_t now);

/* Idle clients are not silent: each sends what its real client sends while nothing happens, so the
 * servers' idle cost is the one real clients cause. Staffroom's web client sends a `ping` request every
 * 25 s (PING_EVERY_MS in webclient/protocol.js); the PeerJS browser client a HEARTBEAT every 5 s (its
 * default pingInterval; the server drops a peer silent for alive_timeout). -H overrides the period. */
static void heartbeats(uint64_t now)
{
    if (opt.heartbeat_s <= 0)
        return;
    static uint64_t last;
    if (now - last < 50000000ull)
        return;
    last = now;
    static const char hb[] = "{\"type\":\"HEARTBEAT\"}";
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->state == C_READY && now >= c->t_hb) {
            if (opt.kind == SRV_PEERJS)
                ws_text(c, hb, sizeof hb - 1);
            else
                ws_textf(c, "{\"type\":\"ping\",\"id\":%llu}", (unsigned long long)c->next_id++);
            c->t_hb = now + (uint64_t)opt.heartbeat_s * 1000000000ull;
        }
    }
}

static void timeouts(uint64_t now)
{
    static uint64_t last;
    if (now - last < 200000000ull)
        return;
    last = now;
    for (int i = 0; i < nconns; i++) {
        conn_t *c = &conns[i];
        if (c->t_open > now) /* opened after `now` was read */
            continue;
        if (c->state >= C_CONNECTING && c->state <= C_SIGNING && now - c->t_open > CONNECT_TIMEOUT_NS)
            conn_fail(c, "no sign-in within %llu s", CONNECT_TIMEOUT_NS / 1000000000ull);
        else if (c->state == C_CLOSING && now - c->t_open > CLOSE_TIMEOUT_NS) {
            close(c->fd); /* the server never closed: count it done, but say so */
            c->fd = -1;
            c->state = C_DONE;
            n_done++;
            if (failures_shown++ < 5)
                fprintf(stderr, "signal_load: connection %d: no close from the server within 5 s\n", i);
        }
    }
}

/* Runs the loop until done() or max_s seconds; returns 1 if done() became true. */
static int run_until(done_fn done, double max_s)
{
    uint64_t deadline = now_ns() + (uint64_t)(max_s * 1e9);
    struct epoll_event evs[512];
    for (;;) {
        uint64_t now = now_ns();
        while (open_next < open_end && n_pending < opt.concurrency)
            conn_open(&conns[open_next++]);
        heartbeats(now);
        timeouts(now);
        if (tick_hook)
            tick_hook(now);
        flush_dirty();
        if (done && done())
            return 1;
        if (now >= deadline)
            return 0;
        int n = epoll_wait(epfd, evs, 512, 5);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            conn_t *c = &conns[evs[i].data.u32];
            if (c->fd >= 0)
                conn_event(c, evs[i].events);
        }
        flush_dirty();
    }
}

static int all_opened(void) { return open_next == open_end && n_pending == 0; }
static int all_left(void) { return n_ready == 0 && n_pending == 0; }

/* Opens connections [from, to) with at most opt.concurrency handshakes and sign-ins at once; returns
 * connections signed in per second (connect + sign-in answered, wall clock). */
static double open_range(int from, int to, double max_s)
{
    int failed0 = n_failed;
    if (max_s < (to - from) / 100.0) /* a starved server may sign in only ~100/s: still bounded */
        max_s = (to - from) / 100.0;
    open_next = from;
    open_end = to;
    uint64_t t0 = now_ns();
    if (!run_until(all_opened, max_s))
        fprintf(stderr, "signal_load: only %d of %d connections signed in within %.0f s\n", to - from - (n_failed - failed0) - n_pending, to - from, max_s);
    double s = (double)(now_ns() - t0) / 1e9;
    return (double)(to - from - (n_failed - failed0)) / s;
}

static void leave_all(void)
{
    for (int i = 0; i < nconns; i++)
        conn_leave(&conns[i]);
    run_until(all_left, 15);
    for (int i = 0; i < nconns; i++) /* those that left are free again for the next cycle */
        if (conns[i].state == C_DONE) {
            conns[i].state = C_FREE;
            n_done--;
        }
}

/* Lets the loop run (answering pings, reading whatever comes) for s seconds. */
static void settle(double s) { run_until(NULL, s); }

/* Runs until no message has arrived for quiet_s seconds (at most max_s): sign-ins cause presence events
 * to every member of a circle, and a measurement must not count that storm. */
static uint64_t last_rx;
static int quiet_ns_limit;
static int is_quiet(void) { return now_ns() - last_rx > (uint64_t)quiet_ns_limit; }
static void wait_quiet(double quiet_s, double max_s)
{
    last_rx = now_ns();
    quiet_ns_limit = (int)(quiet_s * 1e9);
    run_until(is_quiet, max_s);
}

/* ---------------------------------------------------------------------------------------------
 * A tiny JSON reader: finds a member of the top-level object without building a tree (the load
 * client must not spend more per message than the servers do). */

static const char *skip_string(const char *s, const char *e)
{
    for (s++; s < e; s++) {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s;
    }
    return NULL;
}

/* Finds top-level member key; *v, *vn: a string value without its quotes, else the raw token. */
static int json_member(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
    const char *e = s + n;
    size_t klen = strlen(key);
    int depth = 0, want_key = 0;
    for (const char *p = s; p < e; p++) {
        char ch = *p;
        if (ch == '"') {
            const char *q = skip_string(p, e);
            if (!q)
                return 0;
            if (depth == 1 && want_key) {
                int match = (size_t)(q - p - 1) == klen && memcmp(p + 1, key, klen) == 0;
                p = q + 1;
                while (p < e && (*p == ' ' || *p == ':'))
                    p++;
                if (match && p < e) {
                    if (*p == '"') {
                        q = skip_string(p, e);
                        if (!q)
                            return 0;
                        *v = p + 1;
                        *vn = (size_t)(q - p - 1);
                    } else {
                        const char *t = p;
                        while (t < e && *t != ',' && *t != '}')
                            t++;
                        *v = p;
                        *vn = (size_t)(t - p);
                    }
                    return 1;
                }
                want_key = 0;
                p--;
                continue;
            }
            p = q;
        } else if (ch == '{' || ch == '[') {
            depth++;
            want_key = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            want_key = 1;
        }
    }
    return 0;
}

static int is(const char *v, size_t vn, const char *lit) { return vn == strlen(lit) && memcmp(v, lit, vn) == 0; }

static long long num_after(const char *s, size_t n, const char *pat)
{
    const char *p = memmem(s, n, pat, strlen(pat));
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/* ---------------------------------------------------------------------------------------------
 * Relay: pairs exchanging ~250-byte signals, a bounded window in flight per side */

/* The signal's data: shaped like an ICE candidate, ~250 bytes, carrying a per-sender sequence number so
 * the receiver checks order and completeness. Same object for both servers. */
#define SIG_DATA_FMT                                                                                           \
    "{\"candidate\":\"candidate:842163049 1 udp 1677729535 192.0.2.10 61234 typ srflx raddr 10.0.0.5 "          \
    "rport 61234 generation 0 ufrag Xy7q network-cost 999 bench-padding-0123456789abcdef0123456789abcdef\","     \
    "\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":\"Xy7q\",\"seq\":%llu}"

static int sending;                     /* 1 while the senders refill their windows */
static uint64_t delivered, order_errors; /* signals delivered (all pairs), out-of-order deliveries */
static int side_window;

static void relay_send_one(conn_t *c)
{
    char data[400], frame[700];
    int dn = snprintf(data, sizeof data, SIG_DATA_FMT, (unsigned long long)c->sent);
    int n;
    if (opt.kind == SRV_STAFFROOM)
        n = snprintf(frame, sizeof frame, "{\"type\":\"call.signal\",\"id\":%llu,\"call\":\"%s\",\"data\":%.*s}",
                     (unsigned long long)c->next_id++, c->call, dn, data);
    else
        n = snprintf(frame, sizeof frame, "{\"type\":\"%s\",\"dst\":\"p%d\",\"payload\":%.*s}",
                     (c->sent & 1) ? "CANDIDATE" : "OFFER", conns[c->peer].user, dn, data);
    ws_text(c, frame, (size_t)n);
    c->sent++;
}

static void relay_pump(conn_t *c)
{
    if (!sending || c->state != C_READY || !c->call_ready)
        return;
    conn_t *p = &conns[c->peer];
    while (c->sent - p->got < (uint64_t)side_window)
        relay_send_one(c);
}

static void relay_delivered(conn_t *c, const char *m, size_t n)
{
    long long seq = num_after(m, n, "\"seq\":");
    if (seq != (long long)c->got)
        order_errors++;
    c->got++;
    delivered++;
    relay_pump(&conns[c->peer]);
}

/* ---------------------------------------------------------------------------------------------
 * Fan-out: one sender, many members of one channel; latency from send to each delivery */

static uint64_t *fan_sent_at; /* per message index: when chat.send was written */
static uint32_t *lat_us;
static size_t nlat, lat_cap;
static uint64_t fan_deliveries, fan_bad;

static uint64_t fan_barrier, fan_barrier_want;
static int fan_barrier_done(void) { return fan_barrier >= fan_barrier_want; }

static void fan_delivered(const char *m, size_t n)
{
    uint64_t t = now_ns();
    if (memmem(m, n, "\"text\":\"barrier before", 22)) {
        fan_barrier++;
        return;
    }
    long long k = num_after(m, n, "\"text\":\"fanout-");
    if (k < 0 || k >= opt.messages || !fan_sent_at[k]) {
        fan_bad++;
        return;
    }
    fan_deliveries++;
    if (nlat < lat_cap)
        lat_us[nlat++] = (uint32_t)((t - fan_sent_at[k]) / 1000);
}

/* ---------------------------------------------------------------------------------------------
 * Messages from the server */

static void on_message(conn_t *c, const char *m, size_t n)
{
    last_rx = now_ns();
    const char *t;
    size_t tn;
    if (!json_member(m, n, "type", &t, &tn)) {
        conn_fail(c, "a message without type: %.*s", (int)(n > 200 ? 200 : n), m);
        return;
    }
    if (opt.kind == SRV_PEERJS) {
        if (is(t, tn, "OFFER") || is(t, tn, "CANDIDATE")) {
            relay_delivered(c, m, n);
        } else if (is(t, tn, "OPEN")) {
            if (c->state == C_SIGNING)
                conn_ready(c);
        } else if (is(t, tn, "ERROR") || is(t, tn, "ID-TAKEN") || is(t, tn, "EXPIRE") || is(t, tn, "LEAVE")) {
            conn_fail(c, "%.*s", (int)(n > 200 ? 200 : n), m);
        }
        return;
    }
    /* Staffroom */
    if (is(t, tn, "call.signal")) {
        relay_delivered(c, m, n);
    } else if (is(t, tn, "ok")) {
        const char *id;
        size_t idn;
        if (c->state == C_SIGNING) {
            if (json_member(m, n, "id", &id, &idn) && is(id, idn, "1"))
                conn_ready(c);
        } else if (c->role == R_PAIR_A && !c->call[0] && json_member(m, n, "call", &id, &idn) && idn == 32) {
            memcpy(c->call, id, 32); /* the invite's answer: the call is ringing */
            c->call[32] = 0;
        } else if (c->role == R_PAIR_B && c->call[0] && !c->call_ready && json_member(m, n, "state", &id, &idn) &&
                   is(id, idn, "active")) {
            c->call_ready = 1;
        }
    } else if (is(t, tn, "error")) {
        n_errors++;
        if (c->state == C_SIGNING)
            conn_fail(c, "sign-in refused: %.*s", (int)(n > 200 ? 200 : n), m);
        else if (failures_shown++ < 5)
            fprintf(stderr, "signal_load: connection %d: %.*s\n", (int)(c - conns), (int)(n > 300 ? 300 : n), m);
    } else if (is(t, tn, "chat.message")) {
        fan_delivered(m, n);
    } else if (is(t, tn, "call.incoming") && c->role == R_PAIR_B) {
        const char *id;
        size_t idn;
        if (json_member(m, n, "call", &id, &idn) && idn == 32) {
            memcpy(c->call, id, 32);
            c->call[32] = 0;
            ws_textf(c, "{\"type\":\"call.accept\",\"id\":%llu,\"call\":\"%s\"}", (unsigned long long)c->next_id++, c->call);
        }
    } else if (is(t, tn, "call.accepted") && c->role == R_PAIR_A) {
        c->call_ready = 1;
    } else if (is(t, tn, "call.ended")) {
        conn_fail(c, "call ended: %.*s", (int)(n > 200 ? 200 : n), m);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Modes */

static void alloc_conns(int n)
{
    if (n > MAX_CONNS)
        die("%d connections: at most %d", n, MAX_CONNS);
    nconns = n;
    conns = calloc((size_t)n, sizeof *conns);
    dirty_list = calloc((size_t)n, sizeof *dirty_list);
    if (!conns || !dirty_list)
        die("out of memory");
    for (int i = 0; i < n; i++)
        conns[i].fd = -1;
}

static int pairs_from, pairs_to;
static int calls_ready(void)
{
    for (int i = pairs_from; i < pairs_to; i++)
        if (conns[i].state == C_READY && !conns[i].call_ready)
            return 0;
    return 1;
}

static uint64_t inflight(void)
{
    uint64_t f = 0;
    for (int i = pairs_from; i < pairs_to; i++)
        f += conns[i].sent - conns[conns[i].peer].got;
    return f;
}
static int drained(void) { return inflight() == 0; }

static int mode_relay(void)
{
    int np = opt.pairs;
    if (np < 1 || np > PAIR_MAX / 2 || opt.idle < 0 || opt.idle > IDLE_MAX)
        die("pairs 1..%d, idle 0..%d", PAIR_MAX / 2, IDLE_MAX);
    alloc_conns(opt.idle + 2 * np);
    side_window = opt.window / 2 > 0 ? opt.window / 2 : 1;
    for (int i = 0; i < opt.idle; i++)
        conns[i].user = i, conns[i].role = R_IDLE;
    pairs_from = opt.idle;
    pairs_to = opt.idle + 2 * np;
    for (int p = 0; p < np; p++) {
        conn_t *a = &conns[pairs_from + 2 * p], *b = a + 1;
        a->role = R_PAIR_A, b->role = R_PAIR_B;
        a->user = PAIR_BASE + 2 * p, b->user = PAIR_BASE + 2 * p + 1;
        a->peer = pairs_from + 2 * p + 1, b->peer = pairs_from + 2 * p;
    }
    double idle_rate = 0;
    if (opt.idle) {
        idle_rate = open_range(0, opt.idle, 120);
        printf("  %d idle clients signed in (%.0f/s)\n", opt.idle, idle_rate);
        settle(1);
    }
    open_range(pairs_from, pairs_to, 30);
    if (n_failed)
        goto out;
    /* Calls: Staffroom needs call.invite → call.incoming → call.accept before signals flow; PeerJS peers
     * address each other by id at once. */
    for (int i = pairs_from; i < pairs_to; i++) {
        conn_t *c = &conns[i];
        if (opt.kind == SRV_PEERJS) {
            c->call_ready = 1;
        } else if (c->role == R_PAIR_A) {
            char uid[33];
            user_uid(conns[c->peer].user, uid);
            ws_textf(c, "{\"type\":\"call.invite\",\"id\":%llu,\"user\":\"%s\"}", (unsigned long long)c->next_id++, uid);
        }
    }
    if (!run_until(calls_ready, 20) || n_failed) {
        fprintf(stderr, "signal_load: calls were not set up\n");
        goto out;
    }
    /* Priming: one signal per pair, delivered, before the window opens. A fresh Redis has no scripts
     * cached: staffroom-signal sends EVALSHA, gets NOSCRIPT and re-sends the body, and signals already
     * in flight can then overtake one another (they do, at 50 pairs). A long-running server has a warm
     * cache; -z skips the priming to show the cold-cache behaviour. */
    if (!opt.no_prime) {
        for (int i = pairs_from; i < pairs_to; i += 2)
            relay_send_one(&conns[i]);
        if (!run_until(drained, 20)) {
            fprintf(stderr, "signal_load: priming signals were not delivered\n");
            goto out;
        }
    }
    sending = 1;
    for (int i = pairs_from; i < pairs_to; i++)
        relay_pump(&conns[i]);
    run_until(NULL, opt.warmup); /* warm-up: caches, JIT, allocator pools; not counted */
    uint64_t d0 = delivered;
    snap_t s0 = snap();
    run_until(NULL, opt.seconds);
    snap_t s1 = snap();
    uint64_t d1 = delivered;
    sending = 0;
    /* Everything in flight must still arrive: a signal is counted lost only if it has not come 15 s
     * after sending stopped (a server that falls that far behind has failed the load anyway). */
    uint64_t tdrain = now_ns();
    int ok = run_until(drained, 15);
    double drain_s = (double)(now_ns() - tdrain) / 1e9;
    uint64_t sent = 0;
    for (int i = pairs_from; i < pairs_to; i++)
        sent += conns[i].sent;
    double secs = (double)(s1.wall - s0.wall) / 1e9, dn = (double)(d1 - d0);
    double srv = s1.srv - s0.srv, red = opt.redis_pid > 0 ? s1.redis - s0.redis : 0;
    printf("  %d pair(s), %d idle: %.0f signals delivered in %.2f s = %.0f/s; server CPU %.2f s%s; client CPU %.0f%%\n", np,
           opt.idle, dn, secs, dn / secs, srv, opt.redis_pid > 0 ? " (+ Redis)" : "", 100 * (s1.self - s0.self) / secs);
    printf("RESULT mode=relay pairs=%d idle=%d delivered=%.0f seconds=%.3f rate=%.1f srv_cpu_s=%.3f redis_cpu_s=%.3f "
           "us_srv=%.2f us_redis=%.2f us_total=%.2f client_cpu_pct=%.1f sent_total=%llu delivered_total=%llu lost=%llu "
           "order_errors=%llu errors=%ld failed=%d idle_setup_rate=%.0f drain_s=%.3f srv_cpu_pct=%.1f\n",
           np, opt.idle, dn, secs, dn / secs, srv, red, dn > 0 ? 1e6 * srv / dn : -1, dn > 0 ? 1e6 * red / dn : -1,
           dn > 0 ? 1e6 * (srv + red) / dn : -1, 100 * (s1.self - s0.self) / secs, (unsigned long long)sent,
           (unsigned long long)delivered, (unsigned long long)(sent - delivered), (unsigned long long)order_errors, n_errors,
           n_failed, idle_rate, drain_s, 100 * (srv + red) / secs);
    if (!ok)
        fprintf(stderr, "signal_load: %llu signals still undelivered 15 s after sending stopped\n", (unsigned long long)inflight());
    return !ok || d1 == d0 || order_errors || n_errors || n_failed || sent != delivered;
out:
    printf("RESULT mode=relay pairs=%d idle=%d failed=%d errors=%ld\n", np, opt.idle, n_failed, n_errors);
    return 1;
}

static int mode_idle(void)
{
    int n = opt.conns;
    if (n < 1 || n > IDLE_MAX)
        die("idle: -N 1..%d", IDLE_MAX);
    alloc_conns(n);
    for (int i = 0; i < n; i++)
        conns[i].user = i;
    settle(0.3);
    long rss0 = proc_rss_kb(opt.pid);
    double rate = open_range(0, n, 120);
    settle(1); /* sign-in side work (presence writes, subscriptions) finishes */
    long rss1 = proc_rss_kb(opt.pid);
    printf("  %d connections signed in at %.0f/s; server RSS %ld kB → %ld kB\n", n, rate, rss0, rss1);
    double idle_srv = -1, idle_red = -1;
    if (opt.idle_seconds > 0) {
        snap_t s0 = snap();
        settle(opt.idle_seconds);
        snap_t s1 = snap();
        double secs = (double)(s1.wall - s0.wall) / 1e9;
        idle_srv = 100 * (s1.srv - s0.srv) / secs;
        idle_red = opt.redis_pid > 0 ? 100 * (s1.redis - s0.redis) / secs : 0;
        printf("  idle for %.1f s: server %.2f%% of a core, Redis %.2f%%, client %.2f%%\n", secs, idle_srv, idle_red,
               100 * (s1.self - s0.self) / secs);
    }
    long rss2 = rss1;
    for (int cyc = 0; cyc < opt.cycles && !n_failed; cyc++) {
        leave_all();
        settle(0.3);
        open_range(0, n, 120);
    }
    if (opt.cycles) {
        settle(1);
        rss2 = proc_rss_kb(opt.pid);
        printf("  after %d cycles of %d leaving and coming back: server RSS %ld kB\n", opt.cycles, n, rss2);
    }
    leave_all();
    settle(1);
    long rss3 = proc_rss_kb(opt.pid);
    printf("RESULT mode=idle n=%d setup_rate=%.1f rss_base_kb=%ld rss_fresh_kb=%ld per_conn_fresh_b=%.0f cycles=%d "
           "rss_cycles_kb=%ld per_conn_cycles_b=%.0f rss_left_kb=%ld left_b=%.0f idle_srv_cpu_pct=%.3f "
           "idle_redis_cpu_pct=%.3f failed=%d errors=%ld\n",
           n, rate, rss0, rss1, 1024.0 * (double)(rss1 - rss0) / n, opt.cycles, rss2, 1024.0 * (double)(rss2 - rss0) / n,
           rss3, 1024.0 * (double)(rss3 - rss0) / n, idle_srv, idle_red, n_failed, n_errors);
    return n_failed || n_errors || rss0 < 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int fan_next, fan_all_sent;
static uint64_t fan_t0;
static conn_t *fan_sender;
static void fan_tick(uint64_t now)
{
    while (fan_next < opt.messages && now >= fan_t0 + (uint64_t)fan_next * (uint64_t)opt.gap_ms * 1000000ull) {
        ws_textf(fan_sender, "{\"type\":\"chat.send\",\"id\":%llu,\"channel\":\"%s\",\"text\":\"fanout-%d from the bench\"}",
                 (unsigned long long)fan_sender->next_id++, CHANNEL_ID, fan_next);
        /* written at once, so the clock starts when the bytes leave */
        conn_flush(fan_sender);
        fan_sent_at[fan_next++] = now_ns();
    }
    fan_all_sent = fan_next == opt.messages;
}
static uint64_t fan_expected;
static int fan_done(void) { return fan_all_sent && fan_deliveries >= fan_expected; }

static int mode_fanout(void)
{
    if (opt.kind != SRV_STAFFROOM)
        die("fanout: Staffroom only (PeerJS has no channels)");
    int m = opt.members, o = opt.idle;
    if (m < 1 || m > MEMBER_MAX || o < 0 || o > IDLE_MAX)
        die("fanout: members 1..%d, others 0..%d", MEMBER_MAX, IDLE_MAX);
    alloc_conns(o + m);
    for (int i = 0; i < o; i++)
        conns[i].user = i;
    for (int i = 0; i < m; i++)
        conns[o + i].user = MEMBER_BASE + i, conns[o + i].role = R_MEMBER;
    if (o) {
        double r = open_range(0, o, 120);
        printf("  %d other idle clients signed in (%.0f/s)\n", o, r);
    }
    double r = open_range(o, o + m, 60);
    printf("  %d members signed in (%.0f/s); waiting for their presence events to settle\n", m, r);
    /* Their sign-ins sent presence events to every member (a storm of ~m²/2 deliveries). Quiet for a
     * moment is not enough on a busy server: a barrier message sent down the same path (chat.send →
     * Redis → pub/sub → every member) arrives behind everything queued before it. */
    wait_quiet(0.5, 60);
    fan_sender = &conns[o];
    ws_textf(fan_sender, "{\"type\":\"chat.send\",\"id\":%llu,\"channel\":\"%s\",\"text\":\"barrier before the bench\"}",
             (unsigned long long)fan_sender->next_id++, CHANNEL_ID);
    fan_barrier_want = (uint64_t)m;
    if (!run_until(fan_barrier_done, 120))
        fprintf(stderr, "signal_load: the barrier reached %llu of %d members in 120 s\n", (unsigned long long)fan_barrier, m);
    wait_quiet(0.3, 10);
    if (n_failed || fan_barrier < fan_barrier_want) {
        printf("RESULT mode=fanout members=%d others=%d failed=%d barrier=%llu\n", m, o, n_failed, (unsigned long long)fan_barrier);
        return 1;
    }
    fan_sent_at = calloc((size_t)opt.messages, sizeof *fan_sent_at);
    lat_cap = (size_t)opt.messages * (size_t)m;
    lat_us = calloc(lat_cap, sizeof *lat_us);
    if (!fan_sent_at || !lat_us)
        die("out of memory");
    fan_expected = (uint64_t)opt.messages * (uint64_t)m; /* the sender's own device gets each one too */
    snap_t s0 = snap();
    fan_t0 = now_ns();
    tick_hook = fan_tick;
    /* A delivery that has not come 30 s after the last send counts as lost. */
    int ok = run_until(fan_done, (double)opt.messages * opt.gap_ms / 1000.0 + 30);
    snap_t s1 = snap();
    tick_hook = NULL;
    double secs = (double)(s1.wall - s0.wall) / 1e9, dn = (double)fan_deliveries;
    double srv = s1.srv - s0.srv, red = opt.redis_pid > 0 ? s1.redis - s0.redis : 0;
    qsort(lat_us, nlat, sizeof *lat_us, cmp_u32);
    uint32_t p50 = nlat ? lat_us[nlat / 2] : 0, p99 = nlat ? lat_us[(nlat * 99) / 100] : 0, mx = nlat ? lat_us[nlat - 1] : 0;
    printf("  %d messages to %d members (%d others idle): %.0f deliveries in %.2f s, latency p50 %u us p99 %u us max %u us; "
           "server CPU %.3f s, Redis %.3f s; client CPU %.0f%%\n",
           opt.messages, m, o, dn, secs, p50, p99, mx, srv, red, 100 * (s1.self - s0.self) / secs);
    printf("RESULT mode=fanout members=%d others=%d messages=%d deliveries=%.0f expected=%llu p50_us=%u p99_us=%u max_us=%u "
           "srv_cpu_s=%.3f redis_cpu_s=%.3f us_srv=%.3f us_redis=%.3f us_total=%.3f seconds=%.3f client_cpu_pct=%.1f "
           "lost=%llu bad=%llu errors=%ld failed=%d\n",
           m, o, opt.messages, dn, (unsigned long long)fan_expected, p50, p99, mx, srv, red, dn > 0 ? 1e6 * srv / dn : -1,
           dn > 0 ? 1e6 * red / dn : -1, dn > 0 ? 1e6 * (srv + red) / dn : -1, secs, 100 * (s1.self - s0.self) / secs,
           (unsigned long long)(fan_expected - fan_deliveries), (unsigned long long)fan_bad, n_errors, n_failed);
    return !ok || fan_deliveries == 0 || fan_bad || n_errors || n_failed;
}

/* ---------------------------------------------------------------------------------------------
 * Seeding Redis with a raw RESP writer (pipelined: a batch of commands, then their one-line answers) */

static char *resp;
static size_t resp_len, resp_cap;
static int resp_cmds;

static void resp_arg(const char *s)
{
    size_t n = strlen(s);
    if (resp_len + n + 32 > resp_cap) {
        resp_cap = (resp_len + n + 32) * 2;
        resp = xrealloc(resp, resp_cap);
    }
    resp_len += (size_t)sprintf(resp + resp_len, "$%zu\r\n", n);
    memcpy(resp + resp_len, s, n);
    resp_len += n;
    memcpy(resp + resp_len, "\r\n", 2);
    resp_len += 2;
}

static void resp_cmd(int argc, ...)
{
    char hdr[16];
    snprintf(hdr, sizeof hdr, "*%d\r\n", argc);
    size_t hn = strlen(hdr);
    if (resp_len + hn > resp_cap) {
        resp_cap = (resp_len + hn) * 2 + 4096;
        resp = xrealloc(resp, resp_cap);
    }
    memcpy(resp + resp_len, hdr, hn);
    resp_len += hn;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        resp_arg(va_arg(ap, const char *));
    va_end(ap);
    resp_cmds++;
}

/* Sends the batch and reads one answer line per command (every command used here answers one line:
 * +OK, :n or -ERR); an error answer is fatal. */
static void resp_flush(int fd)
{
    size_t off = 0;
    while (off < resp_len) {
        ssize_t w = write(fd, resp + off, resp_len - off);
        if (w <= 0)
            die("write to Redis: %s", strerror(errno));
        off += (size_t)w;
    }
    char buf[65536];
    int lines = 0;
    size_t have = 0;
    while (lines < resp_cmds) {
        ssize_t r = read(fd, buf + have, sizeof buf - have);
        if (r <= 0)
            die("read from Redis: %s", r ? strerror(errno) : "closed");
        have += (size_t)r;
        size_t start = 0;
        for (size_t i = 0; i + 1 < have; i++)
            if (buf[i] == '\r' && buf[i + 1] == '\n') {
                if (buf[start] == '-')
                    die("Redis: %.*s", (int)(i - start), buf + start);
                lines++;
                start = i + 2;
                i++;
            }
        memmove(buf, buf + start, have - start);
        have -= start;
    }
    resp_len = 0;
    resp_cmds = 0;
}

static void seed_user(int fd, int i, long long now_ms)
{
    char uid[33], tok[65], name[32], disp[32], key[80], created[24];
    user_uid(i, uid);
    user_token(i, tok);
    snprintf(name, sizeof name, "bench%d", i);
    snprintf(disp, sizeof disp, "Bench %d", i);
    snprintf(created, sizeof created, "%lld", now_ms);
    /* session key: SHA-256 of the token's 32 raw bytes, in hex (accounts.c token_key) */
    unsigned char raw[32], h[32];
    for (int k = 0; k < 32; k++) {
        unsigned v;
        sscanf(tok + 2 * k, "%2x", &v);
        raw[k] = (unsigned char)v;
    }
    SHA256(raw, 32, h);
    strcpy(key, "session:");
    for (int k = 0; k < 32; k++)
        sprintf(key + 8 + 2 * k, "%02x", h[k]);
    char ukey[48], nkey[48];
    snprintf(ukey, sizeof ukey, "user:%s", uid);
    snprintf(nkey, sizeof nkey, "username:%s", name);
    resp_cmd(20, "HSET", ukey, "name", name, "display_name", disp, "school", "", "subjects", "[]", "tz", "UTC", "bio",
             "", "pwhash", "-", "admin", "0", "created", created);
    resp_cmd(3, "SET", nkey, uid);
    resp_cmd(5, "SET", key, uid, "EX", "86400");
    if (resp_cmds >= 3000)
        resp_flush(fd);
}

static int mode_seed(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.redis_port)};
    a.sin_addr.s_addr = htonl(0x7f000001u);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect to Redis on port %d: %s", opt.redis_port, strerror(errno));
    if (opt.idle_users > IDLE_MAX || opt.seed_members > MEMBER_MAX || opt.seed_pairs > PAIR_MAX / 2)
        die("seed: at most %d idle users, %d members, %d pairs", IDLE_MAX, MEMBER_MAX, PAIR_MAX / 2);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char created[24];
    snprintf(created, sizeof created, "%lld", now_ms);
    uint64_t t0 = now_ns();
    for (int i = 0; i < opt.idle_users; i++)
        seed_user(fd, i, now_ms);
    for (int i = 0; i < 2 * opt.seed_pairs; i++)
        seed_user(fd, PAIR_BASE + i, now_ms);
    /* The fan-out circle with its general channel, and its members (both directions of membership). */
    char owner[33];
    user_uid(MEMBER_BASE, owner);
    resp_cmd(16, "HSET", "circle:" CIRCLE_ID, "name", "Bench circle", "subject", "Benchmarks", "phase", "secondary",
             "description", "", "moderated", "0", "created_by", owner, "created", created);
    resp_cmd(4, "ZADD", "circles", created, CIRCLE_ID);
    resp_cmd(4, "ZADD", "circle:" CIRCLE_ID ":channels", created, CHANNEL_ID);
    resp_cmd(10, "HSET", "channel:" CHANNEL_ID, "circle", CIRCLE_ID, "name", "general", "topic", "", "created", created);
    for (int i = 0; i < opt.seed_members; i++) {
        char uid[33], ckey[64];
        seed_user(fd, MEMBER_BASE + i, now_ms);
        user_uid(MEMBER_BASE + i, uid);
        snprintf(ckey, sizeof ckey, "user:%s:circles", uid);
        resp_cmd(4, "HSET", "circle:" CIRCLE_ID ":members", uid, i == 0 ? "moderator" : "member");
        resp_cmd(4, "HSET", ckey, CIRCLE_ID, "member");
    }
    resp_flush(fd);
    close(fd);
    printf("seeded %d idle users, %d pair users, a circle of %d members in %.2f s\n", opt.idle_users, 2 * opt.seed_pairs,
           opt.seed_members, (double)(now_ns() - t0) / 1e9);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * selftest: the WebSocket reader and the JSON scanner on crafted input, no sockets. The bench script
 * runs it first, so figures are never produced by a client that misreads frames. */

static size_t frame(uint8_t *out, int fin, int op, int masked, const char *p, size_t n)
{
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
    uint8_t m = masked ? 0x80 : 0;
    if (n < 126) {
        out[h++] = (uint8_t)(m | n);
    } else if (n <= 0xffff) {
        out[h++] = m | 126, out[h++] = (uint8_t)(n >> 8), out[h++] = (uint8_t)n;
    } else {
        out[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    if (masked) {
        memset(out + h, 0, 4); /* a zero key: the payload stays readable, the bit is what matters */
        h += 4;
    }
    memcpy(out + h, p, n);
    return h + n;
}

static int st_fail;
#define CHECK(cond)                                                                                              \
    do {                                                                                                         \
        if (!(cond)) {                                                                                           \
            fprintf(stderr, "signal_load selftest: line %d: %s\n", __LINE__, #cond);                             \
            st_fail = 1;                                                                                         \
        }                                                                                                        \
    } while (0)

/* Feeds a byte stream to a fresh connection in chunks of `chunk` bytes, as reads would deliver it. */
static conn_t *st_conn(int state, int role)
{
    static int next;
    conn_t *c = &conns[next++];
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->state = (uint8_t)state;
    c->role = (uint8_t)role;
    return c;
}
static void st_feed(conn_t *c, const uint8_t *d, size_t n, size_t chunk)
{
    for (size_t off = 0; off < n && c->state != C_FAILED; off += chunk)
        conn_input(c, (const char *)d + off, n - off < chunk ? n - off : chunk);
}

static int mode_selftest(void)
{
    alloc_conns(64);
    /* RFC 6455 §1.3's example key and answer */
    char acc[29];
    accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    /* the JSON scanner: top level only, escapes, numbers */
    const char *v;
    size_t vn;
    const char *j1 = "{\"data\":{\"type\":\"inner\"},\"a\":\"q\\\"type\\\":\",\"type\":\"outer\",\"id\":17}";
    CHECK(json_member(j1, strlen(j1), "type", &v, &vn) && is(v, vn, "outer"));
    CHECK(json_member(j1, strlen(j1), "id", &v, &vn) && is(v, vn, "17"));
    CHECK(!json_member(j1, strlen(j1), "missing", &v, &vn));

    /* A sign-in answer split into fragments with a ping between them (§5.4: control frames may be
     * interleaved), fed whole, then 1 and 3 bytes at a time. */
    static uint8_t buf[200000];
    for (size_t chunk = 0; chunk < 3; chunk++) {
        size_t sz = chunk == 0 ? sizeof buf : chunk == 1 ? 1 : 3, n = 0;
        static const char *const part[4] = {"{\"type\":\"o", "pi", "k\",\"id\"", ":1}"};
        static const int fin[4] = {0, 1, 0, 1}, op[4] = {0x1, 0x9, 0x0, 0x0};
        for (int i = 0; i < 4; i++)
            n += frame(buf + n, fin[i], op[i], 0, part[i], strlen(part[i]));
        conn_t *c = st_conn(C_SIGNING, R_IDLE);
        int ready0 = n_ready;
        n_pending++;
        st_feed(c, buf, n, sz);
        CHECK(c->state == C_READY && n_ready == ready0 + 1);
        /* the pong: FIN|0xA, masked, length 2, the ping's payload under the mask */
        CHECK(c->out_len == 8 && (uint8_t)c->out[0] == 0x8A && (uint8_t)c->out[1] == 0x82);
        CHECK((c->out[6] ^ c->out[2]) == 'p' && (c->out[7] ^ c->out[3]) == 'i');
    }

    /* Signals with 7-, 16- and 64-bit lengths arrive in order and are counted. */
    {
        conn_t *a = st_conn(C_READY, R_PAIR_A), *b = st_conn(C_READY, R_PAIR_B);
        a->peer = (int)(b - conns), b->peer = (int)(a - conns);
        static char big[100000];
        size_t n = 0;
        uint64_t d0 = delivered;
        const size_t sizes[3] = {60, 300, 70000};
        for (int i = 0; i < 3; i++) {
            int k = snprintf(big, sizeof big, "{\"type\":\"call.signal\",\"data\":{\"seq\":%d,\"pad\":\"", i);
            while ((size_t)k < sizes[i] - 3)
                big[k++] = 'x';
            memcpy(big + k, "\"}}", 3);
            n += frame(buf + n, 1, 0x1, 0, big, sizes[i]);
        }
        st_feed(b, buf, n, 4096);
        CHECK(delivered == d0 + 3 && b->got == 3 && order_errors == 0 && b->state == C_READY);
    }

    /* What a server must not send fails the connection: a masked frame, a binary message, a continuation
     * without a start, a fragmented control frame. */
    {
        const uint8_t bad_op[4] = {0x1, 0x2, 0x0, 0x9};
        const int bad_fin[4] = {1, 1, 1, 0}, bad_mask[4] = {1, 0, 0, 0};
        for (int i = 0; i < 4; i++) {
            conn_t *c = st_conn(C_READY, R_IDLE);
            n_ready++;
            int failed0 = n_failed;
            size_t n = frame(buf, bad_fin[i], bad_op[i], bad_mask[i], "{\"type\":\"x\"}", 12);
            st_feed(c, buf, n, n);
            CHECK(c->state == C_FAILED && n_failed == failed0 + 1);
        }
    }

    /* The answer to our close frame ends a leave cleanly. */
    {
        conn_t *c = st_conn(C_CLOSING, R_IDLE);
        int done0 = n_done;
        size_t n = frame(buf, 1, 0x8, 0, "\x03\xe8", 2);
        st_feed(c, buf, n, n);
        CHECK(c->state == C_DONE && n_done == done0 + 1);
    }
    printf("signal_load selftest: %s\n", st_fail ? "FAILED" : "ok");
    return st_fail;
}

/* ---------------------------------------------------------------------------------------------
 * main */

static void usage(void)
{
    fputs("usage: signal_load seed|relay|idle|fanout [options] (see the comment at the top of signal_load.c)\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    opt.mode = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines show up as they happen, also in a log file */
    clk_tck = sysconf(_SC_CLK_TCK);
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "S:p:r:P:R:n:I:d:u:w:N:C:i:m:k:g:c:A:H:M:Q:z")) != -1) {
        switch (c) {
        case 'S':
            if (strcmp(optarg, "staffroom") == 0)
                opt.kind = SRV_STAFFROOM;
            else if (strcmp(optarg, "peerjs") == 0)
                opt.kind = SRV_PEERJS;
            else
                usage();
            break;
        case 'p': opt.port = atoi(optarg); break;
        case 'r': opt.redis_port = atoi(optarg); break;
        case 'P': opt.pid = atoi(optarg); break;
        case 'R': opt.redis_pid = atoi(optarg); break;
        case 'n': opt.pairs = atoi(optarg); break;
        case 'I': opt.idle = atoi(optarg); break;
        case 'd': opt.seconds = atof(optarg); break;
        case 'u': opt.warmup = atof(optarg); break;
        case 'w': opt.window = atoi(optarg); break;
        case 'N': opt.conns = opt.idle_users = atoi(optarg); break;
        case 'C': opt.cycles = atoi(optarg); break;
        case 'i': opt.idle_seconds = atof(optarg); break;
        case 'm': opt.members = atoi(optarg); break;
        case 'k': opt.messages = atoi(optarg); break;
        case 'g': opt.gap_ms = atoi(optarg); break;
        case 'c': opt.concurrency = atoi(optarg); break;
        case 'A': opt.naddrs = atoi(optarg); break;
        case 'H': opt.heartbeat_s = atoi(optarg); break;
        case 'M': opt.seed_members = atoi(optarg); break;
        case 'Q': opt.seed_pairs = atoi(optarg); break;
        case 'z': opt.no_prime = 1; break;
        default: usage();
        }
    }
    if (opt.seconds <= 0 || opt.seconds > 600 || opt.warmup < 0 || opt.warmup > 60 || opt.idle_seconds > 600 ||
        opt.messages < 1 || opt.messages > 10000 || opt.gap_ms < 0 || opt.cycles < 0 || opt.cycles > 100 ||
        opt.naddrs < 1 || opt.naddrs > 250 || opt.concurrency < 1 || opt.window < 1 || opt.window > 100000)
        die("an option is out of range");
    if (opt.heartbeat_s < 0)
        opt.heartbeat_s = opt.kind == SRV_PEERJS ? 5 : 25;
    if (strcmp(opt.mode, "selftest") == 0) {
        failures_shown = 5; /* the failures it provokes are expected: keep them quiet */
        return mode_selftest();
    }
    if (strcmp(opt.mode, "seed") == 0) {
        if (!opt.redis_port)
            usage();
        return mode_seed();
    }
    if (!opt.port)
        usage();
    signal(SIGPIPE, SIG_IGN);
    /* as many descriptors as the hard limit allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrandom(&rng_state, sizeof rng_state, 0) != sizeof rng_state || !rng_state)
        rng_state = 0x9e3779b97f4a7c15ull ^ now_ns();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    rbuf = malloc(RBUF_SIZE);
    if (epfd < 0 || !rbuf)
        die("epoll_create1 or malloc failed");
    if (strcmp(opt.mode, "relay") == 0)
        return mode_relay();
    if (strcmp(opt.mode, "idle") == 0)
        return mode_idle();
    if (strcmp(opt.mode, "fanout") == 0)
        return mode_fanout();
    usage();
}
