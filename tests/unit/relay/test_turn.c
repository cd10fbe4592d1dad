/* test_turn.c — the TURN state machine through the fake I/O seam, with a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stun.h"
#include "log.h"
#include "turn.h"
#include "turn_fake.h"

#define T0_UNIX 1800000000LL
#define PORT_MIN 50000
#define PORT_MAX 50009

typedef struct {
    fake_io_t io;
    auth_t *auth;
    peer_policy_t *policy;
    ports_t *ports;
    quota_t *quota;
    stats_t stats;
    turn_config_t cfg;
    turn_t *t;
    uint64_t now;
    int64_t unix_now;
} fx_t;

static fx_t *F;
static turn_client_t C1, C2, C3, CT;
static addr_t PEER, PEER2, PRIV;
static uint8_t BUF[4096];
static stun_builder_t B;
static uint8_t tid_counter;
static const char *nonce_override;

static void make_turn(void)
{
    turn_io_t io = fake_io(&F->io);
    F->t = turn_new(&F->cfg, &io, &F->stats);
    assert_non_null(F->t);
}

static int setup(void **state)
{
    (void)state;
    static const uint8_t nk[32] = {7};
    F = calloc(1, sizeof *F);
    log_level = LOG_LVL_ERROR; /* allocation lines would drown the output */
    F->auth = auth_new("staffroom", 600, nk);
    auth_add_secret(F->auth, "s3cret");
    F->policy = peer_policy_new();
    F->ports = ports_new(PORT_MIN, PORT_MAX, 1);
    F->quota = quota_new(2, 5);
    F->cfg = (turn_config_t){.auth = F->auth, .policy = F->policy, .ports = F->ports,
                             .quota = F->quota, .default_lifetime = 600, .max_lifetime = 3600};
    addr_parse("127.0.0.1", 0, &F->cfg.relay_v4);
    F->now = 1000000;
    F->unix_now = T0_UNIX;
    make_turn();
    addr_t srv;
    addr_parse("127.0.0.1", 3478, &srv);
    C1 = (turn_client_t){.transport = TURN_UDP, .local = srv, .conn = (void *)1};
    addr_parse("192.0.2.10", 40000, &C1.remote);
    C2 = C1;
    addr_parse("192.0.2.11", 40001, &C2.remote);
    C3 = C1;
    addr_parse("192.0.2.12", 40002, &C3.remote);
    CT = C1;
    CT.transport = TURN_TCP;
    CT.conn = (void *)2;
    addr_parse("203.0.113.5", 6000, &PEER);
    addr_parse("203.0.113.6", 6001, &PEER2);
    addr_parse("10.1.2.3", 6002, &PRIV);
    nonce_override = NULL;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    turn_free(F->t);
    /* Every relay socket was closed and every port and quota given back. */
    assert_int_equal(F->io.nclosed, F->io.nrelays);
    assert_int_equal(ports_in_use(F->ports), 0);
    assert_int_equal(quota_current(F->quota), 0);
    quota_free(F->quota);
    ports_free(F->ports);
    peer_policy_free(F->policy);
    auth_free(F->auth);
    free(F);
    return 0;
}

/* ---- building requests ---- */

static void begin(uint16_t method, uint8_t cls)
{
    uint8_t tid[12] = {0xaa, 0xbb};
    tid[11] = ++tid_counter;
    stun_build(&B, BUF, sizeof BUF, method, cls, tid);
}

static const char *user_expiring(int64_t in_seconds, const char *name)
{
    static char u[64];
    snprintf(u, sizeof u, "%lld:%s", (long long)(F->unix_now + in_seconds), name);
    return u;
}

/* Adds USERNAME/REALM/NONCE and integrity for user (NULL: nothing), then FINGERPRINT. */
static size_t finish_kind(const turn_client_t *c, const char *user, stun_mi_kind_t kind)
{
    if (user) {
        char nonce[AUTH_NONCE_LEN + 1], pass[64];
        uint8_t key[16];
        auth_nonce_make(F->auth, F->unix_now, &c->remote, nonce);
        const char *n = nonce_override ? nonce_override : nonce;
        stun_add(&B, STUN_A_USERNAME, user, strlen(user));
        stun_add(&B, STUN_A_REALM, "staffroom", 9);
        stun_add(&B, STUN_A_NONCE, n, strlen(n));
        auth_rest_password("s3cret", (const uint8_t *)user, strlen(user), pass, sizeof pass);
        auth_long_term_key((const uint8_t *)user, strlen(user), (const uint8_t *)"staffroom", 9,
                           (const uint8_t *)pass, strlen(pass), key);
        stun_add_integrity(&B, kind, key, 16);
    }
    stun_add_fingerprint(&B);
    long n = stun_finish(&B);
    assert_true(n > 0);
    return (size_t)n;
}

