/* net_ring.c — see net_ring.h. */
#include "net_ring.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* Debian 12's uapi headers predate Linux 6.12; the ABI is fixed: the getevents argument's former pad
 * field carries the minimum wait in microseconds. */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

#define RING_SQ 256      /* entries per submit; a fuller queue is submitted early */
#define RING_CQ 4096     /* room for every buffer's completion plus the rest: the CQ never overflows */
#define RING_BUFS 256    /* provided receive buffers (a power of two) shared by all sockets */
#define RING_BGID 1
/* A whole UDP datagram always fits (as on the epoll path): the recvmsg header, the peer's address and
 * up to 65,536 bytes. Only the pages a datagram touches are ever backed by memory. */
#define RING_NAME_LEN ((unsigned)sizeof(struct sockaddr_in6))
#define RING_BUF_LEN (65536 + 128)
#define RING_BATCH 32    /* with a minimum wait: completions that end a wait early */
/* Sockets the ring knows by descriptor number (a registered file table indexed by fd): a send on one of them
 * skips the file lookup and reference count of every system call. Descriptors above this go the usual way. */
#define RING_FILES 16384

/* user_data: a receive's tag is a pointer (at least 8-byte aligned), the other kinds sit in the low bits. */
enum { UD_RECV = 0, UD_EPOLL = 1, UD_SEND = 2, UD_IGNORE = 3, UD_MASK = 7 };

struct net_ring {
    struct io_uring ring;
    net_ring_cb_t cb;
    int epfd;
    int epoll_armed;
    int registered;      /* the ring fd is registered: enter with IORING_ENTER_REGISTERED_RING */
    unsigned min_wait_us;
    struct msghdr recv_msg; /* what a multishot recvmsg fills in besides the payload: the peer's name */
    struct io_uring_buf_ring *br;
    size_t br_len;
    uint8_t *bufs;
    size_t bufs_len;
    unsigned nfiles;     /* size of the registered file table (0: none) */
    uint8_t *fixed;      /* fixed[fd]: fd is in the table at index fd */
};

/* The next free submission entry, submitting what is queued first when the queue is full. NULL only if
 * the kernel takes nothing (then the caller drops what it wanted to queue). */
static struct io_uring_sqe *ring_sqe(net_ring_t *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
    }
    return sqe;
}

static int epoll_arm(net_ring_t *r)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_multishot(sqe, r->epfd, POLLIN);
    io_uring_sqe_set_data64(sqe, UD_EPOLL);
    r->epoll_armed = 1;
    return 0;
}

static void buf_give(net_ring_t *r, unsigned bid)
{
    io_uring_buf_ring_add(r->br, r->bufs + (size_t)bid * RING_BUF_LEN, RING_BUF_LEN, (unsigned short)bid,
                          io_uring_buf_ring_mask(RING_BUFS), 0);
    io_uring_buf_ring_advance(r->br, 1);
}

static int bufs_setup(net_ring_t *r)
{
    r->br_len = RING_BUFS * sizeof(struct io_uring_buf);
    r->br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->br == MAP_FAILED) {
        r->br = NULL;
        return -errno;
    }
    r->bufs_len = (size_t)RING_BUFS * RING_BUF_LEN;
    r->bufs = mmap(NULL, r->bufs_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->bufs == MAP_FAILED) {
        r->bufs = NULL;
        return -errno;
    }
    io_uring_buf_ring_init(r->br);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)r->br, .ring_entries = RING_BUFS, .bgid = RING_BGID};
    int rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < RING_BUFS; i++)
        buf_give(r, i);
    return 0;
}

