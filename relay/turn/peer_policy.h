/* peer_policy.h — which peer addresses a relay may talk to.
 *
 * Owns: the default-denied ranges (RFC 8656 §21.x security considerations: a relay must not become a
 * path into private, loopback, link-local, multicast or reserved networks), the operator's
 * allow-peer / deny-peer CIDRs and the allow-loopback-peers switch.
 * Must not: do I/O. After setup a policy is read-only and shared by all workers.
 *
 * Decision for an address (IPv6 forms that embed an IPv4 address — IPv4-mapped ::ffff:a.b.c.d,
 * IPv4-compatible ::a.b.c.d and NAT64 64:ff9b::/96 — are judged both as themselves and as the
 * embedded IPv4 address):
 *   1. any deny-peer match → denied (deny wins);
 *   2. any allow-peer match → allowed (can open a default-denied range);
 *   3. allow-loopback-peers and 127.0.0.0/8 or ::1 → allowed;
 *   4. a default-denied range → denied; 5. otherwise allowed.
 */
#ifndef STAFFROOM_PEER_POLICY_H
#define STAFFROOM_PEER_POLICY_H

#include "addr.h"

typedef struct peer_policy peer_policy_t;

peer_policy_t *peer_policy_new(void); /* NULL on allocation failure */
void peer_policy_free(peer_policy_t *p);
/* Adds "ip/prefix" to the allow (allow=1) or deny (allow=0) list. Returns 0, or -1 if malformed. */
int peer_policy_add(peer_policy_t *p, const char *cidr, int allow);
void peer_policy_allow_loopback(peer_policy_t *p, int on);
/* 1 when the relay may send to / accept from peer (port ignored), 0 when not. */
int peer_policy_allowed(const peer_policy_t *p, const addr_t *peer);

#endif
