/* nackbuf.c — sent packets in chunks taken on demand, indexed by seq, bodies shared between the legs of
 * a track, answering NACKs. See nackbuf.h. */
#include "nackbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Entries of a new index: a second of a 60-packet/s leg. It doubles (up to the buffer's slots) whenever
 * a store would replace a packet still fresh, so it settles at what max_age_ms of the leg needs. */
#define INDEX_START 64

/* Bytes per chunk. Whole packets or bodies: six or seven of Chromium's video packets, small next to what
 * a video leg sends in max_age_ms, so that what is held beyond it (the chunk being filled, the unused end
 * of each chunk, the oldest chunk until its last bytes go stale) stays a small share. A bound buffer's
 * own bytes are its headers, some 30 to 70 bytes a packet: smaller chunks for them. */
#define CHUNK_BYTES 8192
#define HEAD_CHUNK_BYTES 1024

/* ---- chunks: a byte store whose pieces go stale after max_age_ms ----------------------------------- */

typedef struct {
    uint8_t *mem;       /* size bytes, or NULL while not allocated */
    uint32_t size;      /* chunk_bytes, or more for a piece that did not fit one */
    uint32_t fill;      /* a new number each time the chunk is started again: older refs are gone */
    uint32_t used;
    uint32_t newest_ms; /* when its last piece was stored (modulo 2^32, as every time kept here) */
} chunk_t;

typedef struct {
    chunk_t *c;         /* n cells, grown as chunks are needed; a cell keeps its index for its life */
    size_t n;
    size_t chunk_bytes;
    size_t max_bytes;   /* the bound of held */
    size_t held;        /* bytes of the chunks allocated */
    uint32_t max_age_ms;
    uint32_t last_fill;
    int cur;            /* the cell being appended to, or -1 */
} chunks_t;

/* Where a piece lies: valid while its cell still has that fill (0: nowhere). Its length is the
 * holder's to keep (8 bytes here, so that an index entry is 32). */
typedef struct {
    uint32_t fill;
    uint16_t cell, off;
} ref_t;

static void chunks_init(chunks_t *cs, size_t chunk_bytes, size_t max_bytes, uint32_t max_age_ms)
{
    *cs = (chunks_t){.chunk_bytes = chunk_bytes, .max_bytes = max_bytes, .max_age_ms = max_age_ms, .cur = -1};
}

static void chunks_release(chunks_t *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        free(cs->c[i].mem);
    free(cs->c);
    chunks_init(cs, cs->chunk_bytes, cs->max_bytes, cs->max_age_ms);
}

/* Older than max_age at now (a time before `then` is fresh, as when the caller's clock is not ahead). */
static bool stale(uint32_t max_age_ms, uint32_t then, uint64_t now_ms)
{
    return (int32_t)((uint32_t)now_ms - then) > (int32_t)max_age_ms;
}

static void chunk_drop(chunks_t *cs, chunk_t *c)
{
    cs->held -= c->size;
    free(c->mem);
    *c = (chunk_t){0};
}

/* Starts cell i again under a new number, with at least `need` bytes of room; -1 when out of memory. */
static int chunk_start(chunks_t *cs, size_t i, size_t need)
{
    chunk_t *c = &cs->c[i];
    size_t size = need > cs->chunk_bytes ? need : cs->chunk_bytes;
    if (c->mem && c->size < size)
        chunk_drop(cs, c);
    if (!c->mem) {
        if (!(c->mem = malloc(size)))
            return -1;
        c->size = (uint32_t)size;
        cs->held += size;
    }
    if (++cs->last_fill == 0)
        cs->last_fill = 1; /* after 2^32 fillings: 0 means "no piece" */
    c->fill = cs->last_fill;
    c->used = 0;
    cs->cur = (int)i;
    return 0;
}

