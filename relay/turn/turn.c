/* turn.c — see turn.h. Section numbers are RFC 8656 unless marked otherwise. */
#include "turn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stun.h"

#define TURN_SWEEP_MS 1000
#define TURN_OUT_MAX (STUN_MAX_MSG + 64)
#define TURN_PORT_TRIES 16

struct turn {
    turn_config_t cfg;
    _Atomic uint64_t bandwidth_limit; /* cfg's, changed live by turn_set_bandwidth_limit (another thread) */
    turn_io_t io;
    stats_t *stats;
    alloc_table_t *allocs;
    uint64_t next_sweep;
    uint8_t out[TURN_OUT_MAX]; /* every message we build goes here, then straight to io */
};

/* One request being answered. */
typedef struct {
    turn_t *t;
    const turn_client_t *c;
    const stun_msg_t *m;
    uint64_t now;
    int64_t unix_now;
    int authed;
    stun_mi_kind_t kind;
    uint8_t key[AUTH_KEY_LEN];
    const stun_attr_t *user; /* USERNAME, when authenticated */
} req_t;

turn_t *turn_new(const turn_config_t *cfg, const turn_io_t *io, stats_t *stats)
{
    turn_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cfg = *cfg;
    atomic_store_explicit(&t->bandwidth_limit, cfg->bandwidth_limit, memory_order_relaxed);
    t->io = *io;
    t->stats = stats;
    if (!(t->allocs = alloc_table_new())) {
        free(t);
        return NULL;
    }
    return t;
}

/* The part of a username that quotas count: the user id of "<expiry>:<user id>". Without
 * authentication there is no user: NULL, and only the total quota applies. */
static void quota_key(const turn_t *t, const char *user, size_t ulen, const char **k, size_t *klen)
{
    if (!t->cfg.auth) {
        *k = NULL;
        *klen = 0;
        return;
    }
    const char *colon = memchr(user, ':', ulen);
    if (colon) {
        *k = colon + 1;
        *klen = ulen - (size_t)(colon + 1 - user);
    } else {
        *k = user;
        *klen = ulen;
    }
}

static void turn_release(alloc_t *a, void *ctx)
{
    turn_t *t = ctx;
    for (size_t i = 0; i < a->nrelay; i++) {
        if (a->relay[i].sock)
            t->io.relay_close(t->io.ctx, a->relay[i].sock);
        ports_release(t->cfg.ports, a->relay[i].addr.port);
    }
    a->nrelay = 0;
    const char *k;
    size_t kl;
    quota_key(t, a->username, a->ulen, &k, &kl);
    quota_release(t->cfg.quota, k, kl);
    STATS_SUB(t->stats, allocations_current, 1);
}

static void log_alloc(const char *what, const alloc_t *a)
{
    if (log_level < LOG_LVL_INFO)
        return;
    char c[ADDR_STRLEN], r[ADDR_STRLEN];
    addr_format(&a->client.remote, c, sizeof c);
    if (a->nrelay)
        addr_format(&a->relay[0].addr, r, sizeof r);
    else
        snprintf(r, sizeof r, "-");
    /* The username is the REST "<expiry>:<user id>": not a secret. */
    log_info("allocation %s: client %s/%s relay %s%s user %.*s", what, c,
             a->client.transport == TURN_UDP ? "udp" : a->client.transport == TURN_TCP ? "tcp" : "tls",
             r, a->nrelay > 1 ? " (+ipv6)" : "", (int)(a->ulen > 64 ? 64 : a->ulen), a->username);
}

static void turn_expired(alloc_t *a, void *ctx)
{
    turn_t *t = ctx;
    log_alloc("expired", a);
    turn_release(a, ctx);
    STATS_ADD(t->stats, allocations_expired, 1);
}

void turn_free(turn_t *t)
{
    if (!t)
        return;
    alloc_table_free(t->allocs, turn_release, t);
    free(t);
}

size_t turn_allocation_count(const turn_t *t)
{
    return alloc_count(t->allocs);
}

int turn_has_allocation(turn_t *t, const turn_client_t *c)
{
    return alloc_find(t->allocs, c) != NULL;
}

