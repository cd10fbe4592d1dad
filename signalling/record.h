/* record.h — in-call recording with consent (PROTOCOL.md, "Recording"): a participant asks, everyone present
 * is asked, the recording starts on the room's SFU only when every participant present agreed; anyone
 * joining while it records is asked first; anyone can stop it; the files become one media row.
 *
 * Owns: the room.record.* request types and recording.list (the user's recordings, owned or shared); the consent rules and state in Redis (lua/record.lua: keys
 * room:<rid>:rec*); telling the room's SFU record.start / record.allow / record.stop (sfu_link.h) and
 * taking its "recorded" event; the media row (kind recording, owned by the requester, shared with every
 * participant who agreed; circle, session, meta {started_at, files: [{file, user, label, kind, offset_ms,
 * duration_ms…}]}) in PostgreSQL (003_media.sql).
 * Must not: block; start a recording without the consent of every participant present; record the tracks
 * of a participant who has not agreed (the SFU gets only the consenting devices).
 */
#ifndef STAFFROOM_RECORD_H
#define STAFFROOM_RECORD_H

#include "module.h"

extern const module_t record_module; /* registered by main.c (after rooms: it uses the SFU link) */

#endif