/* A cell with no chunk (grown by one if none is free), or -1. */
static int chunk_cell(chunks_t *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        if (!cs->c[i].mem)
            return (int)i;
    if (cs->n >= UINT16_MAX)
        return -1;
    chunk_t *grown = realloc(cs->c, (cs->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    cs->c = grown;
    cs->c[cs->n] = (chunk_t){0};
    return (int)cs->n++;
}

/* The cell to append len bytes to: the current one while it has room; else the oldest if all it holds
 * is stale, else a new one while under the bound, else the oldest anyway (its fresh pieces are lost, as
 * in any bounded buffer). Chunks gone stale beside the one reused are freed: the rate fell. Chunks are
 * filled one after another, so the oldest filling also has the oldest newest piece: if it is fresh, so
 * is every other. -1 when nothing could be allocated. */
static int chunk_for(chunks_t *cs, size_t len, uint64_t now_ms)
{
    if (cs->cur >= 0 && cs->c[cs->cur].used + len <= cs->c[cs->cur].size)
        return cs->cur;
    int oldest = -1;
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].mem && (oldest < 0 || cs->c[i].fill < cs->c[oldest].fill))
            oldest = (int)i;
    if (oldest >= 0 && stale(cs->max_age_ms, cs->c[oldest].newest_ms, now_ms)) {
        for (size_t i = 0; i < cs->n; i++)
            if ((int)i != oldest && cs->c[i].mem && stale(cs->max_age_ms, cs->c[i].newest_ms, now_ms))
                chunk_drop(cs, &cs->c[i]);
        return chunk_start(cs, (size_t)oldest, len) == 0 ? oldest : -1;
    }
    size_t size = len > cs->chunk_bytes ? len : cs->chunk_bytes;
    if (cs->held + size <= cs->max_bytes || oldest < 0) {
        int i = chunk_cell(cs);
        if (i >= 0 && chunk_start(cs, (size_t)i, len) == 0)
            return i;
    }
    return oldest >= 0 && chunk_start(cs, (size_t)oldest, len) == 0 ? oldest : -1;
}

/* Appends p[0..len) (0 < len ≤ UINT16_MAX); 0, or -1 when out of memory. */
static int chunks_put(chunks_t *cs, const uint8_t *p, size_t len, uint64_t now_ms, ref_t *ref)
{
    int i = chunk_for(cs, len, now_ms);
    if (i < 0)
        return -1;
    chunk_t *c = &cs->c[i];
    memcpy(c->mem + c->used, p, len);
    *ref = (ref_t){.fill = c->fill, .cell = (uint16_t)i, .off = (uint16_t)c->used};
    c->used += (uint32_t)len;
    c->newest_ms = (uint32_t)now_ms;
    return 0;
}

/* The piece's bytes, or NULL when its chunk was reused or freed since. */
static const uint8_t *chunks_at(const chunks_t *cs, const ref_t *r)
{
    if (!r->fill || r->cell >= cs->n || cs->c[r->cell].fill != r->fill)
        return NULL;
    return cs->c[r->cell].mem + r->off;
}

/* ---- bodies: what the legs of one track share ------------------------------------------------------ */

struct nackbuf_bodies {
    unsigned refs;
    chunks_t cs;
    ref_t last; /* the piece put last: the next leg's body is compared with it */
    size_t last_len;
};

nackbuf_bodies_t *nackbuf_bodies_new(size_t max_bytes, uint32_t max_age_ms)
{
    if (max_bytes < NACKBUF_MAX_SLOT_SIZE || max_bytes > (size_t)UINT16_MAX * CHUNK_BYTES / 2)
        return NULL;
    nackbuf_bodies_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->refs = 1;
    /* At least two chunks within the bound (a piece larger than a chunk gets one of its size); and few
     * enough that a cell's number fits in 16 bits. */
    size_t cb = CHUNK_BYTES < max_bytes / 2 ? CHUNK_BYTES : max_bytes / 2;
    chunks_init(&b->cs, cb, max_bytes, max_age_ms > INT32_MAX ? INT32_MAX : max_age_ms);
    return b;
}

static nackbuf_bodies_t *bodies_ref(nackbuf_bodies_t *b)
{
    if (b)
        b->refs++;
    return b;
}

void nackbuf_bodies_unref(nackbuf_bodies_t *b)
{
    if (!b || --b->refs > 0)
        return;
    chunks_release(&b->cs);
    free(b);
}

size_t nackbuf_bodies_bytes(const nackbuf_bodies_t *b) { return b->cs.held; }