static void turn_delete(turn_t *t, alloc_t *a)
{
    if (a->expires) /* a created allocation, not a failed attempt */
        log_alloc("deleted", a);
    turn_release(a, t);
    alloc_remove(t->allocs, a);
}

void turn_client_closed(turn_t *t, const turn_client_t *c)
{
    alloc_t *a = alloc_find(t->allocs, c);
    if (a)
        turn_delete(t, a);
}

uint64_t turn_tick(turn_t *t, uint64_t now_ms)
{
    if (now_ms >= t->next_sweep) {
        alloc_sweep(t->allocs, now_ms, turn_expired, t);
        t->next_sweep = now_ms + TURN_SWEEP_MS;
    }
    return t->next_sweep - now_ms;
}

/* ---- replies ---- */

static void reply_send(req_t *r, stun_builder_t *b)
{
    if (r->authed)
        stun_add_integrity(b, r->kind, r->key, AUTH_KEY_LEN);
    if (r->m->fp_index >= 0) /* answer with FINGERPRINT when the client uses it */
        stun_add_fingerprint(b);
    long n = stun_finish(b);
    if (n > 0)
        r->t->io.send_client(r->t->io.ctx, r->c, r->t->out, (size_t)n);
}

static void reply_begin(req_t *r, stun_builder_t *b, uint8_t cls)
{
    stun_build(b, r->t->out, sizeof r->t->out, r->m->method, cls, r->m->tid);
}

static void add_realm_nonce(req_t *r, stun_builder_t *b)
{
    char nonce[AUTH_NONCE_LEN + 1];
    const char *realm = auth_realm(r->t->cfg.auth);
    auth_nonce_make(r->t->cfg.auth, r->unix_now, &r->c->remote, nonce);
    stun_add(b, STUN_A_REALM, realm, strlen(realm));
    stun_add(b, STUN_A_NONCE, nonce, AUTH_NONCE_LEN);
}

static void reply_error(req_t *r, int code)
{
    stun_builder_t b;
    reply_begin(r, &b, STUN_ERROR);
    stun_add_error(&b, code);
    /* §9.2.4 (RFC 8489): 401 and 438 carry REALM and a fresh NONCE. */
    if ((code == 401 || code == 438) && r->t->cfg.auth)
        add_realm_nonce(r, &b);
    reply_send(r, &b);
    stats_error(r->t->stats, code);
}

static void reply_unknown(req_t *r, const uint16_t *types, size_t n)
{
    stun_builder_t b;
    uint8_t v[2 * 16];
    reply_begin(r, &b, STUN_ERROR);
    stun_add_error(&b, 420);
    for (size_t i = 0; i < n; i++) {
        v[2 * i] = (uint8_t)(types[i] >> 8);
        v[2 * i + 1] = (uint8_t)types[i];
    }
    stun_add(&b, STUN_A_UNKNOWN_ATTRIBUTES, v, 2 * n);
    reply_send(r, &b);
    stats_error(r->t->stats, 420);
}

/* ---- helpers ---- */

static int attr_known(uint16_t t)
{
    switch (t) {
    case STUN_A_MAPPED_ADDRESS: case STUN_A_USERNAME: case STUN_A_MESSAGE_INTEGRITY:
    case STUN_A_ERROR_CODE: case STUN_A_UNKNOWN_ATTRIBUTES: case TURN_A_CHANNEL_NUMBER:
    case TURN_A_LIFETIME: case TURN_A_XOR_PEER_ADDRESS: case TURN_A_DATA: case STUN_A_REALM:
    case STUN_A_NONCE: case TURN_A_XOR_RELAYED_ADDRESS: case TURN_A_REQUESTED_ADDRESS_FAMILY:
    case TURN_A_EVEN_PORT: case TURN_A_REQUESTED_TRANSPORT: case TURN_A_DONT_FRAGMENT:
    case STUN_A_MESSAGE_INTEGRITY_SHA256: case STUN_A_PASSWORD_ALGORITHM: case STUN_A_USERHASH:
    case STUN_A_XOR_MAPPED_ADDRESS: case TURN_A_RESERVATION_TOKEN: case STUN_A_PRIORITY:
    case STUN_A_USE_CANDIDATE:
    case 0x0026: /* PADDING (RFC 5780) */
    case 0x0027: /* RESPONSE-PORT (RFC 5780) */
    case 0x002A: /* CONNECTION-ID (RFC 6062): ignored, TCP allocations are not offered */
        return 1;
    default:
        return t >= 0x8000; /* comprehension-optional */
    }
}