net_ring_t *net_ring_new(int epfd, const net_ring_cb_t *cb, unsigned min_wait_us)
{
    net_ring_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->epfd = epfd;
    r->cb = *cb;
    r->recv_msg.msg_namelen = RING_NAME_LEN;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* One thread submits and reaps (SINGLE_ISSUER), completions are produced only when that thread asks
     * for them (DEFER_TASKRUN: no interrupting task work in the middle of relaying), CQSIZE so that the
     * buffers' completions always fit. Kernels before 6.1 refuse these flags: epoll then. */
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_CQSIZE;
    p.cq_entries = RING_CQ;
    int rc = io_uring_queue_init_params(RING_SQ, &r->ring, &p);
    if (rc < 0) {
        free(r);
        errno = -rc;
        return NULL;
    }
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_CQE_SKIP)) {
        rc = -ENOSYS;
        goto fail;
    }
    if ((rc = bufs_setup(r)) < 0 || (rc = epoll_arm(r)) < 0)
        goto fail;
    if (min_wait_us && (p.features & IORING_FEAT_MIN_TIMEOUT))
        r->min_wait_us = min_wait_us;
    r->registered = io_uring_register_ring_fd(&r->ring) == 1;
    if ((r->fixed = calloc(RING_FILES, 1)) && io_uring_register_files_sparse(&r->ring, RING_FILES) == 0)
        r->nfiles = RING_FILES; /* else: every send looks its socket up, still correct */
    return r;
fail:
    net_ring_free(r);
    errno = -rc;
    return NULL;
}

void net_ring_free(net_ring_t *r)
{
    if (!r)
        return;
    io_uring_queue_exit(&r->ring); /* cancels and waits for what is in flight: the buffers are free after */
    if (r->bufs)
        munmap(r->bufs, r->bufs_len);
    if (r->br)
        munmap(r->br, r->br_len);
    free(r->fixed);
    free(r);
}

int net_ring_min_wait(const net_ring_t *r)
{
    return r->min_wait_us > 0;
}

int net_ring_recv_start(net_ring_t *r, int fd, void *tag)
{
    if (fd >= 0 && (unsigned)fd < r->nfiles && !r->fixed[fd] &&
        io_uring_register_files_update(&r->ring, (unsigned)fd, &fd, 1) == 1)
        r->fixed[fd] = 1;
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_recvmsg_multishot(sqe, fd, &r->recv_msg, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RING_BGID;
    io_uring_sqe_set_data(sqe, tag);
    return 0;
}

void net_ring_recv_stop(net_ring_t *r, int fd, void *tag)
{
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (sqe) {
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)tag, 0);
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    }
    /* Now, not at the next enter: the caller closes the socket next and may reuse its port, and sends
     * queued for it must leave while the descriptor still names it. */
    io_uring_submit(&r->ring);
    if (fd >= 0 && (unsigned)fd < r->nfiles && r->fixed[fd]) { /* the table's reference would keep it open */
        int none = -1;
        io_uring_register_files_update(&r->ring, (unsigned)fd, &none, 1);
        r->fixed[fd] = 0;
    }
}

/* Why a send's memory is free again once the submitting enter returns: MSG_DONTWAIT makes the kernel
 * issue the send inline during submission and, should the socket buffer be full, complete it with
 * -EAGAIN (REQ_F_NOWAIT) instead of parking it to retry later; nothing is linked or forced async. So no
 * send outlives the io_uring_enter that submitted it, like sendmmsg with MSG_DONTWAIT. Successful sends
 * post no completion (IOSQE_CQE_SKIP_SUCCESS); failures do, with the datagram count in user_data. */
void net_ring_send(void *ctx, int fd, const struct msghdr *m, unsigned segs)
{
    net_ring_t *r = ctx;
    struct io_uring_sqe *sqe = ring_sqe(r);
    if (!sqe) {
        if (r->cb.send_failed)
            r->cb.send_failed(r->cb.ctx, -EBUSY, segs);
        return;
    }
    io_uring_prep_sendmsg(sqe, fd, m, MSG_DONTWAIT);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    if (fd >= 0 && (unsigned)fd < r->nfiles && r->fixed[fd])
        sqe->flags |= IOSQE_FIXED_FILE; /* sqe->fd is then the table index, which is fd itself */
    io_uring_sqe_set_data64(sqe, ((uint64_t)segs << 3) | UD_SEND);
}

