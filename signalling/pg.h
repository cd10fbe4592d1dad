/* pg.h — PostgreSQL, asynchronously, on the process's libuv loop. The only module that includes libpq.
 *
 * Owns: one connection (PQconnectStart/PQconnectPoll, then PQsendQueryParams and PQconsumeInput/PQisBusy/
 * PQgetResult, all driven by a uv_poll on PQsocket), reconnection with back-off, and the versioned schema:
 * the migrations in signalling/sql/NNN_name.sql (embedded at build time: sql_migrations.h) are applied on
 * every (re)connection, each in its own transaction, recorded in schema_version, under an advisory lock so
 * that two nodes starting together do not race. Queries are sent one at a time, in the order given.
 * Must not: know features, or block (pg_open only starts connecting).
 *
 * Callbacks: every pg_cb passed here is called exactly once, on the loop, never from inside the call that
 * registered it (except from pg_close, at shutdown, with NULL, and at once with NULL for a query sent
 * before pg_open or after pg_close: callers check pg_configured first). res is NULL if PostgreSQL is not
 * configured, not up (connecting, migrating, down), went away before answering, or the statement failed
 * (logged); res is borrowed for the duration of the callback only. A query is never queued while the
 * database is down: callers (the archiver, chat.history) retry or answer unavailable themselves.
 */
#ifndef STAFFROOM_PG_H
#define STAFFROOM_PG_H

#include <stddef.h>
#include <uv.h>

typedef struct pg_result pg_result_t; /* borrowed for the callback only */
typedef void (*pg_cb)(const pg_result_t *res, void *priv);

/* Starts connecting with conninfo (libpq's "key=value …" or URI; borrowed, copied). Returns 0, or -1 if out
 * of memory. Failures are retried forever with back-off: 100 ms doubling to retry_max_ms (at least 100).
 * Liveness: a connection attempt, or a query once up, that takes longer than timeout_ms drops the
 * connection (its queries get NULL) and reconnects — a PostgreSQL that hangs, or a lock held for long,
 * costs callers at most that long. Migrations are not timed (a large one may take minutes). */
int pg_open(uv_loop_t *loop, const char *conninfo, unsigned retry_max_ms, unsigned timeout_ms);
/* Cancels nothing already sent; fails what is queued with NULL, disconnects, closes the handles. */
void pg_close(void);
/* 1 once pg_open was called (PostgreSQL is configured), else 0. */
int pg_configured(void);
/* 1 if connected and migrated: queries are accepted. */
int pg_is_up(void);
/* The schema version reached by the migrations (0 before the first successful run). */
int pg_schema_version(void);

/* Sends sql (one statement, $1… placeholders) with nparams text parameters (params[i] NULL: SQL NULL); sql
 * and params are borrowed (copied before return). cb may be NULL (fire-and-forget). */
void pg_query(const char *sql, int nparams, const char *const *params, pg_cb cb, void *priv);

/* The result of a statement that returns rows (or none: ntuples 0). */
int pg_ntuples(const pg_result_t *res);
int pg_nfields(const pg_result_t *res);
/* The text of row, col; NULL for SQL NULL or out of range. Borrowed for the callback. */
const char *pg_value(const pg_result_t *res, int row, int col);
/* Rows affected by an INSERT/UPDATE/DELETE (PQcmdTuples), 0 if none or not applicable. */
long long pg_affected(const pg_result_t *res);

#endif
