/* ports.h — the relay port range, shared by all workers (RFC 8656 §7.2, EVEN-PORT §14.6,
 * RESERVATION-TOKEN §14.9).
 *
 * Owns: which ports of [min, max] are in use or reserved, and reservation tokens.
 * Must not: open sockets (the caller binds the port it was given and releases it if binding fails).
 * Thread-safe: a mutex guards everything (ports are taken only when an allocation is created).
 */
#ifndef STAFFROOM_PORTS_H
#define STAFFROOM_PORTS_H

#include <stdint.h>

#define PORTS_TOKEN_LEN 8
#define PORTS_RESERVE_MS 30000 /* RFC 8656 §7.2: a reservation is held about 30 seconds */

typedef struct ports ports_t;

/* New pool for [min, max]; seed varies where the search starts. NULL on bad range / no memory. */
ports_t *ports_new(uint16_t min, uint16_t max, uint64_t seed);
void ports_free(ports_t *p);
/* Takes a free port. Returns it, or -1 when none is free. */
int ports_take(ports_t *p, uint64_t now_ms);
/* Takes a free even port whose successor is free too (EVEN-PORT). With reserve, the successor is
 * held under a new token written to token (valid PORTS_RESERVE_MS), remembering family (the
 * relayed address family the reserved port is for). Returns the port or -1. */
int ports_take_even(ports_t *p, int reserve, uint64_t now_ms, uint8_t token[PORTS_TOKEN_LEN],
                    uint8_t family);
/* The address family recorded with a live reservation (what ports_take_even was told), or -1. */
int ports_token_family(ports_t *p, const uint8_t token[PORTS_TOKEN_LEN], uint64_t now_ms);
/* Takes the port reserved under token (once). Returns the port, or -1 if unknown or expired. */
int ports_take_token(ports_t *p, const uint8_t token[PORTS_TOKEN_LEN], uint64_t now_ms);
/* Gives a port back. */
void ports_release(ports_t *p, int port);
/* Number of ports in use (reserved ones included). */
unsigned ports_in_use(ports_t *p);

#endif
