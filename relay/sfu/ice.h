/* ice.h — one participant's ICE transport (RFC 8445) on libnice: the only file that includes libnice.
 *
 * Owns: a NiceAgent with one stream and one component (BUNDLE + rtcp-mux), full ICE, trickle both ways,
 * host candidates only on the configured media addresses, on the default GLib main context; which of its
 * sockets and addresses a non-relayed selected pair uses (lent to sendq.c for batched sends).
 * Must not: look into the datagrams it carries (peer.c demultiplexes them).
 *
 * Callbacks run on the main loop, never from inside an ice_* call except where stated.
 */
#ifndef STAFFROOM_SFU_ICE_H
#define STAFFROOM_SFU_ICE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ice ice_t;

typedef enum { ICE_CHECKING, ICE_CONNECTED, ICE_FAILED } ice_state_t;

typedef struct {
    void (*recv)(void *ctx, uint8_t *buf, size_t len);    /* a datagram from the peer (buf writable, borrowed) */
    void (*candidate)(void *ctx, const char *line);       /* a local candidate "candidate:…" (borrowed) */
    void (*state)(void *ctx, ice_state_t state);
    void *ctx;
} ice_callbacks_t;

typedef struct {
    const char *const *addresses; /* media addresses (borrowed for the call) */
    size_t naddresses;
    uint16_t port_min, port_max;  /* 0, 0 = any */
    int controlling;
} ice_params_t;

/* Creates the agent and gathers host candidates (at once: they are local addresses). NULL on failure. */
ice_t *ice_new(const ice_params_t *p, const ice_callbacks_t *cb);
/* The local credentials (borrowed, valid until ice_free). */
const char *ice_ufrag(const ice_t *ice);
const char *ice_pwd(const ice_t *ice);
/* The local candidates gathered so far, as "candidate:…" lines: fills lines (each new, g_free them) up to
 * max; returns how many. */
size_t ice_local_candidates(ice_t *ice, char **lines, size_t max);
/* Sets the peer's credentials (before or with its first candidates). Returns 0 or -1. A second call
 * with the same credentials does nothing; different ones are an ICE restart and are refused (-1). */
int ice_set_remote_credentials(ice_t *ice, const char *ufrag, const char *pwd);
/* Adds one trickled or SDP candidate ("candidate:…" or "a=candidate:…"). Returns 0, or -1 if it does not
 * parse or is not UDP (counted by the caller). "" means end of candidates. */
int ice_add_remote_candidate(ice_t *ice, const char *line);
/* Sends a datagram (copied) on the selected pair. When the pair's local candidate is a host one, it is
 * queued for the batched send (sendq.h) and leaves before the main loop next waits; through a TURN
 * relay it goes through libnice at once. Returns 0, or -1 when not connected or the send failed. */
int ice_send(ice_t *ice, const uint8_t *buf, size_t len);
/* "host/relay" etc. of the selected pair, for logs: fills buf. */
void ice_describe_pair(ice_t *ice, char *buf, size_t len);
/* Stops the agent; no callback after this returns. NULL is fine. */
void ice_free(ice_t *ice);

#endif
