/* auth.h — the long-term credential mechanism (RFC 8489 §9.2) with time-limited REST credentials.
 *
 * Owns: the shared secrets, the realm, the server's nonce key; stateless nonces; REST password and
 * long-term key derivation; checking a request's credentials.
 * Must not: touch sockets, keep per-client state, or log secrets. Thread-safe: every worker shares
 * one auth_t; the secrets sit behind a read-write lock so that a reload (SIGHUP) swaps the whole set
 * while requests are being checked (requests are rare next to data packets, which never get here).
 *
 * REST credentials (as coturn's use-auth-secret): username "<expiry unix time>:<user id>",
 * password base64(HMAC-SHA1(secret, username)), key MD5(username ":" realm ":" password) (§9.2.2).
 * Nonce (stateless, §9.2.1 leaves its form to the server): 16 hex digits of the issue time then
 * 16 hex digits of HMAC-SHA256(server key, issue time || client IP) truncated to 8 bytes.
 */
#ifndef STAFFROOM_AUTH_H
#define STAFFROOM_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun.h"

#define AUTH_NONCE_LEN 32
#define AUTH_KEY_LEN 16
#define AUTH_MAX_SECRETS 32
#define AUTH_MAX_SECRET_LEN 512
#define AUTH_MAX_USERNAME 513 /* RFC 8489 §14.3: less than 509 bytes; a little slack */

enum {
    AUTH_OK = 0,
    AUTH_NEED = -1,      /* no integrity at all: challenge with 401 + REALM + NONCE */
    AUTH_BAD = -2,       /* wrong username/password/integrity, or forged nonce: 401 */
    AUTH_STALE = -3,     /* nonce expired: 438 */
    AUTH_EXPIRED = -4,   /* REST credential past its expiry time: 401 */
    AUTH_MALFORMED = -5, /* integrity without USERNAME/REALM/NONCE: 400 */
    AUTH_NOMEM = -6,
};

typedef struct auth auth_t;

/* New: realm is copied; key (32 bytes) keys the nonces, NULL = random (RAND_bytes).
 * Returns NULL on allocation failure. */
auth_t *auth_new(const char *realm, unsigned nonce_lifetime_s, const uint8_t *key);
void auth_free(auth_t *a);
/* Adds one accepted secret (copied). Returns 0, or -1 if full/too long/empty. */
int auth_add_secret(auth_t *a, const char *secret);
/* Reads a secret file: one secret per non-empty line (surrounding blanks trimmed, '#' lines are
 * comments) and replaces the current set with it, atomically. Every line verifies; rotation = add
 * the new line and reload, later remove the old one and reload. Returns the number of secrets read
 * (>0), or -1 with err filled (the current set is then kept). */
int auth_load_secrets(auth_t *a, const char *path, char *err, size_t errlen);
size_t auth_secret_count(auth_t *a);
const char *auth_realm(const auth_t *a);

/* Writes a fresh nonce (NUL-terminated, AUTH_NONCE_LEN chars) for a client at unix time now. */
void auth_nonce_make(const auth_t *a, int64_t now, const addr_t *client, char out[AUTH_NONCE_LEN + 1]);
/* AUTH_OK, AUTH_STALE (genuine but older than the lifetime), or AUTH_BAD (not ours / other client). */
int auth_nonce_check(const auth_t *a, const uint8_t *nonce, size_t len, int64_t now,
                     const addr_t *client);

/* REST password for username under secret: base64 of HMAC-SHA1, NUL-terminated (28 chars).
 * Returns 0 or -1 if out is too small. */
int auth_rest_password(const char *secret, const uint8_t *user, size_t ulen, char *out, size_t outlen);
/* Long-term key MD5(username:realm:password) (RFC 8489 §9.2.2, SASLprep assumed done: REST
 * usernames and passwords are ASCII). */
void auth_long_term_key(const uint8_t *user, size_t ulen, const uint8_t *realm, size_t rlen,
                        const uint8_t *pass, size_t plen, uint8_t key[AUTH_KEY_LEN]);
/* The expiry time in a REST username ("<digits>[:...]"). Returns 0 or -1 if malformed. */
int auth_rest_expiry(const uint8_t *user, size_t ulen, int64_t *expiry);

/* Checks a request (RFC 8489 §9.2.4 order: attributes present, username valid and unexpired,
 * integrity under some configured secret, then the nonce). On AUTH_OK fills key (to sign the reply)
 * and *kind (STUN_MI_SHA1 or STUN_MI_SHA256: reply with the kind the client used). */
int auth_check(auth_t *a, const stun_msg_t *m, int64_t now, const addr_t *client,
               uint8_t key[AUTH_KEY_LEN], stun_mi_kind_t *kind);

#endif