static size_t finish(const turn_client_t *c, const char *user)
{
    return finish_kind(c, user, STUN_MI_SHA1);
}

static void input(const turn_client_t *c, size_t len)
{
    F->io.nsent = 0;
    turn_client_input(F->t, c, BUF, len, F->now, F->unix_now);
}

static stun_msg_t *sent_msg(int i)
{
    static stun_msg_t m;
    assert_true(i < F->io.nsent);
    assert_int_equal(stun_parse(F->io.sent[i].data, F->io.sent[i].len, &m), 0);
    return &m;
}

/* The single reply to the last input: its error code, or 0 for a success. */
static int reply_code(void)
{
    assert_int_equal(F->io.nsent, 1);
    assert_int_equal(F->io.sent[0].to_peer, 0);
    stun_msg_t *m = sent_msg(0);
    if (m->cls == STUN_SUCCESS)
        return 0;
    assert_int_equal(m->cls, STUN_ERROR);
    int code;
    assert_int_equal(stun_get_error(m, &code), 0);
    return code;
}

static void add_transport(void)
{
    stun_add_u32(&B, TURN_A_REQUESTED_TRANSPORT, 17u << 24);
}

/* Allocates for c as user; asserts success and returns the relayed address. */
static addr_t allocate(const turn_client_t *c, const char *user)
{
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(c, finish(c, user));
    assert_int_equal(reply_code(), 0);
    addr_t relayed;
    assert_int_equal(stun_get_xor_addr(sent_msg(0), TURN_A_XOR_RELAYED_ADDRESS, &relayed), 0);
    return relayed;
}

static int create_permission(const turn_client_t *c, const char *user, const addr_t *peer)
{
    begin(TURN_CREATE_PERMISSION, STUN_REQUEST);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, peer);
    input(c, finish(c, user));
    return reply_code();
}

static int channel_bind(const turn_client_t *c, const char *user, uint16_t number, const addr_t *peer)
{
    begin(TURN_CHANNEL_BIND, STUN_REQUEST);
    uint8_t cn[4] = {(uint8_t)(number >> 8), (uint8_t)number, 0, 0};
    stun_add(&B, TURN_A_CHANNEL_NUMBER, cn, 4);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, peer);
    input(c, finish(c, user));
    return reply_code();
}

static int refresh(const turn_client_t *c, const char *user, int lifetime)
{
    begin(TURN_REFRESH, STUN_REQUEST);
    if (lifetime >= 0)
        stun_add_u32(&B, TURN_A_LIFETIME, (uint32_t)lifetime);
    input(c, finish(c, user));
    return reply_code();
}

static void send_indication(const turn_client_t *c, const addr_t *peer, const char *data)
{
    begin(TURN_SEND, STUN_INDICATION);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, peer);
    stun_add(&B, TURN_A_DATA, data, strlen(data));
    input(c, finish(c, NULL));
}

/* A datagram from peer to the relay socket at index ri. */
static void from_peer(int ri, const addr_t *peer, const char *data)
{
    F->io.nsent = 0;
    assert_non_null(F->io.relays[ri]);
    turn_peer_input(F->t, F->io.relays[ri], peer, (const uint8_t *)data, strlen(data), F->now);
}

static void advance(uint64_t seconds)
{
    F->now += seconds * 1000;
    F->unix_now += (int64_t)seconds;
    F->io.nsent = 0;
    turn_tick(F->t, F->now);
}

/* ---- tests ---- */

static void test_binding(void **s)
{
    (void)s;
    begin(STUN_BINDING, STUN_REQUEST);
    input(&C1, finish(&C1, NULL));
    assert_int_equal(reply_code(), 0);
    addr_t mapped;
    assert_int_equal(stun_get_xor_addr(sent_msg(0), STUN_A_XOR_MAPPED_ADDRESS, &mapped), 0);
    assert_true(addr_eq(&mapped, &C1.remote));
    assert_true(addr_eq(&F->io.sent[0].client.remote, &C1.remote));
    /* An unknown comprehension-required attribute: 420, even on a Binding. */
    begin(STUN_BINDING, STUN_REQUEST);
    stun_add(&B, 0x0031, "x", 1);
    input(&C1, finish(&C1, NULL));
    assert_int_equal(reply_code(), 420);
    /* Comprehension-optional ones are ignored. */
    begin(STUN_BINDING, STUN_REQUEST);
    stun_add(&B, 0x8031, "x", 1);
    input(&C1, finish(&C1, NULL));
    assert_int_equal(reply_code(), 0);
    /* An unknown method: 400. */
    begin(0x00b, STUN_REQUEST);
    input(&C1, finish(&C1, NULL));
    assert_int_equal(reply_code(), 400);
}

