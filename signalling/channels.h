/* channels.h — topic channels of a circle and their chat: send, history, edit, delete, typing.
 *
 * Owns: the `channel.*` and `chat.*` request types (PROTOCOL.md, "Channels and chat") and these Redis
 * keys:
 *   channel:<chid>          hash   circle, name, topic, created (unix ms)
 *   circle:<cid>:channels   zset   channel ids by creation time
 *   channel:<chid>:log      stream one entry per message: user, text. The stream id is the message id,
 *                                  so "everything after X" is exact (resume after a reconnect).
 *   channel:<chid>:edits    hash   message id → current text, for edited messages (stream entries cannot
 *                                  be changed in place)
 *   typing:<chid>:<uid>     string throttles chat.typing (expires after TYPING_THROTTLE_MS)
 * A message its author deletes is removed from the stream (XDEL) and from the edits hash, so history never
 * returns it; one a moderator deletes stays as a tombstone (channel:<chid>:removed, moderation.h; the text is
 * not shown) and is written to the circle's audit log. Each channel of channel.list carries the user's
 * unread count and read marker (readmark.h).
 *
 * Events, PUBLISHed on ev:c:<circle> by the same script that writes (so a message is acknowledged only
 * once it is stored, and the event order is the stream order): chat.message, chat.updated, chat.deleted,
 * chat.typing, channel.created.
 * Must not: keep state in this process; let anyone but members (status member, not pending) read or write
 * a circle's channels.
 */
#ifndef STAFFROOM_CHANNELS_H
#define STAFFROOM_CHANNELS_H

#include "module.h"

#include "dispatch.h"

#define CHAT_TEXT_MAX 4000     /* bytes of UTF-8 (jansson only hands out valid UTF-8) */
#define CHAT_HISTORY_MAX 100   /* messages per chat.history page */
#define TYPING_THROTTLE_MS 1000 /* at most one chat.typing event per user and channel in this window */

/* The module of every channel.* and chat.* request: its handlers, timers and observers. */
extern const module_t channels_module; /* registered by main.c */

#endif