static const alloc_relay_t *relay_for(const alloc_t *a, uint8_t family)
{
    for (size_t i = 0; i < a->nrelay; i++)
        if (a->relay[i].addr.family == family)
            return &a->relay[i];
    return NULL;
}

/* Token bucket of one direction (ALLOC_TO_PEER, ALLOC_TO_CLIENT): 1 second of burst. Returns 1 when len
 * bytes may pass now. */
static int bandwidth_ok(turn_t *t, alloc_t *a, int dir, size_t len, uint64_t now)
{
    uint64_t rate = atomic_load_explicit(&t->bandwidth_limit, memory_order_relaxed);
    if (!rate)
        return 1;
    __typeof__(a->bw[0]) *b = &a->bw[dir];
    if (now > b->last) {
        uint64_t add = (now - b->last) * rate / 1000;
        b->tokens = b->tokens + add > rate ? rate : b->tokens + add;
        b->last = now;
    }
    if (b->tokens < len) {
        STATS_ADD(t->stats, dropped_bandwidth, 1);
        return 0;
    }
    b->tokens -= len;
    return 1;
}

static int same_user(const req_t *r, const alloc_t *a)
{
    if (!r->t->cfg.auth)
        return 1;
    return r->user && r->user->len == a->ulen &&
           memcmp(stun_attr_value(r->m, r->user), a->username, a->ulen) == 0;
}

static unsigned lifetime_of(const req_t *r, int for_allocate, int *zero)
{
    const turn_config_t *cfg = &r->t->cfg;
    uint32_t want;
    *zero = 0;
    if (stun_get_u32(r->m, TURN_A_LIFETIME, &want) < 0)
        return cfg->default_lifetime;
    if (want == 0 && !for_allocate) {
        *zero = 1;
        return 0;
    }
    /* §7.2 and §7.3 alike: min(requested, maximum), but never less than the default. */
    unsigned lt = want < cfg->max_lifetime ? want : cfg->max_lifetime;
    if (lt < cfg->default_lifetime)
        lt = cfg->default_lifetime;
    return lt;
}

/* ---- Allocate (§7.2) ---- */

static void allocate_success(req_t *r, alloc_t *a)
{
    stun_builder_t b;
    reply_begin(r, &b, STUN_SUCCESS);
    for (size_t i = 0; i < a->nrelay; i++)
        stun_add_xor_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &a->relay[i].addr);
    if (a->addr_error) {
        /* §14.8 ADDRESS-ERROR-CODE: family, reserved, then as ERROR-CODE. */
        const char *reason = stun_reason(a->addr_error);
        uint8_t v[4 + 40];
        size_t rl = strlen(reason);
        v[0] = 0x02;
        v[1] = 0;
        v[2] = (uint8_t)(a->addr_error / 100);
        v[3] = (uint8_t)(a->addr_error % 100);
        memcpy(v + 4, reason, rl);
        stun_add(&b, TURN_A_ADDRESS_ERROR_CODE, v, 4 + rl);
    }
    uint64_t left = a->expires > r->now ? (a->expires - r->now + 999) / 1000 : 0;
    stun_add_u32(&b, TURN_A_LIFETIME, (uint32_t)left);
    if (a->has_token)
        stun_add(&b, TURN_A_RESERVATION_TOKEN, a->token, 8);
    stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &r->c->remote);
    reply_send(r, &b);
}

/* Opens one relay socket for a on addr's family. mode: 0 any port, 1 even port (reserve = R bit),
 * 2 the port held under token. Returns 0 or a STUN error code. */