static void test_allocate_401_then_success(void **s)
{
    (void)s;
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C1, finish(&C1, NULL));
    assert_int_equal(reply_code(), 401);
    stun_msg_t *m = sent_msg(0);
    const stun_attr_t *realm = stun_find(m, STUN_A_REALM), *nonce = stun_find(m, STUN_A_NONCE);
    assert_non_null(realm);
    assert_non_null(nonce);
    assert_memory_equal(stun_attr_value(m, realm), "staffroom", 9);
    assert_int_equal(auth_nonce_check(F->auth, stun_attr_value(m, nonce), nonce->len, F->unix_now,
                                      &C1.remote), AUTH_OK);
    assert_int_equal(m->mi_index, -1); /* no integrity on a challenge */

    const char *user = user_expiring(3600, "alice");
    addr_t relayed = allocate(&C1, user);
    m = sent_msg(0);
    assert_int_equal(relayed.family, ADDR_V4);
    assert_true(relayed.port >= PORT_MIN && relayed.port <= PORT_MAX);
    assert_true(addr_eq(&relayed, &F->io.relay_addr[0]));
    uint32_t lt;
    assert_int_equal(stun_get_u32(m, TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 600);
    addr_t mapped;
    assert_int_equal(stun_get_xor_addr(m, STUN_A_XOR_MAPPED_ADDRESS, &mapped), 0);
    assert_true(addr_eq(&mapped, &C1.remote));
    /* The success is signed with the user's key, the way the client signed (SHA-1 here). */
    char pass[64];
    uint8_t key[16];
    auth_rest_password("s3cret", (const uint8_t *)user, strlen(user), pass, sizeof pass);
    auth_long_term_key((const uint8_t *)user, strlen(user), (const uint8_t *)"staffroom", 9,
                       (const uint8_t *)pass, strlen(pass), key);
    assert_int_equal(stun_check_integrity(m, key, 16), STUN_MI_SHA1);
    assert_true(m->fp_index >= 0);
    assert_int_equal(turn_allocation_count(F->t), 1);
    assert_int_equal(F->stats.allocations_current, 1);
}

static void test_allocate_sha256(void **s)
{
    (void)s;
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C1, finish_kind(&C1, user_expiring(60, "alice"), STUN_MI_SHA256));
    assert_int_equal(reply_code(), 0);
    assert_true(sent_msg(0)->mi256_index >= 0);
    assert_int_equal(sent_msg(0)->mi_index, -1);
}

static void test_allocate_mismatch_and_retransmit(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    size_t len = B.len;
    /* The very same request again (a retransmission): the same success. */
    input(&C1, len);
    assert_int_equal(reply_code(), 0);
    assert_int_equal(F->io.nrelays, 1);
    /* A new Allocate on the same 5-tuple: 437. */
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 437);
}

static void test_allocate_bad_requests(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    begin(TURN_ALLOCATE, STUN_REQUEST); /* no REQUESTED-TRANSPORT */
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 400);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    stun_add_u32(&B, TURN_A_REQUESTED_TRANSPORT, 6u << 24); /* TCP */
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 442);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    uint8_t fam[4] = {0x02};
    stun_add(&B, TURN_A_REQUESTED_ADDRESS_FAMILY, fam, 4); /* IPv6 but none configured */
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 440);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    fam[0] = 0x07;
    stun_add(&B, TURN_A_REQUESTED_ADDRESS_FAMILY, fam, 4);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 440);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    uint8_t even = 0x80, tok[8] = {1};
    stun_add(&B, TURN_A_EVEN_PORT, &even, 1);
    stun_add(&B, TURN_A_RESERVATION_TOKEN, tok, 8); /* both: 400 */
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 400);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    stun_add(&B, 0x0777, "x", 1); /* unknown comprehension-required attribute */
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 420);
    const stun_attr_t *u = stun_find(sent_msg(0), STUN_A_UNKNOWN_ATTRIBUTES);
    assert_non_null(u);
    assert_int_equal(u->len, 2);
    assert_int_equal(turn_allocation_count(F->t), 0);
}

