/* accounts.h — users, sign-in sessions and profiles.
 *
 * Owns: auth.register, auth.login, auth.resume, auth.logout, auth.logout_all, auth.sessions,
 * auth.session_end, auth.password, calendar.token, calendar.revoke, profile.get, profile.update; the keys
 * user:<uid>, username:<lowercase name>, session:<sha256(token) hex>, user:<uid>:sessions,
 * caltoken:<sha256(token) hex> (ARCHITECTURE.md); ending a session on every node (ev:s:<hash>); Argon2id
 * password hashing (libsodium crypto_pwhash_str, interactive limits) on libuv's thread pool, never on
 * the loop; tokens: 256 random bits, sent hex-encoded (64 characters), stored only as their SHA-256
 * with an expiry of token-lifetime; --create-admin.
 * Must not: keep a password or a token after the request that carried it (both are wiped), or log them.
 */
#ifndef STAFFROOM_ACCOUNTS_H
#define STAFFROOM_ACCOUNTS_H

#include "module.h"

#include <jansson.h>
#include <uv.h>

#include "store.h"

/* The loop whose thread pool hashes passwords (borrowed). */
void accounts_init(uv_loop_t *loop);

/* The public user object from an HGETALL user:<uid> reply (a flat array; borrowed). Returns a new
 * object {"id","name","display_name","school","subjects":[…],"tz","bio","admin":bool}, or NULL if the
 * reply is not a non-empty array. The password hash is never copied. */
json_t *accounts_user_json(const char *uid, const store_reply_t *hgetall);

/* The Redis key ("caltoken:<sha256 hex>") of a calendar token (64 hex characters, borrowed): the read-only
 * token of GET /ics/… (calendar.token). Returns 0, or -1 if token is malformed. */
int accounts_calendar_key(const char *token, char key[80]);
/* The Redis key ("session:<sha256 hex>") of a session token (64 hex characters, borrowed), for HTTP routes
 * that take it in an Authorization header (media uploads). Returns 0, or -1 if token is malformed. */
int accounts_session_key(const char *token, char key[80]);

/* 1 if tz names a time zone of the tz database loaded at start-up (tz.h; e.g. "Europe/London", "UTC"), else 0. */
int accounts_tz_valid(const char *tz);
/* 1 if name is a valid user name (3–32 of [A-Za-z0-9_.-]), else 0. */
int accounts_name_valid(const char *name);

/* --create-admin: registers NAME with admin rights, waiting (up to 10 s) for Redis. Runs the loop itself
 * (the server is not running). password borrowed. Returns 0, or 1 with an error printed to stderr
 * (name invalid or taken, Redis unreachable). */
int accounts_create_admin(uv_loop_t *loop, const char *name, const char *password);

extern const module_t accounts_module; /* registered by main.c */

#endif
