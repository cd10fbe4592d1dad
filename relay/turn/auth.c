/* auth.c — see auth.h. */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct auth {
    char *realm;
    unsigned nonce_lifetime;
    uint8_t key[32];
    pthread_rwlock_t lock; /* guards the secrets: readers are requests, the writer a reload */
    size_t nsecrets;
    char *secrets[AUTH_MAX_SECRETS];
};

auth_t *auth_new(const char *realm, unsigned nonce_lifetime_s, const uint8_t *key)
{
    auth_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (!(a->realm = strdup(realm))) {
        free(a);
        return NULL;
    }
    a->nonce_lifetime = nonce_lifetime_s;
    pthread_rwlock_init(&a->lock, NULL);
    if (key)
        memcpy(a->key, key, sizeof a->key);
    else if (RAND_bytes(a->key, sizeof a->key) != 1) {
        auth_free(a);
        return NULL;
    }
    return a;
}

static void secrets_free(char **secrets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        OPENSSL_cleanse(secrets[i], strlen(secrets[i]));
        free(secrets[i]);
    }
}

void auth_free(auth_t *a)
{
    if (!a)
        return;
    secrets_free(a->secrets, a->nsecrets);
    pthread_rwlock_destroy(&a->lock);
    OPENSSL_cleanse(a->key, sizeof a->key);
    free(a->realm);
    free(a);
}

/* Appends a copy of secret to list. Returns 0 or -1. */
static int secret_push(char **list, size_t *n, const char *secret)
{
    size_t len = strlen(secret);
    if (*n >= AUTH_MAX_SECRETS || len == 0 || len > AUTH_MAX_SECRET_LEN)
        return -1;
    if (!(list[*n] = strdup(secret)))
        return -1;
    (*n)++;
    return 0;
}

int auth_add_secret(auth_t *a, const char *secret)
{
    pthread_rwlock_wrlock(&a->lock);
    int rc = secret_push(a->secrets, &a->nsecrets, secret);
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

int auth_load_secrets(auth_t *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[AUTH_MAX_SECRET_LEN + 64];
    char *fresh[AUTH_MAX_SECRETS];
    size_t count = 0;
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            snprintf(err, errlen, "%s:%d: secret longer than %d bytes", path, lineno,
                     AUTH_MAX_SECRET_LEN);
            rc = -1;
            break;
        }
        char *s = line;
        while (*s && isspace((unsigned char)*s))
            s++;
        n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            s[--n] = 0;
        if (n == 0 || s[0] == '#')
            continue;
        if (secret_push(fresh, &count, s) < 0) {
            snprintf(err, errlen, "%s:%d: too many secrets (at most %d)", path, lineno,
                     AUTH_MAX_SECRETS);
            rc = -1;
            break;
        }
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    if (rc == 0 && count == 0) {
        snprintf(err, errlen, "%s: no secret in file", path);
        rc = -1;
    }
    if (rc < 0) {
        secrets_free(fresh, count);
        return -1;
    }
    /* Swap the whole set at once: a request sees the old set or the new one, never a mix. */
    char *old[AUTH_MAX_SECRETS];
    pthread_rwlock_wrlock(&a->lock);
    size_t nold = a->nsecrets;
    memcpy(old, a->secrets, nold * sizeof *old);
    memcpy(a->secrets, fresh, count * sizeof *fresh);
    a->nsecrets = count;
    pthread_rwlock_unlock(&a->lock);
    secrets_free(old, nold);
    return (int)count;
}

size_t auth_secret_count(auth_t *a)
{
    pthread_rwlock_rdlock(&a->lock);
    size_t n = a->nsecrets;
    pthread_rwlock_unlock(&a->lock);
    return n;
}
const char *auth_realm(const auth_t *a) { return a->realm; }

static const char hexd[] = "0123456789abcdef";

static void auth_nonce_mac(const auth_t *a, uint64_t t, const addr_t *client, uint8_t out[8])
{
    uint8_t in[8 + 1 + 16], mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(t >> (56 - 8 * i));
    in[8] = client->family;
    memset(in + 9, 0, 16);
    memcpy(in + 9, client->ip, addr_ip_len(client));
    HMAC(EVP_sha256(), a->key, sizeof a->key, in, sizeof in, mac, &maclen);
    memcpy(out, mac, 8);
}

