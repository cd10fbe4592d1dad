/* batchwait.c — see batchwait.h. */
#include "batchwait.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Linux 6.12's uapi names these; Debian 12's headers predate them. The ABI is fixed: the getevents
 * argument's former pad field carries the minimum wait in microseconds. */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

#define BATCHWAIT_ENTRIES 256 /* CQ room for notifications between two turns; overflow ends the poll */
#define BATCHWAIT_BATCH 32    /* notifications that end the wait before min_wait */

struct batchwait {
    struct io_uring ring;
    int epfd;
    unsigned min_wait_us;
    int armed;               /* the multishot poll is live */
};

static int poll_submit(batchwait_t *bw)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&bw->ring);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_multishot(sqe, bw->epfd, POLLIN);
    int rc = io_uring_submit(&bw->ring);
    if (rc < 0)
        return rc;
    bw->armed = 1;
    return 0;
}

batchwait_t *batchwait_new(int epfd, unsigned min_wait_us)
{
    batchwait_t *bw = calloc(1, sizeof *bw);
    if (!bw)
        return NULL;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int rc = io_uring_queue_init_params(BATCHWAIT_ENTRIES, &bw->ring, &p);
    if (rc < 0) {
        free(bw);
        errno = -rc;
        return NULL;
    }
    bw->epfd = epfd;
    bw->min_wait_us = min_wait_us;
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_MIN_TIMEOUT) ||
        (rc = poll_submit(bw)) < 0) {
        io_uring_queue_exit(&bw->ring);
        free(bw);
        errno = rc < 0 ? -rc : ENOSYS;
        return NULL;
    }
    return bw;
}

void batchwait_free(batchwait_t *bw)
{
    if (!bw)
        return;
    io_uring_queue_exit(&bw->ring);
    free(bw);
}

void batchwait_arm(batchwait_t *bw)
{
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&bw->ring, head, cqe)
    {
        seen++;
        if (!(cqe->flags & IORING_CQE_F_MORE)) /* ended (CQ overflow, error): post a new one */
            bw->armed = 0;
    }
    io_uring_cq_advance(&bw->ring, seen);
    if (!bw->armed)
        poll_submit(bw); /* on failure batchwait_sleep times out and the caller probes again */
}

int batchwait_sleep(batchwait_t *bw, int timeout_ms)
{
    struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
    struct io_uring_getevents_arg arg = {
        .sigmask = 0,
        .sigmask_sz = _NSIG / 8,
        .pad = bw->min_wait_us, /* min_wait_usec since Linux 6.12 */
        .ts = (unsigned long long)(uintptr_t)&ts,
    };
    int rc = io_uring_enter2((unsigned)bw->ring.ring_fd, 0, BATCHWAIT_BATCH,
                             IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, (sigset_t *)&arg, sizeof arg);
    if (rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
        return 0;
    return rc;
}
