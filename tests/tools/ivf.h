/* ivf.h — the IVF container (the simple VP8 file libvpx and ffmpeg write): a 32-byte file header, then
 * frames of "4-byte size, 8-byte pts, bytes" (all little-endian).
 *
 * Owns: reading an IVF file whole into memory and handing out its frames; writing one, frame by frame,
 * with the frame count patched into the header on close.
 * Must not: know about RTP, VP8's bitstream or the network (tests/tools/sfu_peer.c packetises).
 */
#ifndef STAFFROOM_IVF_H
#define STAFFROOM_IVF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    uint8_t *data; /* owned: the whole file */
    size_t len;
    uint16_t width, height;
    uint32_t rate, scale; /* time base: a pts unit is scale/rate seconds */
    size_t nframes;
    size_t *offsets;      /* owned: where each frame's bytes start */
    uint32_t *sizes;      /* owned */
    uint64_t *pts;        /* owned */
} ivf_file_t;

/* Reads and checks path ("DKIF", a VP8 fourcc, every frame inside the file). Returns 0, or -1 with a
 * reason in err. On success *f owns its buffers: free them with ivf_file_free. */
int ivf_read(const char *path, ivf_file_t *f, char *err, size_t errlen);
void ivf_file_free(ivf_file_t *f);

typedef struct {
    FILE *fp;
    uint32_t frames;
} ivf_writer_t;

/* Creates path with a header saying VP8, width × height and a time base of 1/rate. Returns 0 or -1. */
int ivf_writer_open(ivf_writer_t *w, const char *path, uint16_t width, uint16_t height, uint32_t rate);
/* Appends one frame. Returns 0 or -1. */
int ivf_writer_add(ivf_writer_t *w, const uint8_t *frame, size_t len, uint64_t pts);
/* Patches the frame count and closes; a writer never opened is fine. */
void ivf_writer_close(ivf_writer_t *w);

#endif
