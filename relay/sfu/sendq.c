/* sendq.c — see sendq.h. */
#include "sendq.h"

#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"
#include "metrics.h"

typedef struct {
    int fd;
    int sent; /* taken by a flush pass (sent or dropped) */
    socklen_t tolen;
    struct sockaddr_storage to;
    size_t len;
    uint8_t data[SENDQ_DATAGRAM_MAX];
} entry_t;

static entry_t queue[SENDQ_MAX];
static size_t nqueued;
static int64_t oldest_us; /* when the first queued datagram was pushed (monotonic) */
static uint64_t nsent;
static GSource *source;

/* The source never dispatches: it exists for its prepare step, which GLib runs in every iteration before
 * it polls. Its priority is the highest so that GLib never skips its prepare because a higher-priority
 * source is already ready. */
static gboolean src_prepare(GSource *s, gint *timeout)
{
    (void)s;
    sendq_flush();
    *timeout = -1;
    return FALSE;
}

static gboolean src_check(GSource *s)
{
    (void)s;
    return FALSE;
}

static gboolean src_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
    (void)s;
    (void)cb;
    (void)data;
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs funcs = {.prepare = src_prepare, .check = src_check, .dispatch = src_dispatch};

static void attach(void)
{
    source = g_source_new(&funcs, sizeof(GSource));
    g_source_set_priority(source, G_MININT);
    g_source_set_name(source, "sendq");
    g_source_attach(source, NULL);
}

int sendq_push(int fd, const struct sockaddr *to, socklen_t tolen, const uint8_t *buf, size_t len)
{
    if (len == 0 || len > SENDQ_DATAGRAM_MAX || tolen > sizeof(struct sockaddr_storage))
        return -1;
    if (!source)
        attach();
    int64_t now = g_get_monotonic_time();
    if (nqueued == SENDQ_MAX || (nqueued && now - oldest_us > SENDQ_MAX_DELAY_US))
        sendq_flush();
    if (!nqueued)
        oldest_us = now;
    entry_t *e = &queue[nqueued++];
    e->fd = fd;
    e->sent = 0;
    e->tolen = tolen;
    memcpy(&e->to, to, tolen);
    e->len = len;
    memcpy(e->data, buf, len);
    return 0;
}

/* One socket's datagrams, in queue order, from index `first` on. A refused datagram is dropped and the
 * rest still go: one bad destination must not hold back the others. */
static void flush_fd(size_t first)
{
    int fd = queue[first].fd;
    struct mmsghdr msgs[SENDQ_MAX];
    struct iovec iov[SENDQ_MAX];
    size_t n = 0;
    for (size_t i = first; i < nqueued; i++) {
        entry_t *e = &queue[i];
        if (e->sent || e->fd != fd)
            continue;
        e->sent = 1;
        iov[n] = (struct iovec){.iov_base = e->data, .iov_len = e->len};
        msgs[n] = (struct mmsghdr){.msg_hdr = {.msg_name = &e->to, .msg_namelen = e->tolen, .msg_iov = &iov[n], .msg_iovlen = 1}};
        n++;
    }
    size_t done = 0;
    while (done < n) {
        int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r > 0) {
            done += (size_t)r;
            nsent += (uint64_t)r;
        } else if (r < 0 && errno == EINTR) {
            continue;
        } else {
            /* The first remaining datagram was refused (EAGAIN: buffer full; ECONNREFUSED and the like from
             * an earlier ICMP): drop it, as a plain UDP send would. */
            if (sfu_counters.send_drops++ % 1000 == 0)
                log_warn("sendq: send on fd %d failed: %s (%llu dropped so far)", fd, r < 0 ? strerror(errno) : "nothing sent",
                         (unsigned long long)sfu_counters.send_drops);
            done++;
        }
    }
}

void sendq_flush(void)
{
    for (size_t i = 0; i < nqueued; i++)
        if (!queue[i].sent)
            flush_fd(i);
    nqueued = 0;
}

uint64_t sendq_sent(void) { return nsent; }
uint64_t sendq_dropped(void) { return sfu_counters.send_drops; }

void sendq_deinit(void)
{
    sendq_flush();
    if (source) {
        g_source_destroy(source);
        g_source_unref(source);
        source = NULL;
    }
}
