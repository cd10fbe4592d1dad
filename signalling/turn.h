/* turn.h — time-limited TURN credentials for the relay (the "TURN REST API" scheme that coturn's
 * static-auth-secret and staffroom-relay both accept): username "<expiry unix time>:<user id>",
 * password base64(HMAC-SHA1(shared secret, username)). The relay recomputes the password from the username,
 * so signalling and relay share nothing but the secret, and a credential stops working at its expiry.
 *
 * Owns: the `turn.credentials` request (PROTOCOL.md, "Relay credentials"); reading the shared secret from
 * `turn-secret-file` (its first non-empty line, surrounding blanks trimmed) once, on first use.
 * Must not: log or send the secret; talk to Redis.
 */
#ifndef STAFFROOM_TURN_H
#define STAFFROOM_TURN_H

#include "module.h"

#include <stddef.h>

#include "dispatch.h"

#define TURN_SECRET_MAX 1024   /* bytes of the shared secret */
#define TURN_CREDENTIAL_LEN 28 /* base64 of a 20-byte SHA-1 HMAC, without the NUL */

/* The handler of turn.credentials; ends with {NULL}. */
extern const module_t turn_module; /* registered by main.c */

/* Writes "<expiry>:<user_id>" into out. Returns its length, or -1 if it does not fit in cap bytes. */
int turn_username(char *out, size_t cap, long long expiry, const char *user_id);

/* Writes base64(HMAC-SHA1(secret, username)) and a NUL into out (cap ≥ TURN_CREDENTIAL_LEN + 1).
 * Returns 0, or -1 if cap is too small or the HMAC failed. */
int turn_credential(const char *secret, size_t secretlen, const char *username, char *out, size_t cap);

/* Reads the secret from the file at path: its first line that is not blank, trimmed. Writes it and a NUL
 * into out. Returns its length, or -1 if the file cannot be read, holds no such line, or the line does
 * not fit in cap - 1 bytes. */
int turn_read_secret(const char *path, char *out, size_t cap);

#endif
