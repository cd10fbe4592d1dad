/* speaker.h — dominant speaker of a room from the audio levels publishers put in their RTP
 * (ssrc-audio-level header extension, RFC 6464: one byte, V bit + level in -dBov 0–127).
 *
 * Owns: a short smoothed loudness per participant and the decision of who is the dominant speaker,
 * with hysteresis so that the highlight does not flicker.
 * Must not: parse RTP (the caller gives the extension byte, see rtp_find_ext), read clocks (now is
 * passed), allocate after speaker_new, or emit events (speaker_tick reports a change; the caller emits).
 *
 * Rules:
 * - Loudness of a packet = 127 - level (0 = silence, 127 = 0 dBov). With use_vad, a packet whose V bit
 *   is 0 counts as silence. Packets are averaged over window_ms in buckets of time, so a participant
 *   who stops sending (Opus DTX) fades to silence.
 * - A participant "speaks" when its smoothed loudness is at least min_loudness.
 * - With no dominant speaker (or the dominant one left), the loudest speaking participant becomes
 *   dominant at the next tick.
 * - A challenger replaces the dominant speaker only if it speaks and stays louder than the dominant
 *   speaker by at least margin for switch_ms without a break. Silence never switches; two equally loud
 *   speakers never switch back and forth.
 */
#ifndef STAFFROOM_SPEAKER_H
#define STAFFROOM_SPEAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEAKER_NONE 0u /* participant id meaning "no one" */

typedef struct {
    size_t max_participants; /* default 64 */
    uint32_t window_ms;      /* default 500 */
    uint32_t switch_ms;      /* default 1500 */
    uint8_t min_loudness;    /* default 57 (-70 dBov and above is counted as speech) */
    uint8_t margin;          /* default 6 (dB) */
    bool use_vad;            /* trust the V bit (default false: level only) */
} speaker_config_t;

typedef struct speaker speaker_t;

/* cfg may be NULL (all defaults); a 0 field takes its default. Returns NULL when out of memory. */
speaker_t *speaker_new(const speaker_config_t *cfg);
void speaker_free(speaker_t *s);

/* Adds a participant by a caller-chosen id (not SPEAKER_NONE), e.g. an index of the room's table.
 * Returns 0, -1 when the table is full or id is SPEAKER_NONE; adding an id twice is harmless. */
int speaker_add(speaker_t *s, uint32_t id);
/* Removes a participant; if it was dominant, the next tick picks another. Unknown ids are ignored. */
void speaker_remove(speaker_t *s, uint32_t id);

/* One audio packet's extension byte: bit 7 = V, bits 0–6 = level (-dBov). Unknown ids are ignored. */
void speaker_level(speaker_t *s, uint32_t id, uint8_t ext_byte, uint64_t now_ms);

/* Re-evaluates the decision (call every 100–300 ms). Returns true when the dominant speaker changed;
 * *dominant (may be NULL) gets the current one (SPEAKER_NONE when no one has spoken yet or the room
 * emptied). */
bool speaker_tick(speaker_t *s, uint64_t now_ms, uint32_t *dominant);

/* The current dominant speaker (SPEAKER_NONE if none). */
uint32_t speaker_dominant(const speaker_t *s);

/* The smoothed loudness (0–127) of a participant at now, or -1 for an unknown id. For metrics/tests. */
int speaker_loudness(const speaker_t *s, uint32_t id, uint64_t now_ms);

#endif
