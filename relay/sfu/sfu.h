/* sfu.h — the SFU's logic: rooms, participants, negotiation (offers, answers, renegotiation) and the
 * forwarding of each published track to its subscribers.
 *
 * Owns: every room and participant on this SFU; per participant its peer_t (transport) and the list of
 * its m-sections ("slots", in m-line order): the ones it publishes on (the SFU receives) and the ones the
 * SFU sends other participants' tracks on; per published track its subscriber legs. The packet plane's
 * use of the sans-I/O modules: per sending section one outgoing SSRC, rewriter and retransmission buffer
 * (rewrite.c, nackbuf.c: continuous when the section's source changes; a section reused for another
 * track forgets the old one's packets); per published video track the payloads its legs' buffers share
 * (nackbuf.h) and a keyframe throttle (keyreq.c); per published track its reception statistics (rtpstats.c); per room a
 * dominant-speaker detector (speaker.c); the SFU's own RTCP (RR to publishers, SR per sending section,
 * every second; NACK answered as RTX when negotiated; PLI/FIR relayed as throttled PLIs).
 * Must not: parse or build the control JSON (cmd.c does, through sfu_events_t), or touch Redis.
 *
 * Participants are dropped asynchronously (a closing state, freed from an idle callback), so that no
 * transport callback ever returns into freed memory.
 */
#ifndef STAFFROOM_SFU_SFU_H
#define STAFFROOM_SFU_SFU_H

#include <stddef.h>
#include <stdint.h>

#include "dtls.h"
#include "metrics.h"
#include "recorder.h"

typedef struct sfu sfu_t;

/* One receiving m-line of an SFU offer: whose track it carries. */
typedef struct {
    const char *mid, *pid, *user, *kind; /* kind: camera, mic, screen */
} sfu_track_info_t;

/* What the SFU tells signal nodes. Every string is borrowed for the call. tx is the command's tx as JSON
 * text (NULL for events). */
typedef struct {
    void (*answer)(void *ctx, const char *node, const char *tx, const char *room, const char *pid, const char *sdp);
    void (*ok)(void *ctx, const char *node, const char *tx, const char *room, const char *pid);
    void (*error)(void *ctx, const char *node, const char *tx, const char *room, const char *pid, const char *code,
                  const char *message);
    void (*offer)(void *ctx, const char *node, const char *room, const char *pid, const char *sdp,
                  const sfu_track_info_t *tracks, size_t ntracks);
    void (*candidate)(void *ctx, const char *node, const char *room, const char *pid, const char *mid,
                      const char *candidate);
    void (*gone)(void *ctx, const char *node, const char *room, const char *pid, const char *reason);
    void (*moved)(void *ctx, const char *node, const char *room, const char *const *pids, size_t npids);
    void (*speaker)(void *ctx, const char *node, const char *room, const char *pid, const char *const *to, size_t nto);
    /* The publisher pid should send only some layers of its simulcast track `label`: `paused` names (by
     * rid) those nobody receives, which it may stop (empty: send every layer). */
    void (*layers)(void *ctx, const char *node, const char *room, const char *pid, const char *label,
                   const char *const *paused, size_t npaused);
    /* A recording of the room ended (record.stop, its maximum length, the room emptied) and its files are
     * closed; reason: stopped, limit, empty. */
    void (*recorded)(void *ctx, const char *node, const char *room, const char *name, const char *reason,
                     const recorder_result_t *res);
    void *ctx;
} sfu_events_t;

typedef struct {
    const char *const *media_addresses;
    size_t nmedia_addresses;
    uint16_t port_min, port_max;
    unsigned room_max_participants, capacity;
    unsigned ice_timeout_ms, media_timeout_ms;
    dtls_ctx_t *dtls; /* borrowed */
    const char *recordings_dir; /* borrowed; "" = recording refused (unavailable) */
    unsigned record_max_seconds;
} sfu_params_t;

/* A participant's published track label given in the offer's "tracks" map. */
typedef struct {
    const char *mid, *label; /* label: camera, mic, screen */
} sfu_label_t;

sfu_t *sfu_new(const sfu_params_t *p, const sfu_events_t *ev);

/* The commands of the contract. node is where replies go; unknown participants get not_found, a
 * draining SFU answers unavailable. */
void sfu_offer(sfu_t *s, const char *tx, const char *room, const char *pid, const char *user, const char *node,
               const char *sdp, size_t sdp_len, const sfu_label_t *labels, size_t nlabels);
/* node (may be NULL: the contract's answer has none) is used only to tell an unknown participant not_found. */
void sfu_answer(sfu_t *s, const char *tx, const char *room, const char *pid, const char *node, const char *sdp,
                size_t sdp_len);
void sfu_candidate(sfu_t *s, const char *room, const char *pid, const char *mid, const char *candidate);
void sfu_leave(sfu_t *s, const char *room, const char *pid);
void sfu_close_room(sfu_t *s, const char *room);
/* Records the camera, mic and screen tracks (VP8, Opus) of the consenting participants of the room (the top layer of a simulcast camera) into
 * <recordings-dir>/<name>/ (name: checked by the caller, [A-Za-z0-9_-]), until sfu_record_stop, the
 * maximum length or the room's end; then the recorded event goes to node. Replies ok, or error not_found
 * (no such room here), conflict (already recording), unavailable (not configured, or the directory). */
void sfu_record_start(sfu_t *s, const char *tx, const char *room, const char *node, const char *name,
                      const char *const *pids, size_t npids);
/* Only the participants that consented are recorded: pids (given to record.start, and each one added by
 * sfu_record_allow, a late joiner who agreed). Unknown room or no recording: ignored. */
void sfu_record_allow(sfu_t *s, const char *room, const char *pid);
/* Replies ok (the recorded event follows) or not_found (not recording). */
void sfu_record_stop(sfu_t *s, const char *tx, const char *room, const char *node);
/* Refuses new participants, tells every node which of its participants move (moved, reason drain) and
 * drops them all. */
void sfu_drain(sfu_t *s);

/* What the participant's client shows of each publisher's camera (room.media.view): the tile's width
 * in device pixels (0 = unknown) and whether it is on screen. Hidden tiles get no video; the width caps
 * the simulcast layer (layers.h). Publishers not named keep what they had. */
typedef struct {
    const char *publisher; /* pid */
    unsigned width;
    int visible;
} sfu_tile_t;
void sfu_view(sfu_t *s, const char *room, const char *pid, const sfu_tile_t *tiles, size_t ntiles);

/* Per-room and per-subscriber metrics (layer switches, estimates, paused layers) as Prometheus text
 * written at buf[0..len) (terminated); returns its length. */
size_t sfu_metrics_text(const sfu_t *s, char *buf, size_t len);

void sfu_gauges(const sfu_t *s, sfu_gauges_t *g);
void sfu_free(sfu_t *s);

#endif
