/* sfu_link.h — this signal node's side of the control channel to staffroom-sfu (ARCHITECTURE.md, "Group
 * media: staffroom-signal ↔ staffroom-sfu"): commands PUBLISHed on sfu:cmd:<sfu>; replies and events read
 * from this node's channel sfu:to:<node>; each request matched to its reply by its tx number, and given
 * up after a timeout.
 *
 * Owns: the tx numbers, the requests waiting for a reply (a map by tx and a list in deadline order, one
 * timer armed for the oldest), the subscription of sfu:to:<node>.
 * Must not: know rooms, participants or the client protocol (rooms.c does); parse SDP; block.
 */
#ifndef STAFFROOM_SFU_LINK_H
#define STAFFROOM_SFU_LINK_H

#include <jansson.h>
#include <uv.h>

/* A request's outcome: reply is the SFU's answer/ok/error message (borrowed for the call), or NULL when
 * there was none: the timeout passed, nobody listens on sfu:cmd:<sfu> (the PUBLISH reached no one),
 * Redis is down, or the link stopped. */
typedef void (*sfu_reply_fn)(const json_t *reply, void *priv);
/* A message from an SFU that is not a reply (op offer, candidate, speaker, gone, moved); borrowed. */
typedef void (*sfu_event_fn)(const json_t *msg);

/* Subscribes sfu:to:<node> and routes what arrives there: replies to their requests, everything else to
 * on_event. timeout_ms: how long a request waits. 0, or -1 (node id too long, or no channel slot). */
int sfu_link_start(uv_loop_t *loop, const char *node, long long timeout_ms, sfu_event_fn on_event);
/* Every waiting request's callback is called with NULL; the channel is closed. */
void sfu_link_stop(void);

/* Sends cmd (borrowed; its "tx" and "node" members are set here) to sfu and calls cb exactly once, later
 * from the loop, with the reply or NULL. priv is the caller's. Only when the link is not running or out
 * of memory is cb called at once, inside this call, with NULL. */
void sfu_link_request(const char *sfu, json_t *cmd, sfu_reply_fn cb, void *priv);
/* Sends cmd (borrowed) to sfu; no reply is expected (candidate, leave, close). */
void sfu_link_send(const char *sfu, json_t *cmd);

/* Another module's SFU events of one op (e.g. record.c: "recorded") go to fn instead of on_event. At most
 * 4; op is a static string. 0 or -1 (full). */
int sfu_link_observe(const char *op, sfu_event_fn fn);

/* Requests waiting now (tests, metrics). */
size_t sfu_link_pending(void);

/* An SFU id as the contract allows it (1–64 of [A-Za-z0-9_.:-]): ids come from Redis and end up in
 * channel names. 1 or 0. */
int sfu_link_id_valid(const char *sfu);

#endif
