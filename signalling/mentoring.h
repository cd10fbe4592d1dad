/* mentoring.h — the history of a mentor–mentee pair: their sessions and their shared notes and goals.
 *
 * Owns: mentoring.notes.add and mentoring.notes.list (PROTOCOL.md, "Scheduling"); the Redis list
 * mentoring:<uid a>:<uid b>:notes (a < b; JSON items, the latest 1000 kept).
 * Must not: let anyone but the two of a pair read or write their notes. A pair exists once the two
 * have had a booking together (in either role, even a cancelled one).
 */
#ifndef STAFFROOM_MENTORING_H
#define STAFFROOM_MENTORING_H

#include "module.h"

#include "dispatch.h"

extern const module_t mentoring_module; /* registered by main.c */

#endif
