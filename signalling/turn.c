/* turn.c — turn.credentials (see turn.h). */
#include "turn.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "msg.h"

/* Used when turn-urls is not configured: the relay on this host, both transports. */
static const char *const default_urls[] = {
    "turn:127.0.0.1:3478?transport=udp",
    "turn:127.0.0.1:3478?transport=tcp",
};

int turn_username(char *out, size_t cap, long long expiry, const char *user_id)
{
    int n = snprintf(out, cap, "%lld:%s", expiry, user_id);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

int turn_credential(const char *secret, size_t secretlen, const char *username, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (cap < TURN_CREDENTIAL_LEN + 1)
        return -1;
    if (!HMAC(EVP_sha1(), secret, (int)secretlen, (const unsigned char *)username, strlen(username), mac,
              &maclen) ||
        maclen != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen); /* writes 28 characters and a NUL */
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

int turn_read_secret(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[TURN_SECRET_MAX + 2];
    int len = -1;
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
            e--;
        if (e == s)
            continue; /* blank line */
        if ((size_t)(e - s) < cap) {
            memcpy(out, s, (size_t)(e - s));
            out[e - s] = '\0';
            len = (int)(e - s);
        }
        break;
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return len;
}

/* The secret, read once on first use (a rotated secret needs a restart, as in the relay). */
static char secret[TURN_SECRET_MAX + 1];
static int secret_len = -1;

static int secret_get(const signal_config_t *cfg)
{
    if (secret_len > 0)
        return 0;
    secret_len = turn_read_secret(cfg->turn_secret_file, secret, sizeof secret);
    if (secret_len <= 0) {
        /* the path is not secret; the contents never reach the log */
        log_error("turn: cannot read a secret from turn-secret-file %s: %s", cfg->turn_secret_file,
                  errno ? strerror(errno) : "no non-blank line");
        return -1;
    }
    return 0;
}

static json_t *urls_json(const signal_config_t *cfg)
{
    json_t *urls = json_array();
    if (cfg->turn_urls.n == 0) {
        for (size_t i = 0; i < sizeof default_urls / sizeof *default_urls; i++)
            json_array_append_new(urls, json_string(default_urls[i]));
    }
    for (size_t i = 0; i < cfg->turn_urls.n; i++)
        json_array_append_new(urls, json_string(cfg->turn_urls.items[i]));
    return urls;
}

static void turn_credentials(req_t *r)
{
    const signal_config_t *cfg = config_get();
    if (!cfg->turn_secret_file || !*cfg->turn_secret_file) {
        req_error(r, E_UNAVAILABLE, "this server has no TURN relay configured (turn-secret-file is not set)");
        return;
    }
    errno = 0;
    if (secret_get(cfg) < 0) {
        req_error(r, E_UNAVAILABLE, "the TURN relay's shared secret cannot be read; ask the administrator");
        return;
    }
    char username[256], credential[TURN_CREDENTIAL_LEN + 1];
    long long expiry = (long long)time(NULL) + cfg->turn_credential_ttl;
    if (turn_username(username, sizeof username, expiry, req_user(r)) < 0 ||
        turn_credential(secret, (size_t)secret_len, username, credential, sizeof credential) < 0) {
        req_error(r, E_INTERNAL, "cannot compute TURN credentials");
        return;
    }
    json_t *server = json_pack("{s:o, s:s, s:s}", "urls", urls_json(cfg), "username", username,
                               "credential", credential);
    req_ok(r, json_pack("{s:[o], s:I}", "ice_servers", server, "ttl", (json_int_t)cfg->turn_credential_ttl));
}

static const handler_t handlers[] = {
    {"turn.credentials", turn_credentials, H_RL_READ},
    {NULL, NULL, 0},
};

const module_t turn_module = {
    .name = "turn",
    .handlers = handlers,
};
