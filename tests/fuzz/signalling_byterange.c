/* signalling_byterange.c — libFuzzer target for the byte-range parsers (byterange.h): any Range value either
 * is refused, or names a range inside the file (first <= last < size); any Content-Range value either is
 * refused, or names first <= last < complete. The input's first 8 bytes are the file size. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byterange.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t fsize = 0;
    if (size >= 8) {
        memcpy(&fsize, data, 8);
        data += 8;
        size -= 8;
    }
    fsize %= (uint64_t)1 << 42; /* up to 4 TiB */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    uint64_t a = 0, b = 0, c = 0;
    int r = byterange_parse(s, fsize, &a, &b);
    if (r == BYTERANGE_OK && !(a <= b && b < fsize))
        abort();
    if (r != BYTERANGE_OK && r != BYTERANGE_NONE && r != BYTERANGE_UNSATISFIABLE && r != BYTERANGE_BAD)
        abort();
    if (byterange_content_range(s, &a, &b, &c) == 0 && !(a <= b && (c == UINT64_MAX || b < c)))
        abort();
    free(s);
    return 0;
}
