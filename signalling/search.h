/* search.h — chat.search: full-text search over the chat archive in PostgreSQL (archive.h).
 *
 * Owns: the `chat.search` request type (PROTOCOL.md, "Channels and chat"): the circles to search are the
 * user's circles now (lua/search.lua chat_search_scope), passed to the one SQL statement that searches
 * (websearch_to_tsquery over messages.tsv, sql/002_search.sql), so a circle the user left is never
 * searched; ranked (ts_rank_cd), with a highlighted snippet (ts_headline) and an offset cursor.
 * Needs the archive: without postgres-conninfo-file, chat.search answers unavailable.
 * Must not: splice the query into SQL (it is a parameter: any text is just text); read PostgreSQL itself
 * (pg.h does).
 */
#ifndef STAFFROOM_SEARCH_H
#define STAFFROOM_SEARCH_H

#include "module.h"

#define SEARCH_QUERY_MAX 200  /* characters of a query */
#define SEARCH_LIMIT_MAX 50   /* results per page */
#define SEARCH_OFFSET_MAX 1000 /* results a cursor may skip: deeper pages are refused (narrow the query) */

extern const module_t search_module; /* registered by main.c */

#endif
