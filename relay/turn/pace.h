/* pace.h — decides, from what it costs, whether a worker lets datagrams gather before it wakes.
 *
 * Why: with a minimum wait (batch-wait-us), a worker woken for one datagram first lets others gather, and
 * one wake-up then relays several. Under steady traffic, where a wake-up finds about one datagram, that
 * nearly halves the CPU per packet (bench-relay load b). Under bursty traffic it costs more than it saves:
 * a video frame's packets already arrive together, and a timer-driven wake-up can split a burst that
 * would otherwise have been handled in one (load c: ~30 % more CPU per packet). Counting datagrams per
 * wake-up did not tell the two apart reliably; the cost itself can be measured. So the pacer measures the
 * worker thread's CPU time per relayed packet over windows of PACE_WINDOW_MS, stays in the cheaper mode,
 * and now and then tries the other one for a short probe; it switches when the probe was cheaper by a
 * margin. Probes that confirm the current mode come less and less often (a few percent of the time), and a
 * change of traffic is followed within seconds. Light traffic (under PACE_MIN_PACKETS per window) is not
 * batched: its cost does not matter, and its latency does.
 *
 * Owns: nothing but its own state. Must not: look at sockets or clocks other than through its arguments
 * (pace_window), so that the decision can be tested on synthetic figures. Not thread-safe: one per worker.
 */
#ifndef STAFFROOM_PACE_H
#define STAFFROOM_PACE_H

#include <stdint.h>

#define PACE_WINDOW_MS 50
#define PACE_MIN_PACKETS 100 /* relayed packets in a window (2,000/s) before batching is considered */

typedef struct pace {
    int batching;            /* the mode of the window under way: 1 = batched wait */
    int home;                /* the mode chosen; batching differs from it only during a probe */
    double home_cost;        /* ns of CPU per packet in the home mode (moving average; 0: not known) */
    unsigned probe_left;     /* windows of the running probe still to come (0: no probe) */
    uint64_t probe_packets, probe_ns;
    unsigned until_probe;    /* home windows before the next probe */
    unsigned probe_every;    /* that interval, doubled each time a probe confirms the home mode */
    uint64_t switches;       /* home mode changes, for the log and tests */
    /* pace_turn's own bookkeeping */
    uint64_t window_end_ms, window_packets0, window_cpu0;
} pace_t;

void pace_init(pace_t *p);
/* The figures of the window that just ended (relayed packets, worker CPU ns) in the mode p->batching.
 * Returns the mode of the next window. */
int pace_window(pace_t *p, uint64_t packets, uint64_t cpu_ns);
/* Called on every loop turn with the monotonic clock and the worker's relayed-packet count so far; ends a
 * window when it is due (reading the thread's CPU clock then). Returns whether this turn's wait batches. */
int pace_turn(pace_t *p, uint64_t now_ms, uint64_t packets_total);

#endif