static void test_wrong_password_and_garbage(void **s)
{
    (void)s;
    char pass[64];
    uint8_t key[16];
    const char *user = user_expiring(3600, "alice");
    char nonce[AUTH_NONCE_LEN + 1];
    auth_nonce_make(F->auth, F->unix_now, &C1.remote, nonce);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    stun_add(&B, STUN_A_USERNAME, user, strlen(user));
    stun_add(&B, STUN_A_REALM, "staffroom", 9);
    stun_add(&B, STUN_A_NONCE, nonce, AUTH_NONCE_LEN);
    auth_rest_password("not-the-secret", (const uint8_t *)user, strlen(user), pass, sizeof pass);
    auth_long_term_key((const uint8_t *)user, strlen(user), (const uint8_t *)"staffroom", 9,
                       (const uint8_t *)pass, strlen(pass), key);
    stun_add_integrity(&B, STUN_MI_SHA1, key, 16);
    input(&C1, (size_t)stun_finish(&B));
    assert_int_equal(reply_code(), 401);
    assert_non_null(stun_find(sent_msg(0), STUN_A_NONCE));
    assert_int_equal(F->stats.auth_failures, 1);
    /* Garbage and responses are dropped without a reply. */
    memset(BUF, 0x00, 40);
    input(&C1, 40);
    assert_int_equal(F->io.nsent, 0);
    begin(STUN_BINDING, STUN_SUCCESS);
    input(&C1, finish(&C1, NULL));
    assert_int_equal(F->io.nsent, 0);
}

static void test_permission_send_and_data(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    /* No permission yet: Send is dropped, peer data is dropped. */
    send_indication(&C1, &PEER, "hello");
    assert_int_equal(F->io.nsent, 0);
    from_peer(0, &PEER, "back");
    assert_int_equal(F->io.nsent, 0);
    assert_int_equal(create_permission(&C1, user, &PEER), 0);
    send_indication(&C1, &PEER, "hello");
    assert_int_equal(F->io.nsent, 1);
    assert_true(F->io.sent[0].to_peer);
    assert_true(addr_eq(&F->io.sent[0].peer, &PEER));
    assert_int_equal(F->io.sent[0].relay, 0);
    assert_int_equal(F->io.sent[0].len, 5);
    assert_memory_equal(F->io.sent[0].data, "hello", 5);
    /* Permissions are per IP: another port of the same peer passes too (RFC 8656 §9). */
    addr_t other_port = PEER;
    other_port.port = 7777;
    from_peer(0, &other_port, "back");
    assert_int_equal(F->io.nsent, 1);
    stun_msg_t *m = sent_msg(0);
    assert_int_equal(m->method, TURN_DATA);
    assert_int_equal(m->cls, STUN_INDICATION);
    addr_t from;
    assert_int_equal(stun_get_xor_addr(m, TURN_A_XOR_PEER_ADDRESS, &from), 0);
    assert_true(addr_eq(&from, &other_port));
    const stun_attr_t *d = stun_find(m, TURN_A_DATA);
    assert_non_null(d);
    assert_int_equal(d->len, 4);
    assert_memory_equal(stun_attr_value(m, d), "back", 4);
    assert_true(addr_eq(&F->io.sent[0].client.remote, &C1.remote));
    /* A peer without permission stays out. */
    from_peer(0, &PEER2, "nope");
    assert_int_equal(F->io.nsent, 0);
    assert_int_equal(F->stats.client_to_peer_packets, 1);
    assert_int_equal(F->stats.peer_to_client_packets, 1);
}

static void test_permission_policy(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    assert_int_equal(create_permission(&C1, user, &PRIV), 403);
    addr_t lo;
    addr_parse("127.0.0.1", 9, &lo);
    assert_int_equal(create_permission(&C1, user, &lo), 403);
    assert_int_equal(channel_bind(&C1, user, 0x4000, &PRIV), 403);
    send_indication(&C1, &PRIV, "x");
    assert_int_equal(F->io.nsent, 0);
    addr_t v6;
    addr_parse("2001:db8::1", 9, &v6); /* no IPv6 relay in this allocation */
    assert_int_equal(create_permission(&C1, user, &v6), 443);
    /* No XOR-PEER-ADDRESS at all. */
    begin(TURN_CREATE_PERMISSION, STUN_REQUEST);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 400);
    assert_true(F->stats.dropped_policy >= 3);
    /* Without an allocation: 437. */
    assert_int_equal(create_permission(&C2, user, &PEER), 437);
    /* Another user on this 5-tuple's allocation: 441. */
    assert_int_equal(create_permission(&C1, user_expiring(3600, "mallory"), &PEER), 441);
}

