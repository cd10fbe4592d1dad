/* goals.h — mentoring relationships with goals (issue 15), kept in PostgreSQL (the 007 migration).
 *
 * Owns: mentorship.propose {mentor|mentee, goals:[{title, measure?}] (1–5)}, mentorship.accept {mentorship} and
 * mentorship.decline {mentorship} (the other side only), mentorship.list {}, goal.progress {goal, note, rating 1–5},
 * goal.link {goal, session|media|note} (a note: the number of one of the pair's mentoring notes, its text kept
 * with the link), mentorship.close {mentorship, outcomes:{goal: met|partly|not_met}} (either side, every goal),
 * mentorship.history {mentorship} (the mentorship's events, the pair's bookings and the recordings of those
 * bookings the reader may see, in time order); the event mentorship.updated {mentorship} to both people after
 * every change. Only the two people may read or change a mentorship; admins may read it (list: their own;
 * history: any). Anyone else gets not_found, as for an id that does not exist. A proposed, declined or
 * closed mentorship is read-only (conflict).
 * Must not: touch Redis beyond goals_who and goals_pair (lua/goals.lua) and media_scope, or media beyond
 * reading it; ask goals_pair about a pair before SQL has shown the requester is one of it (or an admin reading).
 */
#ifndef STAFFROOM_GOALS_H
#define STAFFROOM_GOALS_H

#include "module.h"

#define GOALS_MAX 5
#define GOALS_TITLE_MAX 200
#define GOALS_TEXT_MAX 2000
#define GOALS_NOTE_MAX 9007199254740991LL /* a note's number (INCR per pair): JSON's exact integers */

extern const module_t goals_module; /* registered by main.c */

#endif