/* The body p[0..len) in the store: the piece put last when it has the same bytes, else a new piece. */
static int bodies_put(nackbuf_bodies_t *b, const uint8_t *p, size_t len, uint64_t now_ms, ref_t *ref)
{
    const uint8_t *last = chunks_at(&b->cs, &b->last);
    if (last && b->last_len == len && memcmp(last, p, len) == 0) {
        *ref = b->last;
        /* Its chunk must now live as long as this leg's copy would have. */
        b->cs.c[ref->cell].newest_ms = (uint32_t)now_ms;
        return 0;
    }
    if (chunks_put(&b->cs, p, len, now_ms, ref) < 0)
        return -1;
    b->last = *ref;
    b->last_len = len;
    return 0;
}

/* ---- the leg's buffer -------------------------------------------------------------------------------- */

typedef struct {
    uint32_t stored_ms;
    uint32_t resent_ms; /* when it was last resent (if resent) */
    ref_t own;          /* the whole packet, or its first bytes when body_len > 0 */
    ref_t body;         /* the rest, in the bodies store */
    uint16_t own_len;   /* 0: no packet */
    uint16_t body_len;
    uint16_t seq;
    uint8_t resends;    /* times resent (at most NACKBUF_MAX_RESENDS) */
} entry_t;

struct nackbuf {
    size_t nslots, slot_size;
    uint32_t max_age_ms;
    entry_t *index; /* n entries (a power of two ≤ nslots), allocated by the first store */
    size_t n;
    chunks_t own;
    nackbuf_bodies_t *bodies;
};

nackbuf_t *nackbuf_new(size_t slots, size_t slot_size, uint32_t max_age_ms)
{
    /* A power of two that divides 2^16: seq & (slots - 1) then stays one entry per number across the
     * 16-bit wrap. */
    if (slots < 16 || slots > 32768 || (slots & (slots - 1)) != 0 || slot_size == 0 ||
        slot_size > NACKBUF_MAX_SLOT_SIZE)
        return NULL;
    nackbuf_t *nb = calloc(1, sizeof *nb);
    if (!nb)
        return NULL;
    nb->nslots = slots;
    nb->slot_size = slot_size;
    nb->max_age_ms = max_age_ms > INT32_MAX ? INT32_MAX : max_age_ms;
    chunks_init(&nb->own, CHUNK_BYTES, slots * slot_size, nb->max_age_ms);
    nackbuf_clear(nb);
    return nb;
}

void nackbuf_clear(nackbuf_t *nb)
{
    chunks_release(&nb->own);
    /* Whole packets or heads; at least two chunks within the bound, so that the bound is one. */
    size_t want = nb->bodies ? HEAD_CHUNK_BYTES : CHUNK_BYTES;
    nb->own.chunk_bytes = want < nb->own.max_bytes / 2 ? want : nb->own.max_bytes / 2;
    free(nb->index);
    nb->index = NULL;
}

void nackbuf_free(nackbuf_t *nb)
{
    if (!nb)
        return;
    nackbuf_clear(nb);
    nackbuf_bodies_unref(nb->bodies);
    free(nb);
}

void nackbuf_share(nackbuf_t *nb, nackbuf_bodies_t *b)
{
    if (nb->bodies == b)
        return;
    nackbuf_bodies_unref(nb->bodies);
    nb->bodies = bodies_ref(b);
    nackbuf_clear(nb);
}

size_t nackbuf_bytes(const nackbuf_t *nb)
{
    return nb->own.held + nb->own.n * sizeof(chunk_t) + (nb->index ? nb->n * sizeof *nb->index : 0);
}

static entry_t *find(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms);

/* Doubles the index: an entry's place is its seq modulo the size, and entries that differed modulo n
 * differ modulo 2n, so each finds a free place. -1 when out of memory (the index stays as it was). */
static int index_grow(nackbuf_t *nb)
{
    entry_t *grown = calloc(2 * nb->n, sizeof *grown);
    if (!grown)
        return -1;
    for (size_t i = 0; i < nb->n; i++)
        if (nb->index[i].own_len)
            grown[nb->index[i].seq & (2 * nb->n - 1)] = nb->index[i];
    free(nb->index);
    nb->index = grown;
    nb->n *= 2;
    return 0;
}

/* The entry for seq, the index grown first while the packet it would replace is still resendable
 * (below the bound nslots, a store never loses a fresh packet; at it, the one nslots numbers before
 * goes). NULL when the index cannot be allocated. */