void net_ring_commit(void *ctx)
{
    net_ring_t *r = ctx;
    io_uring_submit(&r->ring); /* no system call when nothing is queued */
}

/* What liburing does before entering: publish the queued entries to the kernel. Returns how many. */
static unsigned sq_publish(net_ring_t *r)
{
    struct io_uring_sq *sq = &r->ring.sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    return tail - *sq->khead;
}

int net_ring_enter(net_ring_t *r, int timeout_ms, int batch)
{
    unsigned submit = sq_publish(r);
    unsigned wait_nr = 0;
    if (timeout_ms > 0 && !io_uring_cq_ready(&r->ring))
        wait_nr = batch && r->min_wait_us ? RING_BATCH : 1;
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    struct io_uring_getevents_arg arg = {
        .sigmask = 0,
        .sigmask_sz = _NSIG / 8,
        .pad = wait_nr > 1 ? r->min_wait_us : 0, /* min_wait_usec since Linux 6.12 */
        .ts = (unsigned long long)(uintptr_t)&ts,
    };
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | (r->registered ? IORING_ENTER_REGISTERED_RING : 0);
    int rc = io_uring_enter2((unsigned)(r->registered ? r->ring.enter_ring_fd : r->ring.ring_fd), submit,
                             wait_nr, flags, (sigset_t *)&arg, sizeof arg);
    if (rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
        return 0;
    return rc;
}

static void on_recv(net_ring_t *r, void *tag, int res, unsigned flags)
{
    if (flags & IORING_CQE_F_BUFFER) {
        unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
        uint8_t *buf = r->bufs + (size_t)bid * RING_BUF_LEN;
        struct io_uring_recvmsg_out *out = res > 0 ? io_uring_recvmsg_validate(buf, res, &r->recv_msg) : NULL;
        addr_t from;
        /* A truncated datagram cannot happen with these buffers, but would be dropped, as on the epoll path. */
        if (out && !(out->flags & MSG_TRUNC) && out->namelen <= RING_NAME_LEN &&
            addr_from_sockaddr(io_uring_recvmsg_name(out), &from) == 0)
            r->cb.datagram(r->cb.ctx, tag, io_uring_recvmsg_payload(out, &r->recv_msg),
                           io_uring_recvmsg_payload_length(out, res, &r->recv_msg), &from);
        buf_give(r, bid); /* the callback is done with it */
    }
    if (!(flags & IORING_CQE_F_MORE))
        r->cb.recv_ended(r->cb.ctx, tag, res == -ECANCELED, res < 0 ? res : -ENOBUFS);
}

int net_ring_dispatch(net_ring_t *r)
{
    unsigned n = io_uring_cq_ready(&r->ring), done = 0;
    struct io_uring_cqe *cqe;
    while (done < n && io_uring_peek_cqe(&r->ring, &cqe) == 0) {
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        unsigned flags = cqe->flags;
        io_uring_cqe_seen(&r->ring, cqe); /* copied: the callbacks may queue and submit */
        done++;
        switch (ud & UD_MASK) {
        case UD_RECV:
            on_recv(r, (void *)(uintptr_t)ud, res, flags);
            break;
        case UD_EPOLL:
            if (!(flags & IORING_CQE_F_MORE)) /* ended (error, overflow): post a new one */
                r->epoll_armed = 0;
            r->cb.epoll_ready(r->cb.ctx); /* look anyway: costs one epoll_wait */
            break;
        case UD_SEND:
            if (res < 0 && r->cb.send_failed)
                r->cb.send_failed(r->cb.ctx, res, (unsigned)(ud >> 3));
            break;
        default:
            break;
        }
    }
    if (!r->epoll_armed)
        epoll_arm(r); /* on failure: tried again after the next dispatch; the worker's timeout still runs */
    return (int)done;
}