static void test_many_peers(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    begin(TURN_CREATE_PERMISSION, STUN_REQUEST);
    for (int i = 0; i < 40; i++) {
        addr_t p = PEER;
        p.ip[3] = (uint8_t)(10 + i);
        stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &p);
    }
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 0);
    begin(TURN_CREATE_PERMISSION, STUN_REQUEST); /* more than a permission table holds: 508 */
    for (int i = 0; i < ALLOC_MAX_PERMS; i++) {
        addr_t p = PEER;
        p.ip[2] = 1;
        p.ip[3] = (uint8_t)i;
        stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &p);
    }
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 508);
    /* All or nothing (§9.2): no peer of the refused request may be relayed to, not even the first ones
     * that would have fitted; the 40 accepted earlier still are. */
    for (int i = 0; i < ALLOC_MAX_PERMS; i += 7) {
        addr_t p = PEER;
        p.ip[2] = 1;
        p.ip[3] = (uint8_t)i;
        send_indication(&C1, &p, "x");
        assert_int_equal(F->io.nsent, 0);
    }
    addr_t kept = PEER;
    kept.ip[3] = 10;
    send_indication(&C1, &kept, "x");
    assert_int_equal(F->io.nsent, 1);
    /* A request that does fit (refreshing known peers, one new) still succeeds. */
    begin(TURN_CREATE_PERMISSION, STUN_REQUEST);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &kept);
    addr_t one_more = PEER;
    one_more.ip[2] = 2;
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &one_more);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &one_more);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 0);
}

static void test_channels(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    assert_int_equal(channel_bind(&C1, user, 0x3fff, &PEER), 400);
    assert_int_equal(channel_bind(&C1, user, 0x8000, &PEER), 400);
    assert_int_equal(channel_bind(&C1, user, 0x4000, &PEER), 0);
    assert_int_equal(channel_bind(&C1, user, 0x4000, &PEER), 0);    /* refresh: fine */
    assert_int_equal(channel_bind(&C1, user, 0x4000, &PEER2), 400); /* number taken by another peer */
    assert_int_equal(channel_bind(&C1, user, 0x4001, &PEER), 400);  /* peer bound to another number */
    assert_int_equal(channel_bind(&C1, user, 0x7fff, &PEER2), 0);
    /* The binding installed a permission: peer data arrives as ChannelData (UDP: no padding). */
    from_peer(0, &PEER, "abcde");
    assert_int_equal(F->io.nsent, 1);
    assert_int_equal(F->io.sent[0].len, 4 + 5);
    assert_memory_equal(F->io.sent[0].data, "\x40\x00\x00\x05" "abcde", 9);
    /* Client ChannelData goes to the bound peer; padding after the payload is ignored. */
    memcpy(BUF, "\x7f\xff\x00\x03xyz\x00", 8);
    input(&C1, 8);
    assert_int_equal(F->io.nsent, 1);
    assert_true(F->io.sent[0].to_peer);
    assert_true(addr_eq(&F->io.sent[0].peer, &PEER2));
    assert_int_equal(F->io.sent[0].len, 3);
    /* Unbound channel, or a length past the end: dropped. */
    memcpy(BUF, "\x40\x05\x00\x01z\x00\x00\x00", 8);
    input(&C1, 8);
    assert_int_equal(F->io.nsent, 0);
    memcpy(BUF, "\x40\x00\x00\x09xyz", 7);
    input(&C1, 7);
    assert_int_equal(F->io.nsent, 0);
    /* Missing CHANNEL-NUMBER: 400. */
    begin(TURN_CHANNEL_BIND, STUN_REQUEST);
    stun_add_xor_addr(&B, TURN_A_XOR_PEER_ADDRESS, &PEER);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 400);
}

static void test_tcp_channel_padding_and_close(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&CT, user);
    assert_int_equal(F->io.sent[0].client.transport, TURN_TCP);
    assert_int_equal(channel_bind(&CT, user, 0x4001, &PEER), 0);
    from_peer(0, &PEER, "abcde");
    assert_int_equal(F->io.sent[0].len, 12); /* RFC 8656 §12.5: padded to 4 over TCP */
    assert_memory_equal(F->io.sent[0].data, "\x40\x01\x00\x05" "abcde\0\0\0", 12);
    /* The same client address over UDP is another 5-tuple: no allocation. */
    assert_int_equal(refresh(&C1, user, 600), 437);
    turn_client_closed(F->t, &CT);
    assert_int_equal(turn_allocation_count(F->t), 0);
    assert_int_equal(F->io.nclosed, 1);
}

