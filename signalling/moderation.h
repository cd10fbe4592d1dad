/* moderation.h — running a community: roles asked for and decided, removing members, reported messages
 * and their queue, the audit log, and suspending accounts (PROTOCOL.md, "Moderation").
 *
 * Owns: the request types circle.role_request, circle.role_requests, circle.role_decide, circle.remove,
 * chat.report, moderation.queue, moderation.resolve, moderation.audit, admin.suspend, admin.unsuspend,
 * and these Redis keys (written by lua/moderation.lua, and the audit log by lib.audit from every function
 * that does a logged action: circles.lua, channels.lua too):
 *   circle:<cid>:role_requests  hash    uid → JSON {role, note, requested_at}: requests waiting for a decision
 *   circle:<cid>:audit          stream  actor, action, target?, message?, channel?, detail?; XADD MAXLEN ~ 10000
 *                               (with the archive: only entries newer than circle:<cid> audit_copied; older ones
 *                               are in PostgreSQL, history_audit in history.h, copied by archive.c)
 *   report:<id>                 hash    circle, channel, message, msg_user, msg_text (as reported), reporter,
 *                                       reason, created (ms), status (open|dismissed|removed), resolved_by
 *   circle:<cid>:reports        zset    open report ids by creation (the queue)
 *   channel:<chid>:reports:<mid> hash   reporter uid → report id (one report per user and message)
 *   channel:<chid>:removed      hash    message id → "moderator": a moderator's deletion (a tombstone;
 *                                       channels.lua shows it as {text:"", removed:"moderator"})
 *   user:<uid> fields suspended, suspended_reason, suspended_by, suspended_at: a suspended account
 * Removal and suspension reach every node through the bus: circle.membership (status none) on ev:u:<uid>
 * drops the circle from that user's connections everywhere; auth.suspended on each of the user's session
 * channels ev:s:<hash> signs out and closes every connection of the user (accounts.c).
 * Must not: keep state in this process; let anyone but the circle's moderators and admins decide, remove,
 * read the queue or the audit log, nor anyone but admins suspend.
 */
#ifndef STAFFROOM_MODERATION_H
#define STAFFROOM_MODERATION_H

#include "module.h"

#define MODERATION_NOTE_MAX 500   /* characters of a role request's note, a removal's or suspension's reason */
#define MODERATION_REASON_MAX 500 /* characters of a report's reason */
#define MODERATION_AUDIT_PAGE 100 /* entries per moderation.audit page at most */

extern const module_t moderation_module; /* registered by main.c */

#endif
