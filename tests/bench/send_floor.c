/* send_floor.c — what the kernel alone charges for one chat delivery on this machine.
 *
 * A fan-out delivers one WebSocket frame to each of N TCP connections. However the server is written, each
 * delivery is at least one send() of a few hundred bytes on its own socket, and on loopback the sender's CPU
 * also pays for the receiving side's TCP processing (softirq in the sender's context). This program measures
 * that floor without any server: it opens N loopback TCP connections, forks a reader that drains them with
 * epoll (as the load client does), then sends one BYTES-byte message to each connection, ROUNDS times with
 * GAP_MS between rounds (the fan-out load's shape), and reports the sending process's CPU (utime + stime)
 * per send. bench-signal.sh prints it beside staffroom-signal's CPU per delivery.
 *
 *   send_floor [-n CONNECTIONS (1000)] [-k ROUNDS (100)] [-b BYTES (300)] [-g GAP_MS (20)] [-c READER_CPU]
 * Prints one human line and "RESULT mode=floor n=… rounds=… bytes=… us_send=…". Exits 1 if the reader did
 * not receive every byte (then the figure would be meaningless).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* The reader: drains every connection until it has all the bytes or the senders stay silent for 5 s.
 * Exit status 0 when everything arrived. */
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
    static char buf[65536];
    struct epoll_event evs[256];
    long got = 0;
    while (got < expected) {
        int k = epoll_wait(ep, evs, 256, 5000);
        if (k <= 0) break;
        for (int j = 0; j < k; j++) {
            ssize_t r = read(evs[j].data.fd, buf, sizeof buf);
            if (r > 0) got += r;
        }
    }
    return got == expected ? 0 : 1;
}

int main(int argc, char **argv)
{
    int n = 1000, rounds = 100, bytes = 300, gap_ms = 20, reader_cpu = -1, c;
    while ((c = getopt(argc, argv, "n:k:b:g:c:")) != -1) {
        switch (c) {
        case 'n': n = atoi(optarg); break;
        case 'k': rounds = atoi(optarg); break;
        case 'b': bytes = atoi(optarg); break;
        case 'g': gap_ms = atoi(optarg); break;
        case 'c': reader_cpu = atoi(optarg); break;
        default: fprintf(stderr, "usage: send_floor [-n N] [-k ROUNDS] [-b BYTES] [-g GAP_MS] [-c READER_CPU]\n"); return 2;
        }
    }
    if (n < 1 || n > 60000 || rounds < 1 || rounds > 100000 || bytes < 1 || bytes > 65536 || gap_ms < 0) {
        fprintf(stderr, "send_floor: argument out of range\n");
        return 2;
    }
    int lsn = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (lsn < 0 || bind(lsn, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lsn, 4096) < 0 ||
        getsockname(lsn, (struct sockaddr *)&addr, &len) < 0)
        die("listen");
    int *server_side = calloc((size_t)n, sizeof(int)), *client_side = calloc((size_t)n, sizeof(int));
    if (!server_side || !client_side) die("calloc");
    for (int i = 0; i < n; i++) {
        int one = 1;
        client_side[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (client_side[i] < 0 || connect(client_side[i], (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        server_side[i] = accept(lsn, NULL, NULL);
        if (server_side[i] < 0) die("accept");
        setsockopt(server_side[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as a WebSocket server does */
    }
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) _exit(reader(client_side, n, (long)n * rounds * bytes, reader_cpu));

    char *msg = malloc((size_t)bytes);
    if (!msg) die("malloc");
    memset(msg, 'x', (size_t)bytes);
    long short_sends = 0;
    double cpu0 = cpu_seconds();
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++)
            if (send(server_side[i], msg, (size_t)bytes, MSG_DONTWAIT) != bytes) short_sends++;
        struct timespec gap = {gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L};
        nanosleep(&gap, NULL); /* the load's pause between messages: idle time is not CPU */
    }
    double cpu1 = cpu_seconds();
    int status = 0;
    waitpid(child, &status, 0);
    int complete = WIFEXITED(status) && WEXITSTATUS(status) == 0 && short_sends == 0;
    double us = (cpu1 - cpu0) * 1e6 / ((double)n * rounds);
    printf("kernel floor: %d-byte send() to each of %d loopback TCP connections, %d rounds: %.2f us of sender CPU per send%s\n",
           bytes, n, rounds, us, complete ? "" : " (INCOMPLETE: the reader missed bytes)");
    printf("RESULT mode=floor n=%d rounds=%d bytes=%d us_send=%.3f\n", n, rounds, bytes, us);
    return complete ? 0 : 1;
}