static void test_refresh(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    assert_int_equal(refresh(&C1, user, 100000), 0);
    uint32_t lt;
    assert_int_equal(stun_get_u32(sent_msg(0), TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 3600); /* capped at max-allocation-lifetime */
    assert_int_equal(refresh(&C1, user, 120), 0); /* below the default: the default */
    assert_int_equal(stun_get_u32(sent_msg(0), TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 600);
    assert_int_equal(refresh(&C1, user, 1800), 0);
    assert_int_equal(stun_get_u32(sent_msg(0), TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 1800);
    assert_int_equal(refresh(&C1, user, -1), 0);
    assert_int_equal(stun_get_u32(sent_msg(0), TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 600);
    assert_int_equal(refresh(&C1, user, 0), 0);
    assert_int_equal(stun_get_u32(sent_msg(0), TURN_A_LIFETIME, &lt), 0);
    assert_int_equal(lt, 0);
    assert_int_equal(turn_allocation_count(F->t), 0);
    assert_int_equal(F->io.nclosed, 1);
    assert_int_equal(refresh(&C1, user, 600), 437);
}

static void test_expired_credentials_refused_everywhere(void **s)
{
    (void)s;
    const char *user = user_expiring(100, "alice");
    char u[64];
    snprintf(u, sizeof u, "%s", user);
    allocate(&C1, u);
    assert_int_equal(create_permission(&C1, u, &PEER), 0);
    advance(200); /* the credential expired; the allocation (600 s) lives on */
    assert_int_equal(turn_allocation_count(F->t), 1);
    assert_int_equal(refresh(&C1, u, 600), 401);
    assert_int_equal(refresh(&C1, u, 0), 401); /* even deleting needs valid credentials */
    assert_int_equal(create_permission(&C1, u, &PEER), 401);
    assert_int_equal(channel_bind(&C1, u, 0x4000, &PEER), 401);
    assert_int_equal(turn_allocation_count(F->t), 1);
    assert_true(F->stats.auth_failures >= 4);
}

static void test_stale_nonce(void **s)
{
    (void)s;
    const char *user = user_expiring(7200, "alice");
    char u[64], old[AUTH_NONCE_LEN + 1];
    snprintf(u, sizeof u, "%s", user);
    auth_nonce_make(F->auth, F->unix_now, &C1.remote, old);
    allocate(&C1, u);
    assert_int_equal(refresh(&C1, u, 3600), 0); /* outlive the nonce */
    advance(601);
    nonce_override = old;
    assert_int_equal(refresh(&C1, u, 600), 438);
    stun_msg_t *m = sent_msg(0);
    const stun_attr_t *n = stun_find(m, STUN_A_NONCE);
    assert_non_null(n);
    assert_non_null(stun_find(m, STUN_A_REALM));
    assert_int_equal(auth_nonce_check(F->auth, stun_attr_value(m, n), n->len, F->unix_now, &C1.remote),
                     AUTH_OK);
    nonce_override = NULL; /* the client retries with the fresh nonce */
    assert_int_equal(refresh(&C1, u, 600), 0);
}

static void test_quotas(void **s)
{
    (void)s;
    /* user-quota 2 counts the user id, whatever the expiry in the username. */
    allocate(&C1, user_expiring(3600, "alice"));
    allocate(&C2, user_expiring(3601, "alice"));
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C3, finish(&C3, user_expiring(3602, "alice")));
    assert_int_equal(reply_code(), 486);
    allocate(&C3, user_expiring(3600, "bob"));
    /* total-quota 5 */
    turn_client_t c4 = C1, c5 = C1, c6 = C1;
    c4.remote.port = 1;
    c5.remote.port = 2;
    c6.remote.port = 3;
    allocate(&c4, user_expiring(3600, "bob"));
    allocate(&c5, user_expiring(3600, "carol"));
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&c6, finish(&c6, user_expiring(3600, "dave")));
    assert_int_equal(reply_code(), 486);
    /* Freeing one makes room. */
    assert_int_equal(refresh(&C1, user_expiring(3600, "alice"), 0), 0);
    allocate(&c6, user_expiring(3600, "dave"));
}

static void test_no_port_508(void **s)
{
    (void)s;
    /* Every bind fails (ports busy outside our pool): 508, and nothing is leaked. */
    F->io.fail_bind = -1;
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C1, finish(&C1, user_expiring(3600, "alice")));
    assert_int_equal(reply_code(), 508);
    assert_int_equal(ports_in_use(F->ports), 0);
    assert_int_equal(quota_current(F->quota), 0);
    /* Two binds fail, the third works. */
    F->io.fail_bind = 2;
    allocate(&C1, user_expiring(3600, "alice"));
    /* Pool exhausted: 10 ports, quotas out of the way. */
    turn_free(F->t);
    quota_free(F->quota);
    F->quota = quota_new(0, 0);
    F->cfg.quota = F->quota;
    make_turn();
    for (int i = 0; i < 10; i++) {
        turn_client_t c = C1;
        c.remote.port = (uint16_t)(100 + i);
        allocate(&c, user_expiring(3600, "alice"));
    }
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    input(&C2, finish(&C2, user_expiring(3600, "alice")));
    assert_int_equal(reply_code(), 508);
}

static void test_lifetimes_expire(void **s)
{
    (void)s;
    const char *user = user_expiring(86400, "alice");
    char u[64];
    snprintf(u, sizeof u, "%s", user);
    allocate(&C1, u);
    assert_int_equal(create_permission(&C1, u, &PEER), 0);
    assert_int_equal(channel_bind(&C1, u, 0x4000, &PEER2), 0);
    advance(299);
    from_peer(0, &PEER, "a");
    assert_int_equal(F->io.nsent, 1);
    advance(2); /* 301 s: both permissions expired (the channel's too) */
    from_peer(0, &PEER, "a");
    assert_int_equal(F->io.nsent, 0);
    from_peer(0, &PEER2, "a");
    assert_int_equal(F->io.nsent, 0);
    /* The channel itself (600 s) still binds its number: ChannelData goes out. */
    memcpy(BUF, "\x40\x00\x00\x01q\0\0\0", 8);
    input(&C1, 8);
    assert_int_equal(F->io.nsent, 1);
    advance(300); /* 601 s: channel gone, allocation (600 s) gone */
    assert_int_equal(turn_allocation_count(F->t), 0);
    assert_int_equal(F->io.nclosed, 1);
    assert_int_equal(F->stats.allocations_expired, 1);
    /* A refreshed allocation survives. */
    allocate(&C1, u);
    advance(500);
    assert_int_equal(refresh(&C1, u, 600), 0);
    advance(500);
    assert_int_equal(turn_allocation_count(F->t), 1);
    advance(101);
    assert_int_equal(turn_allocation_count(F->t), 0);
}

static void test_even_port_and_token(void **s)
{
    (void)s;
    const char *user = user_expiring(3600, "alice");
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    uint8_t even = 0x80; /* R: reserve the next port */
    stun_add(&B, TURN_A_EVEN_PORT, &even, 1);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 0);
    addr_t r1;
    assert_int_equal(stun_get_xor_addr(sent_msg(0), TURN_A_XOR_RELAYED_ADDRESS, &r1), 0);
    assert_int_equal(r1.port % 2, 0);
    const stun_attr_t *tok = stun_find(sent_msg(0), TURN_A_RESERVATION_TOKEN);
    assert_non_null(tok);
    assert_int_equal(tok->len, 8);
    uint8_t token[8];
    memcpy(token, stun_attr_value(sent_msg(0), tok), 8);
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    stun_add(&B, TURN_A_RESERVATION_TOKEN, token, 8);
    input(&C2, finish(&C2, user));
    assert_int_equal(reply_code(), 0);
    addr_t r2;
    assert_int_equal(stun_get_xor_addr(sent_msg(0), TURN_A_XOR_RELAYED_ADDRESS, &r2), 0);
    assert_int_equal(r2.port, r1.port + 1);
    /* A token works once. */
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    stun_add(&B, TURN_A_RESERVATION_TOKEN, token, 8);
    input(&C3, finish(&C3, user_expiring(3600, "bob")));
    assert_int_equal(reply_code(), 508);
}

