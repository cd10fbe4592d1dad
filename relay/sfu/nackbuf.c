/* nackbuf.c — fixed-slot ring of sent packets, answering NACKs. See nackbuf.h. */
#include "nackbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    uint16_t seq;
    uint16_t len;
    uint64_t stored_ms;
    uint64_t resent_ms; /* when it was last resent (if resent) */
    bool resent;
} slot_t;

struct nackbuf {
    size_t nslots, slot_size;
    uint32_t max_age_ms;
    slot_t *slots;
    uint8_t *bytes; /* nslots × slot_size */
};

nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms)
{
    /* A power of two that divides 2^16: seq & (slots - 1) then stays one slot per number across the
     * 16-bit wrap. */
    if (slots < 16 || slots > 32768 || (slots & (slots - 1)) != 0 || slot_size == 0 || slot_size > 65535)
        return NULL;
    nackbuf_t *nb = calloc(1, sizeof *nb);
    if (!nb)
        return NULL;
    nb->nslots = slots;
    nb->slot_size = slot_size;
    nb->max_age_ms = max_age_ms;
    nb->slots = calloc(slots, sizeof *nb->slots);
    nb->bytes = malloc(slots * slot_size);
    if (!nb->slots || !nb->bytes) {
        nackbuf_free(nb);
        return NULL;
    }
    return nb;
}

void nackbuf_free(nackbuf_t *nb)
{
    if (!nb)
        return;
    free(nb->slots);
    free(nb->bytes);
    free(nb);
}

void nackbuf_clear(nackbuf_t *nb)
{
    memset(nb->slots, 0, nb->nslots * sizeof *nb->slots);
}

int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, uint16_t seq, uint64_t now_ms)
{
    size_t i = seq & (nb->nslots - 1);
    if (len > nb->slot_size) {
        /* The older packet in this slot is now unreachable by seq anyway; forget it so that a NACK
         * for this seq does not get it. */
        nb->slots[i].used = false;
        return NACKBUF_ERR_TOO_BIG;
    }
    slot_t *s = &nb->slots[i];
    memcpy(nb->bytes + i * nb->slot_size, pkt, len);
    s->used = true;
    s->seq = seq;
    s->len = (uint16_t)len;
    s->stored_ms = now_ms;
    s->resent = false;
    s->resent_ms = 0;
    return 0;
}

/* The slot holding seq if it is still fresh, else NULL. */
static slot_t *find(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms)
{
    slot_t *s = &nb->slots[seq & (nb->nslots - 1)];
    if (!s->used || s->seq != seq)
        return NULL;
    if (now_ms > s->stored_ms && now_ms - s->stored_ms > nb->max_age_ms)
        return NULL;
    return s;
}

const uint8_t *nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, size_t *len)
{
    slot_t *s = find(nb, seq, now_ms);
    if (!s)
        return NULL;
    *len = s->len;
    return nb->bytes + (size_t)(s - nb->slots) * nb->slot_size;
}

size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed)
{
    size_t sent = 0, miss = 0;
    for (size_t k = 0; k < n; k++) {
        slot_t *s = find(nb, seqs[k], now_ms);
        if (!s) {
            miss++;
            continue;
        }
        if (s->resent && now_ms < s->resent_ms + NACKBUF_MIN_RESEND_MS)
            continue; /* asked again before our answer could arrive (or twice in one NACK) */
        s->resent = true;
        s->resent_ms = now_ms;
        send(ctx, nb->bytes + (size_t)(s - nb->slots) * nb->slot_size, s->len);
        sent++;
    }
    if (missed)
        *missed = miss;
    return sent;
}