void auth_nonce_make(const auth_t *a, int64_t now, const addr_t *client, char out[AUTH_NONCE_LEN + 1])
{
    uint64_t t = (uint64_t)now;
    uint8_t mac[8];
    auth_nonce_mac(a, t, client, mac);
    for (int i = 0; i < 16; i++)
        out[i] = hexd[(t >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 8; i++) {
        out[16 + 2 * i] = hexd[mac[i] >> 4];
        out[17 + 2 * i] = hexd[mac[i] & 15];
    }
    out[AUTH_NONCE_LEN] = 0;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int auth_nonce_check(const auth_t *a, const uint8_t *nonce, size_t len, int64_t now,
                     const addr_t *client)
{
    if (len != AUTH_NONCE_LEN)
        return AUTH_BAD;
    uint64_t t = 0;
    uint8_t got[8], want[8];
    for (int i = 0; i < 16; i++) {
        int v = hexval(nonce[i]);
        if (v < 0)
            return AUTH_BAD;
        t = t << 4 | (uint64_t)v;
    }
    for (int i = 0; i < 8; i++) {
        int hi = hexval(nonce[16 + 2 * i]), lo = hexval(nonce[17 + 2 * i]);
        if (hi < 0 || lo < 0)
            return AUTH_BAD;
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    auth_nonce_mac(a, t, client, want);
    if (CRYPTO_memcmp(got, want, sizeof want) != 0)
        return AUTH_BAD;
    if ((int64_t)t > now + 5) /* issued in the future: clock went back, treat as stale */
        return AUTH_STALE;
    if (now - (int64_t)t >= (int64_t)a->nonce_lifetime)
        return AUTH_STALE;
    return AUTH_OK;
}

int auth_rest_password(const char *secret, const uint8_t *user, size_t ulen, char *out, size_t outlen)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (outlen < 29)
        return -1;
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), user, ulen, mac, &maclen))
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
    return 0;
}

void auth_long_term_key(const uint8_t *user, size_t ulen, const uint8_t *realm, size_t rlen,
                        const uint8_t *pass, size_t plen, uint8_t key[AUTH_KEY_LEN])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned n = 0;
    if (!c || !EVP_DigestInit_ex(c, EVP_md5(), NULL)) {
        memset(key, 0, AUTH_KEY_LEN); /* cannot verify anything with this key: fails closed */
        EVP_MD_CTX_free(c);
        return;
    }
    EVP_DigestUpdate(c, user, ulen);
    EVP_DigestUpdate(c, ":", 1);
    EVP_DigestUpdate(c, realm, rlen);
    EVP_DigestUpdate(c, ":", 1);
    EVP_DigestUpdate(c, pass, plen);
    EVP_DigestFinal_ex(c, key, &n);
    EVP_MD_CTX_free(c);
}

int auth_rest_expiry(const uint8_t *user, size_t ulen, int64_t *expiry)
{
    int64_t v = 0;
    size_t i = 0;
    for (; i < ulen && user[i] != ':'; i++) {
        if (user[i] < '0' || user[i] > '9' || i >= 18)
            return -1;
        v = v * 10 + (user[i] - '0');
    }
    if (i == 0)
        return -1;
    *expiry = v;
    return 0;
}

int auth_check(auth_t *a, const stun_msg_t *m, int64_t now, const addr_t *client,
               uint8_t key[AUTH_KEY_LEN], stun_mi_kind_t *kind)
{
    if (m->mi_index < 0 && m->mi256_index < 0)
        return AUTH_NEED;
    const stun_attr_t *u = stun_find(m, STUN_A_USERNAME), *r = stun_find(m, STUN_A_REALM),
                      *n = stun_find(m, STUN_A_NONCE);
    if (!u || !r || !n) /* §9.2.4: 400 when any is missing */
        return AUTH_MALFORMED;
    const uint8_t *user = stun_attr_value(m, u), *realm = stun_attr_value(m, r);
    if (u->len == 0 || u->len > AUTH_MAX_USERNAME)
        return AUTH_BAD;
    /* The realm must be ours: a key computed under another realm can never verify anyway. */
    if (r->len != strlen(a->realm) || memcmp(realm, a->realm, r->len) != 0)
        return AUTH_BAD;
    int64_t expiry;
    if (auth_rest_expiry(user, u->len, &expiry) < 0)
        return AUTH_BAD;
    if (expiry < now)
        return AUTH_EXPIRED;
    int ok = 0;
    pthread_rwlock_rdlock(&a->lock);
    for (size_t i = 0; i < a->nsecrets && !ok; i++) {
        char pass[32];
        if (auth_rest_password(a->secrets[i], user, u->len, pass, sizeof pass) < 0)
            continue;
        auth_long_term_key(user, u->len, realm, r->len, (const uint8_t *)pass, strlen(pass), key);
        OPENSSL_cleanse(pass, sizeof pass);
        int k = stun_check_integrity(m, key, AUTH_KEY_LEN);
        if (k > 0) {
            *kind = (stun_mi_kind_t)k;
            ok = 1;
        }
    }
    pthread_rwlock_unlock(&a->lock);
    if (!ok) {
        OPENSSL_cleanse(key, AUTH_KEY_LEN);
        return AUTH_BAD;
    }
    int nc = auth_nonce_check(a, stun_attr_value(m, n), n->len, now, client);
    /* A nonce we did not issue (or issued before a restart, under another key) is "no longer
     * valid" (§9.2.4): 438 lets the client retry at once with the fresh nonce we send. */
    if (nc != AUTH_OK)
        return AUTH_STALE;
    return AUTH_OK;
}
