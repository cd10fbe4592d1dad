/* ivf.c — see ivf.h. */
#include "ivf.h"

#include <stdlib.h>
#include <string.h>

#define IVF_HEADER_LEN 32
#define IVF_FRAME_HEADER_LEN 12
#define IVF_MAX_FILE (64u << 20) /* a test clip, not a film */

static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }
static uint32_t le32(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24; }
static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32; }
static void put16(uint8_t *b, uint16_t v) { b[0] = (uint8_t)v; b[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *b, uint32_t v) { put16(b, (uint16_t)v); put16(b + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *b, uint64_t v) { put32(b, (uint32_t)v); put32(b + 4, (uint32_t)(v >> 32)); }

int ivf_read(const char *path, ivf_file_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    f->data = malloc(IVF_MAX_FILE);
    f->len = f->data ? fread(f->data, 1, IVF_MAX_FILE, fp) : 0;
    fclose(fp);
    if (f->len < IVF_HEADER_LEN || memcmp(f->data, "DKIF", 4) != 0 || memcmp(f->data + 8, "VP80", 4) != 0) {
        snprintf(err, errlen, "%s: not a VP8 IVF file", path);
        goto fail;
    }
    f->width = le16(f->data + 12);
    f->height = le16(f->data + 14);
    f->rate = le32(f->data + 16);
    f->scale = le32(f->data + 20);
    if (!f->rate || !f->scale) {
        snprintf(err, errlen, "%s: time base 0", path);
        goto fail;
    }
    size_t hdr = le16(f->data + 6), cap = 0;
    for (size_t at = hdr < IVF_HEADER_LEN ? IVF_HEADER_LEN : hdr; at < f->len;) {
        if (f->len - at < IVF_FRAME_HEADER_LEN || le32(f->data + at) > f->len - at - IVF_FRAME_HEADER_LEN) {
            snprintf(err, errlen, "%s: frame %zu runs past the end", path, f->nframes);
            goto fail;
        }
        if (f->nframes == cap) {
            cap = cap ? 2 * cap : 64;
            f->offsets = realloc(f->offsets, cap * sizeof *f->offsets);
            f->sizes = realloc(f->sizes, cap * sizeof *f->sizes);
            f->pts = realloc(f->pts, cap * sizeof *f->pts);
            if (!f->offsets || !f->sizes || !f->pts) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
        }
        f->sizes[f->nframes] = le32(f->data + at);
        f->pts[f->nframes] = le64(f->data + at + 4);
        f->offsets[f->nframes] = at + IVF_FRAME_HEADER_LEN;
        at += IVF_FRAME_HEADER_LEN + f->sizes[f->nframes];
        f->nframes++;
    }
    if (!f->nframes) {
        snprintf(err, errlen, "%s: no frames", path);
        goto fail;
    }
    return 0;
fail:
    ivf_file_free(f);
    return -1;
}

void ivf_file_free(ivf_file_t *f)
{
    free(f->data);
    free(f->offsets);
    free(f->sizes);
    free(f->pts);
    memset(f, 0, sizeof *f);
}

int ivf_writer_open(ivf_writer_t *w, const char *path, uint16_t width, uint16_t height, uint32_t rate)
{
    uint8_t h[IVF_HEADER_LEN] = {'D', 'K', 'I', 'F'};
    put16(h + 6, IVF_HEADER_LEN);
    memcpy(h + 8, "VP80", 4);
    put16(h + 12, width);
    put16(h + 14, height);
    put32(h + 16, rate);
    put32(h + 20, 1);
    w->frames = 0;
    w->fp = fopen(path, "wb");
    if (!w->fp)
        return -1;
    return fwrite(h, 1, sizeof h, w->fp) == sizeof h ? 0 : -1;
}

int ivf_writer_add(ivf_writer_t *w, const uint8_t *frame, size_t len, uint64_t pts)
{
    uint8_t h[IVF_FRAME_HEADER_LEN];
    put32(h, (uint32_t)len);
    put64(h + 4, pts);
    if (!w->fp || fwrite(h, 1, sizeof h, w->fp) != sizeof h || fwrite(frame, 1, len, w->fp) != len)
        return -1;
    w->frames++;
    return 0;
}

void ivf_writer_close(ivf_writer_t *w)
{
    if (!w->fp)
        return;
    uint8_t n[4];
    put32(n, w->frames);
    if (fseek(w->fp, 24, SEEK_SET) == 0)
        fwrite(n, 1, sizeof n, w->fp);
    fclose(w->fp);
    w->fp = NULL;
}
