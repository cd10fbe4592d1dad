/* nackbuf.c — sent packets in chunks taken on demand, indexed by seq, answering NACKs. See nackbuf.h. */
#include "nackbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes per chunk: six or seven of Chromium's video packets. Small next to what a video leg sends in
 * max_age_ms, so that what is held beyond that second (the chunk being filled, the unused end of each
 * chunk, the oldest chunk until its last packet goes stale) stays a small share. */
#define CHUNK_BYTES 8192

typedef struct {
    uint32_t fill;      /* the filling of its chunk that holds the bytes (0: no packet) */
    uint32_t stored_ms; /* modulo 2^32, as every time kept here */
    uint32_t resent_ms; /* when it was last resent (if resent) */
    uint16_t seq, len, off, chunk;
    bool resent;
} entry_t;

typedef struct {
    uint8_t *mem;       /* chunk_bytes, or NULL while not allocated */
    uint32_t fill;      /* a new number each time the chunk is started again: older entries are gone */
    uint32_t used;
    uint32_t newest_ms; /* when its last packet was stored */
} chunk_t;

struct nackbuf {
    size_t nslots, slot_size, chunk_bytes, nchunks;
    uint32_t max_age_ms;
    uint32_t last_fill;
    entry_t *index;  /* nslots entries, allocated by the first store */
    chunk_t *chunks; /* nchunks, allocated with index */
    chunk_t *cur;    /* being appended to, or NULL */
    size_t held;     /* bytes of the chunks allocated */
};

nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms)
{
    /* A power of two that divides 2^16: seq & (slots - 1) then stays one entry per number across the
     * 16-bit wrap. */
    if (slots < 16 || slots > 32768 || (slots & (slots - 1)) != 0 || slot_size == 0 || slot_size > 65535)
        return NULL;
    nackbuf_t *nb = calloc(1, sizeof *nb);
    if (!nb)
        return NULL;
    nb->nslots = slots;
    nb->slot_size = slot_size;
    nb->max_age_ms = max_age_ms > INT32_MAX ? INT32_MAX : max_age_ms;
    /* The bound slots × slot_size in at least two chunks, each holding the largest packet, and few
     * enough that a chunk's number and a packet's offset in it fit in 16 bits. */
    size_t cap = slots * slot_size;
    size_t cb = CHUNK_BYTES < cap / 2 ? CHUNK_BYTES : cap / 2;
    if (cb < slot_size)
        cb = slot_size;
    if (cb < (cap + 65534) / 65535)
        cb = (cap + 65534) / 65535;
    nb->chunk_bytes = cb;
    nb->nchunks = (cap + cb - 1) / cb;
    return nb;
}

/* Every chunk's memory back; entries that pointed into it no longer match (fill 0). */
static void release_chunks(nackbuf_t *nb)
{
    for (size_t i = 0; nb->chunks && i < nb->nchunks; i++) {
        free(nb->chunks[i].mem);
        nb->chunks[i] = (chunk_t){0};
    }
    nb->cur = NULL;
    nb->held = 0;
}

void nackbuf_free(nackbuf_t *nb)
{
    if (!nb)
        return;
    release_chunks(nb);
    free(nb->chunks);
    free(nb->index);
    free(nb);
}

void nackbuf_clear(nackbuf_t *nb)
{
    release_chunks(nb);
    free(nb->chunks);
    free(nb->index);
    nb->chunks = NULL;
    nb->index = NULL;
}

size_t nackbuf_bytes(const nackbuf_t *nb)
{
    size_t index = nb->index ? nb->nslots * sizeof *nb->index + nb->nchunks * sizeof *nb->chunks : 0;
    return nb->held + index;
}

/* Older than max_age at now (a time before `then` is fresh, as when the caller's clock is not ahead). */
static bool stale(const nackbuf_t *nb, uint32_t then, uint64_t now_ms)
{
    return (int32_t)((uint32_t)now_ms - then) > (int32_t)nb->max_age_ms;
}

/* Starts chunk c (allocated) again under a new number. */
static chunk_t *start(nackbuf_t *nb, chunk_t *c)
{
    if (++nb->last_fill == 0)
        nb->last_fill = 1; /* after 2^32 fillings: 0 means "no packet" */
    c->fill = nb->last_fill;
    c->used = 0;
    nb->cur = c;
    return c;
}

