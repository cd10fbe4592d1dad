/* signalling_docprobe.c — libFuzzer target for the document check (docprobe.h): any bytes either are
 * refused with wrong_type or broken_file and a message, or accepted as one of the seven formats with its
 * media type — never a crash, a hang or a read outside the input. The bytes are handed over as a file
 * (docprobe reads a path), kept in memory: a memfd reopened through /proc/self/fd. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "docprobe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0 && (fd = memfd_create("docprobe-fuzz", MFD_CLOEXEC)) < 0)
        abort();
    if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    docprobe_result_t r;
    docprobe_file(path, &r);
    static const char *const exts[] = {"pdf", "odt", "odp", "ods", "docx", "pptx", "xlsx"};
    if (r.ok) {
        int known = 0;
        for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
            known |= strcmp(r.ext, exts[i]) == 0;
        if (!known || !r.mime[0])
            abort();
    } else if ((strcmp(r.code, "wrong_type") != 0 && strcmp(r.code, "broken_file") != 0) || !r.message[0]) {
        abort();
    }
    return 0;
}
