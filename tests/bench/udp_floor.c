/* udp_floor.c — what the kernel and SRTP alone charge for one forwarded packet on this machine.
 *
 * An SFU forwards each received packet to every subscriber: at least one SRTP protect and one UDP send of
 * the packet per subscriber, and on loopback the sender's CPU also pays for delivering the datagram into
 * the receiver's socket and waking the receiver (softirq in the sender's context). This program measures
 * that floor with no SFU: N subscriber sockets drained by a forked reader (epoll, as sfu_peer does), and a
 * sender that, ROUNDS times with GAP_US between rounds (the publisher's packet rate), protects one
 * BYTES-byte RTP packet per subscriber with libsrtp (AES-128-GCM, one session per subscriber, as
 * staffroom-sfu) and sends it. Modes: -m socket (each subscriber from its own socket, one sendmmsg per
 * socket: what staffroom-sfu does with libnice, which gives every participant its own socket) or -m one
 * (every subscriber from one socket in one sendmmsg: the best any design could batch). -S: no SRTP.
 * Reports the sender's CPU (utime + stime) per forwarded packet. bench-sfu.sh prints it beside the SFU's.
 *
 *   udp_floor [-n SUBSCRIBERS (20)] [-k ROUNDS (2000)] [-b BYTES (1000)] [-g GAP_US (7000)] [-m socket|one]
 *             [-S] [-c READER_CPU]
 * Prints one human line and "RESULT mode=… n=… rounds=… bytes=… srtp=… us_fwd=…". Exits 1 if the reader
 * did not receive every datagram (then the figure would be meaningless).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PKT 1500

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static int udp_socket(struct sockaddr_in *bound)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 4 << 20;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("udp socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (bound)
        *bound = a;
    return fd;
}

/* The reader: drains every subscriber socket until it has all the datagrams or 5 s of silence. */
static int reader(const int *fds, int n, long expected, int cpu)
{
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) die("epoll_ctl");
    }
    static char buf[MAX_PKT + 100];
    struct epoll_event evs[256];
    long got = 0;
    while (got < expected) {
        int k = epoll_wait(ep, evs, 256, 5000);
        if (k <= 0) break;
        for (int j = 0; j < k; j++)
            while (recv(evs[j].data.fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                got++;
    }
    return got == expected ? 0 : 1;
}

static srtp_t srtp_session(int i)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    static unsigned char key[16 + 12];
    for (size_t k = 0; k < sizeof key; k++)
        key[k] = (unsigned char)(k * 7 + i);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = 128;
    srtp_t s;
    if (srtp_create(&s, &p) != srtp_err_status_ok) {
        fprintf(stderr, "udp_floor: srtp_create failed\n");
        exit(2);
    }
    return s;
}

int main(int argc, char **argv)
{
    int n = 20, rounds = 2000, bytes = 1000, gap_us = 7000, reader_cpu = -1, one_socket = 0, use_srtp = 1, c;
    while ((c = getopt(argc, argv, "n:k:b:g:m:Sc:")) != -1) {
        switch (c) {
        case 'n': n = atoi(optarg); break;
        case 'k': rounds = atoi(optarg); break;
        case 'b': bytes = atoi(optarg); break;
        case 'g': gap_us = atoi(optarg); break;
        case 'm': one_socket = strcmp(optarg, "one") == 0; break;
        case 'S': use_srtp = 0; break;
        case 'c': reader_cpu = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: udp_floor [-n N] [-k ROUNDS] [-b BYTES] [-g GAP_US] [-m socket|one] [-S] [-c CPU]\n");
            return 2;
        }
    }
    if (n < 1 || n > 1000 || rounds < 1 || rounds > 1000000 || bytes < 12 || bytes > MAX_PKT - 16 || gap_us < 0) {
        fprintf(stderr, "udp_floor: argument out of range\n");
        return 2;
    }
    int *rx = calloc((size_t)n, sizeof(int)), *tx = calloc((size_t)n, sizeof(int));
    struct sockaddr_in *to = calloc((size_t)n, sizeof *to);
    srtp_t *sessions = calloc((size_t)n, sizeof *sessions);
    struct mmsghdr *msgs = calloc((size_t)n, sizeof *msgs);
    struct iovec *iov = calloc((size_t)n, sizeof *iov);
    uint8_t (*pkts)[MAX_PKT] = calloc((size_t)n, MAX_PKT);
    if (!rx || !tx || !to || !sessions || !msgs || !iov || !pkts) die("calloc");
    if (use_srtp && srtp_init() != srtp_err_status_ok) die("srtp_init");
    for (int i = 0; i < n; i++) {
        rx[i] = udp_socket(&to[i]);
        tx[i] = one_socket && i > 0 ? tx[0] : udp_socket(NULL);
        if (use_srtp)
            sessions[i] = srtp_session(i);
    }
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) _exit(reader(rx, n, (long)n * rounds, reader_cpu));

    uint8_t rtp[MAX_PKT];
    memset(rtp, 'x', sizeof rtp);
    rtp[0] = 0x80, rtp[1] = 96;
    long failed = 0;
    double cpu0 = cpu_seconds();
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) { /* what an SFU does per subscriber: rewrite, protect, queue */
            int len = bytes;
            memcpy(pkts[i], rtp, (size_t)bytes);
            pkts[i][2] = (uint8_t)(r >> 8), pkts[i][3] = (uint8_t)r, pkts[i][11] = (uint8_t)i;
            if (use_srtp && srtp_protect(sessions[i], pkts[i], &len) != srtp_err_status_ok)
                failed++;
            iov[i] = (struct iovec){pkts[i], (size_t)len};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &to[i], .msg_namelen = sizeof to[i], .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        if (one_socket) {
            for (int at = 0; at < n;) {
                int k = sendmmsg(tx[0], msgs + at, (unsigned)(n - at), 0);
                if (k <= 0) { failed += n - at; break; }
                at += k;
            }
        } else {
            for (int i = 0; i < n; i++)
                if (sendmmsg(tx[i], &msgs[i], 1, 0) != 1) failed++;
        }
        struct timespec gap = {gap_us / 1000000, (long)(gap_us % 1000000) * 1000L};
        nanosleep(&gap, NULL); /* the publisher's packet interval: idle time is not CPU */
    }
    double cpu1 = cpu_seconds();
    int status = 0;
    waitpid(child, &status, 0);
    int complete = WIFEXITED(status) && WEXITSTATUS(status) == 0 && failed == 0;
    double us = (cpu1 - cpu0) * 1e6 / ((double)n * rounds);
    printf("forwarding floor: %d-byte RTP packet%s to each of %d loopback UDP subscribers (%s), %d rounds %d us apart: "
           "%.2f us of sender CPU per forwarded packet%s\n", bytes, use_srtp ? ", SRTP AES-GCM," : "", n,
           one_socket ? "all from one socket, one sendmmsg" : "each from its own socket", rounds, gap_us, us,
           complete ? "" : " (INCOMPLETE: the reader missed datagrams)");
    printf("RESULT mode=%s n=%d rounds=%d bytes=%d srtp=%d us_fwd=%.3f\n", one_socket ? "one" : "socket", n, rounds,
           bytes, use_srtp, us);
    return complete ? 0 : 1;
}
