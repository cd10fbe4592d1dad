/* replay_main.c — runs a libFuzzer target's LLVMFuzzerTestOneInput over every file of a corpus
 * directory (argv[1]), without libFuzzer, so `make test` replays the corpora under ASan/UBSan.
 * Prints TAP: "1..1" and "ok 1 - replay DIR: N inputs" (a crash aborts before the "ok").
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    printf("1..1\n");
    fflush(stdout);
    DIR *d = opendir(argv[1]);
    if (!d) {
        printf("not ok 1 - replay %s: cannot open directory\n", argv[1]);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown)
            break;
        names = grown;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    size_t runs = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
        free(names[i]);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        if (!f) {
            bad = 1;
            continue;
        }
        /* An exactly sized heap copy: ASan sees any read past the input. */
        uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        runs++;
    }
    free(names);
    if (bad || runs == 0) {
        printf("not ok 1 - replay %s: %zu inputs%s\n", argv[1], runs, bad ? ", unreadable files" : "");
        return 1;
    }
    printf("ok 1 - replay %s: %zu inputs\n", argv[1], runs);
    return 0;
}