static int open_relay(req_t *r, alloc_t *a, const addr_t *base, int mode, int reserve,
                      const uint8_t *token)
{
    int df = stun_find(r->m, TURN_A_DONT_FRAGMENT) != NULL;
    turn_t *t = r->t;
    int failed[TURN_PORT_TRIES], nfailed = 0, code = 508;
    for (int tries = 0; tries < TURN_PORT_TRIES; tries++) {
        int port;
        uint8_t tok[PORTS_TOKEN_LEN];
        if (mode == 2)
            port = ports_take_token(t->cfg.ports, token, r->now);
        else if (mode == 1)
            port = ports_take_even(t->cfg.ports, reserve, r->now, tok, base->family);
        else
            port = ports_take(t->cfg.ports, r->now);
        if (port < 0)
            break;
        alloc_relay_t *rl = &a->relay[a->nrelay];
        rl->owner = a;
        rl->addr = *base;
        rl->addr.port = (uint16_t)port;
        rl->sock = NULL;
        rl->dont_fragment = df;
        int rc = t->io.relay_open(t->io.ctx, &rl->addr, rl, &rl->sock);
        if (rc == 0) {
            a->nrelay++;
            if (mode == 1 && reserve) {
                a->has_token = 1;
                memcpy(a->token, tok, sizeof tok);
            }
            code = 0;
            break;
        }
        /* Port busy outside our pool (another program): keep it out of the way while we retry.
         * A reservation we just made goes back as well. */
        if (mode == 1 && reserve)
            ports_take_token(t->cfg.ports, tok, r->now), ports_release(t->cfg.ports, port + 1);
        failed[nfailed++] = port;
        if (rc != -EADDRINUSE || mode == 2)
            break;
    }
    for (int i = 0; i < nfailed; i++)
        ports_release(t->cfg.ports, failed[i]);
    return code;
}

