/* pace.c — see pace.h. */
#include "pace.h"

#include <string.h>
#include <time.h>

#define PACE_PROBE_WINDOWS 2   /* a probe: this many windows in the other mode */
#define PACE_PROBE_FIRST 8     /* home windows before the first probe (0.4 s) */
#define PACE_PROBE_MAX 64      /* and at most between two probes once they keep confirming (3.2 s) */
#define PACE_MARGIN 0.90       /* the probe must cost under 90 % of the home mode to win */

void pace_init(pace_t *p)
{
    memset(p, 0, sizeof *p);
    p->probe_every = p->until_probe = PACE_PROBE_FIRST;
}

/* Back to not batching, probes from the start: traffic too light to be worth measuring. */
static int pace_light(pace_t *p)
{
    p->batching = p->home = 0;
    p->home_cost = 0;
    p->probe_left = 0;
    p->probe_every = p->until_probe = PACE_PROBE_FIRST;
    return 0;
}

static int probe_end(pace_t *p)
{
    double probe_cost = (double)p->probe_ns / (double)p->probe_packets;
    if (p->home_cost > 0 && probe_cost < PACE_MARGIN * p->home_cost) {
        p->home = p->batching; /* the probed mode wins: it is home now, and is checked again soon */
        p->home_cost = probe_cost;
        p->probe_every = PACE_PROBE_FIRST;
        p->switches++;
    } else {
        p->batching = p->home;
        if (p->probe_every < PACE_PROBE_MAX)
            p->probe_every *= 2;
    }
    p->until_probe = p->probe_every;
    return p->batching;
}

int pace_window(pace_t *p, uint64_t packets, uint64_t cpu_ns)
{
    if (packets < PACE_MIN_PACKETS)
        return pace_light(p);
    if (p->probe_left) {
        p->probe_packets += packets;
        p->probe_ns += cpu_ns;
        if (--p->probe_left)
            return p->batching;
        return probe_end(p);
    }
    double cost = (double)cpu_ns / (double)packets;
    p->home_cost = p->home_cost > 0 ? 0.75 * p->home_cost + 0.25 * cost : cost;
    if (--p->until_probe == 0) {
        p->batching = !p->home;
        p->probe_left = PACE_PROBE_WINDOWS;
        p->probe_packets = p->probe_ns = 0;
    }
    return p->batching;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return 0;
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int pace_turn(pace_t *p, uint64_t now_ms, uint64_t packets_total)
{
    if (now_ms < p->window_end_ms)
        return p->batching;
    uint64_t cpu = thread_cpu_ns();
    /* The first call only starts the first window. A window that ran long means the worker slept through
     * most of it: light traffic, whatever the count. */
    if (p->window_end_ms && now_ms - p->window_end_ms > PACE_WINDOW_MS)
        pace_light(p);
    else if (p->window_end_ms)
        pace_window(p, packets_total - p->window_packets0, cpu - p->window_cpu0);
    p->window_packets0 = packets_total;
    p->window_cpu0 = cpu;
    p->window_end_ms = now_ms + PACE_WINDOW_MS;
    return p->batching;
}