static void test_ipv6_relay(void **s)
{
    (void)s;
    turn_free(F->t);
    addr_parse("::1", 0, &F->cfg.relay_v6);
    make_turn();
    const char *user = user_expiring(3600, "alice");
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    uint8_t fam[4] = {0x02};
    stun_add(&B, TURN_A_REQUESTED_ADDRESS_FAMILY, fam, 4);
    input(&C1, finish(&C1, user));
    assert_int_equal(reply_code(), 0);
    addr_t r;
    assert_int_equal(stun_get_xor_addr(sent_msg(0), TURN_A_XOR_RELAYED_ADDRESS, &r), 0);
    assert_int_equal(r.family, ADDR_V6);
    addr_t v6peer, v4peer;
    addr_parse("2001:db8::5", 7, &v6peer);
    assert_int_equal(create_permission(&C1, user, &v6peer), 0);
    assert_int_equal(create_permission(&C1, user, &PEER), 443); /* IPv4 peer, IPv6 relay */
    addr_parse("::ffff:10.0.0.1", 7, &v4peer);
    assert_int_equal(create_permission(&C1, user, &v4peer), 403); /* private, in disguise */
    addr_parse("64:ff9b::a00:1", 7, &v4peer);
    assert_int_equal(create_permission(&C1, user, &v4peer), 403);
    /* ADDITIONAL-ADDRESS-FAMILY: an IPv4 and an IPv6 relayed address at once. */
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    stun_add(&B, TURN_A_ADDITIONAL_ADDRESS_FAMILY, fam, 4);
    input(&C2, finish(&C2, user));
    assert_int_equal(reply_code(), 0);
    stun_msg_t *m = sent_msg(0);
    int n = 0, fams = 0;
    for (size_t i = 0; i < m->nattrs; i++)
        if (m->attrs[i].type == TURN_A_XOR_RELAYED_ADDRESS) {
            assert_int_equal(stun_decode_xor_addr(m, &m->attrs[i], &r), 0);
            fams |= r.family;
            n++;
        }
    assert_int_equal(n, 2);
    assert_int_equal(fams, ADDR_V4 | ADDR_V6);
    assert_int_equal(create_permission(&C2, user, &PEER), 0);
    assert_int_equal(create_permission(&C2, user, &v6peer), 0);
}