static void handle_allocate(req_t *r)
{
    turn_t *t = r->t;
    const stun_msg_t *m = r->m;
    alloc_t *a = alloc_find(t->allocs, r->c);
    if (a) {
        /* §7.2 item 1: a retransmitted Allocate gets the same success again; anything else 437. */
        if (memcmp(a->alloc_tid, m->tid, STUN_TID_LEN) == 0 && same_user(r, a))
            allocate_success(r, a);
        else
            reply_error(r, 437);
        return;
    }
    uint32_t rt;
    int rc = stun_get_u32(m, TURN_A_REQUESTED_TRANSPORT, &rt);
    if (rc < 0) {
        reply_error(r, 400);
        return;
    }
    if ((rt >> 24) != 17) { /* §7.2 item 3: only UDP relaying */
        reply_error(r, 442);
        return;
    }
    const stun_attr_t *even = stun_find(m, TURN_A_EVEN_PORT), *tok = stun_find(m, TURN_A_RESERVATION_TOKEN),
                      *raf = stun_find(m, TURN_A_REQUESTED_ADDRESS_FAMILY),
                      *aaf = stun_find(m, TURN_A_ADDITIONAL_ADDRESS_FAMILY);
    /* §7.2 items 4–7: RESERVATION-TOKEN excludes EVEN-PORT and ADDITIONAL-ADDRESS-FAMILY;
     * REQUESTED- and ADDITIONAL-ADDRESS-FAMILY exclude each other. The RFC also refuses
     * RESERVATION-TOKEN with REQUESTED-ADDRESS-FAMILY, but clients that reserved an IPv6 port
     * (coturn's among them) repeat the family with the token, so we accept it when consistent. */
    if ((tok && (even || aaf)) || (raf && aaf) || (tok && tok->len != 8) ||
        (even && even->len != 1) || (raf && raf->len != 4) || (aaf && aaf->len != 4)) {
        reply_error(r, 400);
        return;
    }
    int want_v4 = 1, want_v6 = 0, addr_error = 0;
    if (raf) {
        uint8_t fam = stun_attr_value(m, raf)[0];
        if (fam == 0x02) {
            want_v4 = 0;
            want_v6 = 1;
        } else if (fam != 0x01) {
            reply_error(r, 440);
            return;
        }
    }
    if (aaf) {
        if (stun_attr_value(m, aaf)[0] != 0x02) { /* §14.2: only IPv6 may be additional */
            reply_error(r, 400);
            return;
        }
        if (t->cfg.relay_v6.family)
            want_v6 = 1;
        else
            addr_error = 440; /* IPv4 relayed address only, with ADDRESS-ERROR-CODE */
    }
    if (tok) {
        /* The reserved port belongs to the family of the allocation that reserved it. */
        int fam = ports_token_family(t->cfg.ports, stun_attr_value(m, tok), r->now);
        if (fam < 0) {
            reply_error(r, 508);
            return;
        }
        if (raf && (fam == ADDR_V6) != want_v6) {
            reply_error(r, 400);
            return;
        }
        want_v4 = fam == ADDR_V4;
        want_v6 = fam == ADDR_V6;
    }
    if ((want_v4 && !t->cfg.relay_v4.family) || (want_v6 && !t->cfg.relay_v6.family)) {
        reply_error(r, 440);
        return;
    }
    const char *user = r->user ? (const char *)stun_attr_value(m, r->user) : "";
    size_t ulen = r->user ? r->user->len : 0;
    const char *qk;
    size_t qkl;
    quota_key(t, user, ulen, &qk, &qkl);
    if (quota_take(t->cfg.quota, qk, qkl) < 0) {
        reply_error(r, 486);
        return;
    }
    if (!(a = alloc_add(t->allocs, r->c))) {
        quota_release(t->cfg.quota, qk, qkl);
        reply_error(r, 508);
        return;
    }
    memcpy(a->username, user, ulen);
    a->ulen = ulen;
    memcpy(a->alloc_tid, m->tid, STUN_TID_LEN);
    a->addr_error = addr_error;
    STATS_ADD(t->stats, allocations_current, 1); /* turn_release undoes this on every path */
    int code = 0;
    int even_mode = even ? 1 : 0, reserve = even && (stun_attr_value(m, even)[0] & 0x80);
    /* One port pool serves both families; a token names a port of the family asked for now. */
    const uint8_t *token = tok ? stun_attr_value(m, tok) : NULL;
    if (want_v4)
        code = open_relay(r, a, &t->cfg.relay_v4, tok ? 2 : even_mode, reserve, token);
    if (!code && want_v6)
        code = want_v4 ? open_relay(r, a, &t->cfg.relay_v6, 0, 0, NULL)
                       : open_relay(r, a, &t->cfg.relay_v6, tok ? 2 : even_mode, reserve, token);
    if (code) {
        turn_delete(t, a);
        reply_error(r, code);
        return;
    }
    int zero;
    a->expires = r->now + 1000ull * lifetime_of(r, 1, &zero);
    for (int dir = 0; dir < 2; dir++) {
        a->bw[dir].tokens = atomic_load_explicit(&t->bandwidth_limit, memory_order_relaxed);
        a->bw[dir].last = r->now;
    }
    STATS_ADD(t->stats, allocations_total, 1);
    log_alloc("created", a);
    allocate_success(r, a);
}

/* ---- Refresh (§7.3) ---- */

static alloc_t *owned_alloc(req_t *r)
{
    alloc_t *a = alloc_find(r->t->allocs, r->c);
    if (!a) {
        reply_error(r, 437);
        return NULL;
    }
    if (!same_user(r, a)) { /* §7.3, §9.2, §11.2: the allocation's credentials only */
        reply_error(r, 441);
        return NULL;
    }
    return a;
}

static void handle_refresh(req_t *r)
{
    alloc_t *a = owned_alloc(r);
    if (!a)
        return;
    const stun_attr_t *raf = stun_find(r->m, TURN_A_REQUESTED_ADDRESS_FAMILY);
    if (raf) {
        uint8_t fam = raf->len == 4 ? stun_attr_value(r->m, raf)[0] : 0;
        if (!relay_for(a, fam == 0x01 ? ADDR_V4 : fam == 0x02 ? ADDR_V6 : 0)) {
            reply_error(r, 443);
            return;
        }
    }
    int zero;
    unsigned lt = lifetime_of(r, 0, &zero);
    stun_builder_t b;
    reply_begin(r, &b, STUN_SUCCESS);
    if (zero) {
        turn_delete(r->t, a);
        stun_add_u32(&b, TURN_A_LIFETIME, 0);
    } else {
        a->expires = r->now + 1000ull * lt;
        stun_add_u32(&b, TURN_A_LIFETIME, lt);
    }
    reply_send(r, &b);
}

