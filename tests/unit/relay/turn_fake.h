/* turn_fake.h — a fake turn_io_t that records what the state machine would send, and helpers to
 * build requests. Shared by test_turn.c and the turn fuzzer. */
#ifndef STAFFROOM_TURN_FAKE_H
#define STAFFROOM_TURN_FAKE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "turn.h"

#define FAKE_MAX_SENT 64
#define FAKE_MAX_RELAYS 64

typedef struct {
    int to_peer;          /* 0: to a client, 1: to a peer */
    turn_client_t client; /* to_peer == 0 */
    addr_t peer;          /* to_peer == 1 */
    int relay;            /* to_peer == 1: index of the relay socket */
    uint8_t data[2048];
    size_t len;
} fake_sent_t;

typedef struct {
    fake_sent_t sent[FAKE_MAX_SENT];
    int nsent;
    alloc_relay_t *relays[FAKE_MAX_RELAYS]; /* NULL once closed */
    addr_t relay_addr[FAKE_MAX_RELAYS];
    int nrelays, nclosed;
    int fail_bind; /* relay_open answers -EADDRINUSE while > 0 (decremented), -1: always */
} fake_io_t;

static void fake_send_client(void *ctx, const turn_client_t *c, const uint8_t *d, size_t n)
{
    fake_io_t *f = ctx;
    if (f->nsent == FAKE_MAX_SENT)
        return;
    fake_sent_t *s = &f->sent[f->nsent++];
    memset(s, 0, sizeof *s);
    s->client = *c;
    s->len = n < sizeof s->data ? n : sizeof s->data;
    memcpy(s->data, d, s->len);
}

static int fake_relay_open(void *ctx, const addr_t *a, alloc_relay_t *r, void **sock)
{
    fake_io_t *f = ctx;
    if (f->fail_bind) {
        if (f->fail_bind > 0)
            f->fail_bind--;
        return -EADDRINUSE;
    }
    if (f->nrelays == FAKE_MAX_RELAYS)
        return -ENOMEM;
    f->relays[f->nrelays] = r;
    f->relay_addr[f->nrelays] = *a;
    *sock = (void *)(intptr_t)(f->nrelays + 1);
    f->nrelays++;
    return 0;
}

static void fake_relay_close(void *ctx, void *sock)
{
    fake_io_t *f = ctx;
    int i = (int)(intptr_t)sock - 1;
    if (i >= 0 && i < f->nrelays && f->relays[i]) {
        f->relays[i] = NULL;
        f->nclosed++;
    }
}

static void fake_send_peer(void *ctx, void *sock, const addr_t *peer, const uint8_t *d, size_t n)
{
    fake_io_t *f = ctx;
    if (f->nsent == FAKE_MAX_SENT)
        return;
    fake_sent_t *s = &f->sent[f->nsent++];
    memset(s, 0, sizeof *s);
    s->to_peer = 1;
    s->peer = *peer;
    s->relay = (int)(intptr_t)sock - 1;
    s->len = n < sizeof s->data ? n : sizeof s->data;
    memcpy(s->data, d, s->len);
}

static turn_io_t fake_io(fake_io_t *f)
{
    return (turn_io_t){.ctx = f, .send_client = fake_send_client, .relay_open = fake_relay_open,
                       .relay_close = fake_relay_close, .send_peer = fake_send_peer};
}

#endif