static void test_additional_family_without_v6(void **s)
{
    (void)s;
    begin(TURN_ALLOCATE, STUN_REQUEST);
    add_transport();
    uint8_t fam[4] = {0x02};
    stun_add(&B, TURN_A_ADDITIONAL_ADDRESS_FAMILY, fam, 4);
    input(&C1, finish(&C1, user_expiring(3600, "alice")));
    assert_int_equal(reply_code(), 0); /* IPv4 only, with ADDRESS-ERROR-CODE 440 for IPv6 */
    const stun_attr_t *ae = stun_find(sent_msg(0), TURN_A_ADDRESS_ERROR_CODE);
    assert_non_null(ae);
    const uint8_t *v = stun_attr_value(sent_msg(0), ae);
    assert_int_equal(v[0], 0x02);
    assert_int_equal(v[2] * 100 + v[3], 440);
}

static void test_bandwidth_limit(void **s)
{
    (void)s;
    turn_free(F->t);
    F->cfg.bandwidth_limit = 1000;
    make_turn();
    const char *user = user_expiring(3600, "alice");
    allocate(&C1, user);
    assert_int_equal(create_permission(&C1, user, &PEER), 0);
    char big[601];
    memset(big, 'x', 600);
    big[600] = 0;
    send_indication(&C1, &PEER, big);
    assert_int_equal(F->io.nsent, 1);
    send_indication(&C1, &PEER, big); /* 1200 > 1000 bytes in the same instant */
    assert_int_equal(F->io.nsent, 0);
    assert_int_equal(F->stats.dropped_bandwidth, 1);
    /* the other direction has a bucket of its own (a link's downstream is not spent by its upstream) */
    from_peer(0, &PEER, big);
    assert_int_equal(F->io.nsent, 1);
    from_peer(0, &PEER, big);
    assert_int_equal(F->io.nsent, 0);
    assert_int_equal(F->stats.dropped_bandwidth, 2);
    advance(1);
    send_indication(&C1, &PEER, big);
    assert_int_equal(F->io.nsent, 1);
    /* lifted live (SIGHUP): everything passes; narrowed again: the bucket holds what it held */
    turn_set_bandwidth_limit(F->t, 0);
    for (int i = 0; i < 5; i++) {
        send_indication(&C1, &PEER, big);
        assert_int_equal(F->io.nsent, 1);
    }
    turn_set_bandwidth_limit(F->t, 1000);
    send_indication(&C1, &PEER, big);
    assert_int_equal(F->io.nsent, 0);
    assert_int_equal(F->stats.dropped_bandwidth, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_401_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_mismatch_and_retransmit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocate_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_and_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission_send_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permission_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_channel_padding_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired_credentials_refused_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_nonce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quotas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_port_508, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetimes_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_even_port_and_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_relay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_additional_family_without_v6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bandwidth_limit, setup, teardown),
    };
    return cmocka_run_group_tests_name("turn", tests, NULL, NULL);
}