/* ---- CreatePermission (§9.2) ---- */

/* Checks one peer: 0 or an error code (400 / 443 / 403). */
static int check_peer(req_t *r, alloc_t *a, const addr_t *peer)
{
    if (!relay_for(a, peer->family))
        return 443;
    if (!peer_policy_allowed(r->t->cfg.policy, peer)) {
        STATS_ADD(r->t->stats, dropped_policy, 1);
        return 403;
    }
    return 0;
}

static void handle_create_permission(req_t *r)
{
    alloc_t *a = owned_alloc(r);
    if (!a)
        return;
    addr_t peers[STUN_MAX_ATTRS];
    size_t n = 0;
    for (size_t i = 0; i < r->m->nattrs; i++) {
        if (r->m->attrs[i].type != TURN_A_XOR_PEER_ADDRESS)
            continue;
        if (stun_decode_xor_addr(r->m, &r->m->attrs[i], &peers[n]) < 0) {
            reply_error(r, 400);
            return;
        }
        int code = check_peer(r, a, &peers[n]);
        if (code) {
            reply_error(r, code);
            return;
        }
        n++;
    }
    if (n == 0) {
        reply_error(r, 400);
        return;
    }
    /* §9.2: all or nothing — every peer was checked, and room for all of them made sure of, before any
     * is installed: a refused request changes nothing. */
    if (!alloc_perm_fit(a, peers, n, r->now)) {
        reply_error(r, 508);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (alloc_perm_set(a, &peers[i], r->now + 1000ull * TURN_PERMISSION_LIFETIME, r->now) < 0) {
            reply_error(r, 508);
            return;
        }
    stun_builder_t b;
    reply_begin(r, &b, STUN_SUCCESS);
    reply_send(r, &b);
}

/* ---- ChannelBind (§11.2) ---- */

static void handle_channel_bind(req_t *r)
{
    alloc_t *a = owned_alloc(r);
    if (!a)
        return;
    const stun_attr_t *cn = stun_find(r->m, TURN_A_CHANNEL_NUMBER);
    addr_t peer;
    if (!cn || cn->len != 4 || stun_get_xor_addr(r->m, TURN_A_XOR_PEER_ADDRESS, &peer) < 0) {
        reply_error(r, 400);
        return;
    }
    const uint8_t *v = stun_attr_value(r->m, cn);
    uint16_t number = (uint16_t)(v[0] << 8 | v[1]);
    if (number < TURN_CHANNEL_MIN || number > TURN_CHANNEL_MAX) {
        reply_error(r, 400);
        return;
    }
    /* §11.2: a number already bound to another peer, or a peer bound to another number: 400. */
    const alloc_chan_t *by_num = alloc_chan_by_number(a, number, r->now);
    const alloc_chan_t *by_peer = alloc_chan_by_peer(a, &peer, r->now);
    if ((by_num && !addr_eq(&by_num->peer, &peer)) || (by_peer && by_peer->number != number)) {
        reply_error(r, 400);
        return;
    }
    int code = check_peer(r, a, &peer);
    if (code) {
        reply_error(r, code);
        return;
    }
    if (alloc_chan_set(a, number, &peer, r->now + 1000ull * TURN_CHANNEL_LIFETIME, r->now) < 0 ||
        alloc_perm_set(a, &peer, r->now + 1000ull * TURN_PERMISSION_LIFETIME, r->now) < 0) {
        reply_error(r, 508);
        return;
    }
    stun_builder_t b;
    reply_begin(r, &b, STUN_SUCCESS);
    reply_send(r, &b);
}

/* ---- data: Send indication (§10.2), ChannelData (§12.5), peer datagrams (§10.3, §12.6) ---- */

static void relay_to_peer(turn_t *t, alloc_t *a, const addr_t *peer, const uint8_t *data, size_t len,
                          uint64_t now)
{
    const alloc_relay_t *rl = relay_for(a, peer->family);
    if (!rl)
        return;
    if (!bandwidth_ok(t, a, ALLOC_TO_PEER, len, now))
        return;
    t->io.send_peer(t->io.ctx, rl->sock, peer, data, len);
    STATS_ADD(t->stats, client_to_peer_packets, 1);
    STATS_ADD(t->stats, client_to_peer_bytes, len);
}

static void handle_send(turn_t *t, const turn_client_t *c, const stun_msg_t *m, uint64_t now)
{
    alloc_t *a = alloc_find(t->allocs, c);
    addr_t peer;
    const stun_attr_t *data = stun_find(m, TURN_A_DATA);
    if (!a || !data || stun_get_xor_addr(m, TURN_A_XOR_PEER_ADDRESS, &peer) < 0)
        return; /* §10.2: indications are never answered */
    if (!peer_policy_allowed(t->cfg.policy, &peer)) {
        STATS_ADD(t->stats, dropped_policy, 1);
        return;
    }
    if (!alloc_perm_find(a, &peer, now)) {
        STATS_ADD(t->stats, dropped_permission, 1);
        return;
    }
    relay_to_peer(t, a, &peer, stun_attr_value(m, data), data->len, now);
}

static void handle_channel_data(turn_t *t, const turn_client_t *c, const uint8_t *buf, size_t len,
                                uint64_t now)
{
    uint16_t number;
    const uint8_t *data;
    size_t dlen;
    if (stun_channel_parse(buf, len, &number, &data, &dlen) < 0) {
        STATS_ADD(t->stats, dropped_malformed, 1);
        return;
    }
    alloc_t *a = alloc_find(t->allocs, c);
    if (!a)
        return;
    const alloc_chan_t *ch = alloc_chan_by_number(a, number, now);
    if (!ch) { /* §12.5: an unbound channel's data is discarded */
        STATS_ADD(t->stats, dropped_permission, 1);
        return;
    }
    if (!peer_policy_allowed(t->cfg.policy, &ch->peer)) { /* cannot happen: checked at bind */
        STATS_ADD(t->stats, dropped_policy, 1);
        return;
    }
    relay_to_peer(t, a, &ch->peer, data, dlen, now);
}

void turn_peer_input(turn_t *t, alloc_relay_t *relay, const addr_t *peer, const uint8_t *data,
                     size_t len, uint64_t now_ms)
{
    alloc_t *a = relay->owner;
    if (!alloc_perm_find(a, peer, now_ms)) { /* §10.3: no permission, no relaying */
        STATS_ADD(t->stats, dropped_permission, 1);
        return;
    }
    if (len > STUN_MAX_MSG - 64 || !bandwidth_ok(t, a, ALLOC_TO_CLIENT, len, now_ms))
        return;
    const alloc_chan_t *ch = alloc_chan_by_peer(a, peer, now_ms);
    size_t n;
    if (ch) {
        /* §12.6: ChannelData; over TCP/TLS padded to a multiple of 4 (§12.5). */
        t->out[0] = (uint8_t)(ch->number >> 8);
        t->out[1] = (uint8_t)ch->number;
        t->out[2] = (uint8_t)(len >> 8);
        t->out[3] = (uint8_t)len;
        memcpy(t->out + 4, data, len);
        n = 4 + len;
        if (a->client.transport != TURN_UDP)
            while (n % 4)
                t->out[n++] = 0;
    } else {
        /* §10.3: Data indication with XOR-PEER-ADDRESS and DATA. */
        uint8_t tid[STUN_TID_LEN];
        for (int i = 0; i < STUN_TID_LEN; i++) /* tid uniqueness is all that matters here */
            tid[i] = (uint8_t)(now_ms >> (8 * (i % 8))) ^ (uint8_t)(i * 37) ^ (uint8_t)len;
        stun_builder_t b;
        stun_build(&b, t->out, sizeof t->out, TURN_DATA, STUN_INDICATION, tid);
        stun_add_xor_addr(&b, TURN_A_XOR_PEER_ADDRESS, peer);
        stun_add(&b, TURN_A_DATA, data, len);
        long r = stun_finish(&b);
        if (r < 0)
            return;
        n = (size_t)r;
    }
    t->io.send_client(t->io.ctx, &a->client, t->out, n);
    STATS_ADD(t->stats, peer_to_client_packets, 1);
    STATS_ADD(t->stats, peer_to_client_bytes, len);
}

/* ---- dispatch ---- */

static void handle_binding(turn_t *t, const turn_client_t *c, const stun_msg_t *m)
{
    /* RFC 8489 §6.3.1: XOR-MAPPED-ADDRESS, no authentication needed. */
    req_t r = {.t = t, .c = c, .m = m};
    stun_builder_t b;
    STATS_ADD(t->stats, binding_requests, 1);
    reply_begin(&r, &b, STUN_SUCCESS);
    stun_add_xor_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &c->remote);
    reply_send(&r, &b);
}