/* The chunk to append len bytes to: the current one while it has room; else the oldest if all it holds
 * is stale, else a new one while under the bound, else the oldest anyway (its fresh packets are lost, as
 * in any bounded buffer). Chunks gone stale beside the one reused are freed: the leg's rate fell. NULL
 * when nothing could be allocated. Chunks are filled one after another, so the oldest filling also has
 * the oldest newest packet: if it is fresh, so is every other. */
static chunk_t *chunk_for(nackbuf_t *nb, size_t len, uint64_t now_ms)
{
    if (nb->cur && nb->cur->used + len <= nb->chunk_bytes)
        return nb->cur;
    chunk_t *oldest = NULL, *unused = NULL;
    for (size_t i = 0; i < nb->nchunks; i++) {
        chunk_t *c = &nb->chunks[i];
        if (!c->mem)
            unused = unused ? unused : c;
        else if (!oldest || c->fill < oldest->fill)
            oldest = c;
    }
    if (oldest && stale(nb, oldest->newest_ms, now_ms)) {
        for (size_t i = 0; i < nb->nchunks; i++) {
            chunk_t *c = &nb->chunks[i];
            if (c != oldest && c->mem && stale(nb, c->newest_ms, now_ms)) {
                free(c->mem);
                *c = (chunk_t){0};
                nb->held -= nb->chunk_bytes;
            }
        }
        return start(nb, oldest);
    }
    if (unused && (unused->mem = malloc(nb->chunk_bytes)) != NULL) {
        nb->held += nb->chunk_bytes;
        return start(nb, unused);
    }
    return oldest ? start(nb, oldest) : NULL;
}

int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, uint16_t seq, uint64_t now_ms)
{
    if (!nb->index) {
        nb->index = calloc(nb->nslots, sizeof *nb->index);
        nb->chunks = calloc(nb->nchunks, sizeof *nb->chunks);
        if (!nb->index || !nb->chunks) {
            nackbuf_clear(nb);
            return NACKBUF_ERR_NOMEM;
        }
    }
    entry_t *e = &nb->index[seq & (nb->nslots - 1)];
    /* The older packet of this entry is unreachable by seq from now on, whatever happens below. */
    e->fill = 0;
    if (len > nb->slot_size)
        return NACKBUF_ERR_TOO_BIG;
    chunk_t *c = chunk_for(nb, len, now_ms);
    if (!c)
        return NACKBUF_ERR_NOMEM;
    memcpy(c->mem + c->used, pkt, len);
    *e = (entry_t){.fill = c->fill, .stored_ms = (uint32_t)now_ms, .seq = seq, .len = (uint16_t)len,
                   .off = (uint16_t)c->used, .chunk = (uint16_t)(c - nb->chunks)};
    c->used += (uint32_t)len;
    c->newest_ms = (uint32_t)now_ms;
    return 0;
}

/* The entry of seq if its packet is still held and fresh, else NULL. */
static entry_t *find(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms)
{
    if (!nb->index)
        return NULL;
    entry_t *e = &nb->index[seq & (nb->nslots - 1)];
    if (!e->fill || e->seq != seq || nb->chunks[e->chunk].fill != e->fill)
        return NULL;
    if (stale(nb, e->stored_ms, now_ms))
        return NULL;
    return e;
}

static const uint8_t *bytes_of(const nackbuf_t *nb, const entry_t *e)
{
    return nb->chunks[e->chunk].mem + e->off;
}

const uint8_t *nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, size_t *len)
{
    entry_t *e = find(nb, seq, now_ms);
    if (!e)
        return NULL;
    *len = e->len;
    return bytes_of(nb, e);
}

size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed)
{
    size_t sent = 0, miss = 0;
    for (size_t k = 0; k < n; k++) {
        entry_t *e = find(nb, seqs[k], now_ms);
        if (!e) {
            miss++;
            continue;
        }
        if (e->resent && (int32_t)((uint32_t)now_ms - e->resent_ms) < NACKBUF_MIN_RESEND_MS)
            continue; /* asked again before our answer could arrive (or twice in one NACK) */
        e->resent = true;
        e->resent_ms = (uint32_t)now_ms;
        send(ctx, bytes_of(nb, e), e->len);
        sent++;
    }
    if (missed)
        *missed = miss;
    return sent;
}
