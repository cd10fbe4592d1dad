/* goals.h — mentoring relationships with goals (issue 15), kept in PostgreSQL (the 007 migration).
 *
 * Owns: mentorship.propose {mentor|mentee, goals:[{title, measure?}] (1–5)}, mentorship.accept {mentorship} and
 * mentorship.decline {mentorship} (the other side only), mentorship.list {}, goal.progress {goal, note, rating 1–5},
 * goal.link {goal, session|media}, mentorship.close {mentorship, outcomes:{goal: met|partly|not_met}} (either side,
 * every goal), mentorship.history {mentorship}; the event mentorship.updated {mentorship} to both people after
 * every change. Only the two people may read or change a mentorship; admins may read it (list: their own;
 * history: any). Anyone else gets not_found, as for an id that does not exist. A proposed, declined or
 * closed mentorship is read-only (conflict).
 * Must not: touch Redis beyond goals_who (lua/goals.lua) and media_scope, or media beyond reading it.
 */
#ifndef STAFFROOM_GOALS_H
#define STAFFROOM_GOALS_H

#include "module.h"

#define GOALS_MAX 5
#define GOALS_TITLE_MAX 200
#define GOALS_TEXT_MAX 2000

extern const module_t goals_module; /* registered by main.c */

#endif