static entry_t *entry_for(nackbuf_t *nb, uint16_t seq, uint64_t now_ms)
{
    if (!nb->index) {
        size_t n = INDEX_START < nb->nslots ? INDEX_START : nb->nslots;
        if (!(nb->index = calloc(n, sizeof *nb->index)))
            return NULL;
        nb->n = n;
    }
    for (;;) {
        entry_t *e = &nb->index[seq & (nb->n - 1)];
        if (nb->n >= nb->nslots || !e->own_len || e->seq == seq || !find(nb, e->seq, now_ms) || index_grow(nb) < 0)
            return e;
    }
}

int nackbuf_store(nackbuf_t *nb, const uint8_t *pkt, size_t len, size_t head, uint16_t seq, uint64_t now_ms)
{
    entry_t *e = entry_for(nb, seq, now_ms);
    if (!e)
        return NACKBUF_ERR_NOMEM;
    /* The older packet of this entry is unreachable by seq from now on, whatever happens below. */
    *e = (entry_t){0};
    if (len > nb->slot_size)
        return NACKBUF_ERR_TOO_BIG;
    if (len == 0)
        return 0;
    ref_t own, body = {0};
    size_t own_len = nb->bodies && head > 0 && head < len ? head : len;
    if (own_len < len && bodies_put(nb->bodies, pkt + own_len, len - own_len, now_ms, &body) < 0)
        own_len = len; /* no room for the body: the packet whole in our own chunks */
    if (chunks_put(&nb->own, pkt, own_len, now_ms, &own) < 0)
        return NACKBUF_ERR_NOMEM;
    *e = (entry_t){.stored_ms = (uint32_t)now_ms, .seq = seq, .own = own, .own_len = (uint16_t)own_len};
    if (own_len < len) {
        e->body = body;
        e->body_len = (uint16_t)(len - own_len);
    }
    return 0;
}

/* The entry of seq if its packet is still held and fresh, else NULL. */
static entry_t *find(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms)
{
    if (!nb->index)
        return NULL;
    entry_t *e = &nb->index[seq & (nb->n - 1)];
    if (!e->own_len || e->seq != seq || stale(nb->max_age_ms, e->stored_ms, now_ms) || !chunks_at(&nb->own, &e->own))
        return NULL;
    if (e->body_len && (!nb->bodies || !chunks_at(&nb->bodies->cs, &e->body)))
        return NULL;
    return e;
}

/* Copies the entry's packet into out (cap bytes); its length, or 0 when it does not fit. */
static size_t assemble(const nackbuf_t *nb, const entry_t *e, uint8_t *out, size_t cap)
{
    size_t len = (size_t)e->own_len + e->body_len;
    if (len > cap)
        return 0;
    memcpy(out, chunks_at(&nb->own, &e->own), e->own_len);
    if (e->body_len)
        memcpy(out + e->own_len, chunks_at(&nb->bodies->cs, &e->body), e->body_len);
    return len;
}

size_t nackbuf_get(const nackbuf_t *nb, uint16_t seq, uint64_t now_ms, uint8_t *out, size_t cap)
{
    entry_t *e = find(nb, seq, now_ms);
    return e ? assemble(nb, e, out, cap) : 0;
}

size_t nackbuf_answer(nackbuf_t *nb, const uint16_t *seqs, size_t n, uint64_t now_ms,
                      nackbuf_send_fn send, void *ctx, size_t *missed)
{
    size_t sent = 0, miss = 0;
    uint8_t pkt[NACKBUF_MAX_SLOT_SIZE];
    for (size_t k = 0; k < n; k++) {
        entry_t *e = find(nb, seqs[k], now_ms);
        if (!e) {
            miss++;
            continue;
        }
        if (e->resends && (int32_t)((uint32_t)now_ms - e->resent_ms) < NACKBUF_MIN_RESEND_MS)
            continue; /* asked again before our answer could arrive (or twice in one NACK) */
        if (e->resends >= NACKBUF_MAX_RESENDS)
            continue; /* lost that often, the path is dropping what we add: more copies only feed the loss */
        if (!send(ctx, pkt, assemble(nb, e, pkt, sizeof pkt)))
            break; /* the caller's budget is spent: the rest of this NACK waits for the next one */
        e->resends++;
        e->resent_ms = (uint32_t)now_ms;
        sent++;
    }
    if (missed)
        *missed = miss;
    return sent;
}
