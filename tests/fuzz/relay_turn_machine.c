/* relay_turn_machine.c — libFuzzer target: the TURN state machine fed arbitrary datagrams, with a
 * fake clock and the fake I/O seam. Mostly without authentication, so fuzzed requests reach every
 * handler.
 *
 * Input format: a sequence of records [op:1][len:2 big-endian][bytes:len].
 *   op % 8: 0-2 from client 0-2 over UDP, 3 from client 0 over TCP, 4 a peer datagram to the
 *   first open relay socket (peer picked from the first byte), 5 advance the clock by bytes[0]*4 s,
 *   6 the TCP client closes, 7 run the timers.
 * Each run starts from a fresh state; at the end everything is freed (leaks are failures). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "turn.h"
#include "../unit/relay/turn_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fake_io_t fio;
    log_level = LOG_LVL_ERROR; /* allocation lines would drown the output */
    memset(&fio, 0, sizeof fio);
    peer_policy_t *pol = peer_policy_new();
    peer_policy_allow_loopback(pol, 1);
    ports_t *ports = ports_new(40000, 40015, 7);
    quota_t *quota = quota_new(4, 8);
    stats_t stats;
    memset(&stats, 0, sizeof stats);
    turn_config_t cfg = {.policy = pol, .ports = ports, .quota = quota, .default_lifetime = 600,
                         .max_lifetime = 3600, .bandwidth_limit = (size & 1) ? 5000 : 0};
    addr_parse("127.0.0.1", 0, &cfg.relay_v4);
    if (size & 2)
        addr_parse("::1", 0, &cfg.relay_v6);
    /* One input in eight runs with authentication on: the 401/438/400 paths. */
    static const uint8_t nk[32] = {5};
    auth_t *auth = NULL;
    if ((size & 0x1c) == 0x1c) {
        auth = auth_new("staffroom", 600, nk);
        auth_add_secret(auth, "s3cret");
        cfg.auth = auth;
    }
    turn_io_t io = fake_io(&fio);
    turn_t *t = turn_new(&cfg, &io, &stats);
    turn_client_t clients[4];
    addr_t srv;
    addr_parse("127.0.0.1", 3478, &srv);
    for (int i = 0; i < 4; i++) {
        clients[i] = (turn_client_t){.transport = i == 3 ? TURN_TCP : TURN_UDP, .local = srv,
                                     .conn = (void *)(intptr_t)(i + 1)};
        addr_parse(i == 2 ? "::1" : "127.0.0.1", (uint16_t)(5000 + (i == 3 ? 0 : i)), &clients[i].remote);
    }
    static const char *const peers[] = {"127.0.0.1", "127.0.0.2", "::1", "10.0.0.1", "8.8.8.8"};
    uint64_t now = 1000;
    int64_t unix_now = 1800000000;
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t op = data[off] % 8;
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        const uint8_t *p = data + off;
        off += len;
        fio.nsent = 0;
        switch (op) {
        case 0: case 1: case 2: case 3:
            turn_client_input(t, &clients[op], p, len, now, unix_now);
            break;
        case 4:
            for (int i = 0; i < fio.nrelays; i++)
                if (fio.relays[i]) {
                    addr_t peer;
                    addr_parse(peers[(len ? p[0] : 0) % 5], 6000, &peer);
                    if (peer.family == fio.relays[i]->addr.family)
                        turn_peer_input(t, fio.relays[i], &peer, p, len, now);
                    break;
                }
            break;
        case 5:
            now += (len ? p[0] : 1) * 4000ull;
            unix_now += (len ? p[0] : 1) * 4;
            break;
        case 6:
            turn_client_closed(t, &clients[3]);
            break;
        case 7:
            turn_tick(t, now);
            break;
        }
    }
    turn_free(t);
    quota_free(quota);
    ports_free(ports);
    peer_policy_free(pol);
    auth_free(auth);
    return 0;
}
