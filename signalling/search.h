/* search.h — chat.search: full-text search over the chat archive in PostgreSQL (archive.h), and the
 * language each circle's chat is searched and indexed in (circle.set_language).
 *
 * Owns: the `chat.search` request type (PROTOCOL.md, "Channels and chat"): the circles to search are the
 * user's circles now, with their languages (lua/search.lua chat_search_scope), passed to the one SQL
 * statement that searches (one branch per language: websearch_to_tsquery and prefix terms over messages.tsv,
 * sql/004), so a circle the user left is never searched. Each branch takes the newest SEARCH_CANDIDATES
 * matches (walking messages_recent back from now for a frequent word, the GIN index for a rare one; a phrase
 * of frequent words by a bounded walk back, search-phrase-scan rows, before the GIN index): the cost does
 * not grow with the number of matches. Those are ranked (ts_rank_cd), with a highlighted snippet
 * (ts_headline) and an offset cursor. `circle.set_language` (moderators, admins): one of a fixed list of
 * PostgreSQL text-search configurations; the archiver reindexes the circle's archived rows (archive.c).
 * Needs the archive: without postgres-conninfo-file, chat.search answers unavailable.
 * Must not: splice the query into SQL (it is a parameter: any text is just text; the language names spliced
 * come from the fixed list only); read PostgreSQL itself (pg.h does).
 */
#ifndef STAFFROOM_SEARCH_H
#define STAFFROOM_SEARCH_H

#include "module.h"

#define SEARCH_QUERY_MAX 200   /* characters of a query */
#define SEARCH_LIMIT_MAX 50    /* results per page */
#define SEARCH_OFFSET_MAX 1000 /* results a cursor may skip: deeper pages are refused (narrow the query) */
#define SEARCH_CANDIDATES 200  /* newest matches ranked per language (the cursor never goes deeper) */
#define SEARCH_PREFIX_MAX 8    /* prefix terms (word*) in a query */

extern const module_t search_module; /* registered by main.c */

/* 1 if lang is one of the text-search configurations a circle may choose (circle.set_language). */
int search_language_valid(const char *lang);

#endif