static void handle_request(turn_t *t, const turn_client_t *c, const stun_msg_t *m, uint64_t now,
                           int64_t now_unix)
{
    req_t r = {.t = t, .c = c, .m = m, .now = now, .unix_now = now_unix};
    STATS_ADD(t->stats, stun_requests, 1);
    if (m->method != STUN_BINDING && m->method != TURN_ALLOCATE && m->method != TURN_REFRESH &&
        m->method != TURN_CREATE_PERMISSION && m->method != TURN_CHANNEL_BIND) {
        reply_error(&r, 400);
        return;
    }
    /* RFC 8489 §6.3.1: unknown comprehension-required attributes → 420 listing them. */
    uint16_t unknown[16];
    size_t nunknown = 0;
    for (size_t i = 0; i < m->nattrs && nunknown < 16; i++)
        if (!attr_known(m->attrs[i].type))
            unknown[nunknown++] = m->attrs[i].type;
    if (nunknown) {
        reply_unknown(&r, unknown, nunknown);
        return;
    }
    if (m->method == STUN_BINDING) {
        handle_binding(t, c, m);
        return;
    }
    if (t->cfg.auth) {
        int rc = auth_check(t->cfg.auth, m, now_unix, &c->remote, r.key, &r.kind);
        switch (rc) {
        case AUTH_OK:
            r.authed = 1;
            r.user = stun_find(m, STUN_A_USERNAME);
            break;
        case AUTH_NEED:
            reply_error(&r, 401);
            return;
        case AUTH_MALFORMED:
            reply_error(&r, 400);
            return;
        case AUTH_STALE:
            reply_error(&r, 438);
            return;
        default:
            STATS_ADD(t->stats, auth_failures, 1);
            if (log_level >= LOG_LVL_DEBUG) { /* a peer can trigger this at will: debug only */
                char a[ADDR_STRLEN];
                log_debug("auth failure (%s) from %s", rc == AUTH_EXPIRED ? "expired" : "bad",
                          addr_format(&c->remote, a, sizeof a));
            }
            reply_error(&r, 401);
            return;
        }
    }
    switch (m->method) {
    case TURN_ALLOCATE: handle_allocate(&r); break;
    case TURN_REFRESH: handle_refresh(&r); break;
    case TURN_CREATE_PERMISSION: handle_create_permission(&r); break;
    case TURN_CHANNEL_BIND: handle_channel_bind(&r); break;
    }
}

void turn_client_input(turn_t *t, const turn_client_t *c, const uint8_t *data, size_t len,
                       uint64_t now_ms, int64_t now_unix)
{
    if (len >= 4 && (data[0] & 0xc0) == 0x40) { /* §12: ChannelData starts with 0b01 */
        handle_channel_data(t, c, data, len, now_ms);
        return;
    }
    stun_msg_t m;
    if (stun_parse(data, len, &m) < 0) {
        STATS_ADD(t->stats, dropped_malformed, 1);
        return;
    }
    if (m.cls == STUN_REQUEST)
        handle_request(t, c, &m, now_ms, now_unix);
    else if (m.cls == STUN_INDICATION && m.method == TURN_SEND)
        handle_send(t, c, &m, now_ms);
    /* Other indications and any responses are ignored (RFC 8489 §6.3.2). */
}

void turn_set_bandwidth_limit(turn_t *t, uint64_t bytes_per_s)
{
    atomic_store_explicit(&t->bandwidth_limit, bytes_per_s, memory_order_relaxed);
}
