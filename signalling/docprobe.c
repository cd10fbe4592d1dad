/* docprobe.c — see docprobe.h. A PDF is judged by its first and last KiB; a ZIP is opened by libzip, told
 * apart by the entries that name its type, then read through within the bounds of docprobe.h. */
#include "docprobe.h"
#include "filecheck.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

/* How much of each end of a PDF is looked at: "%%EOF" and "startxref <n>" sit in the last few bytes. */
#define PDF_TAIL 1024
/* [Content_Types].xml is a few KiB in real files; a larger one is read this far only. */
#define TYPES_MAX (256 * 1024)
/* An entry may expand this much before its ratio is judged (small files compress oddly). */
#define RATIO_FREE (1 << 20)
#define READ_PIECE (64 * 1024)

#define WRONG_TYPE_MSG "not a document we take: upload PDF, OpenDocument (odt, odp, ods) or Office (docx, pptx, xlsx)"
#define BROKEN_MSG "the document is incomplete or damaged (was the upload cut short?)"

static void refuse(docprobe_result_t *out, const char *code, const char *message)
{
    out->ok = 0;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "%s", message);
}

static void take(docprobe_result_t *out, const char *mime, const char *ext)
{
    out->ok = 1;
    snprintf(out->mime, sizeof out->mime, "%s", mime);
    snprintf(out->ext, sizeof out->ext, "%s", ext);
}

/* ---------------- PDF (ISO 32000-1, 7.5.2 header, 7.5.5 trailer) ---------------- */

static int pdf_space(char c) { return c == ' ' || c == '\r' || c == '\n' || c == '\t' || c == '\f' || c == '\0'; }

/* The last occurrence of needle in the n bytes at hay, or NULL. */
static const char *last_of(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = n >= k ? n - k + 1 : 0; i-- > 0;)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

/* 1 if the bytes at p (n of them) start a cross-reference table ("xref") or an indirect object "N G obj"
 * (PDF 1.5 cross-reference streams). */
static int pdf_xref_at(const char *p, size_t n)
{
    if (n >= 4 && memcmp(p, "xref", 4) == 0)
        return 1;
    size_t i = 0;
    for (int part = 0; part < 2; part++) {
        size_t start = i;
        while (i < n && isdigit((unsigned char)p[i]))
            i++;
        if (i == start || i >= n || !pdf_space(p[i]))
            return 0;
        while (i < n && pdf_space(p[i]))
            i++;
    }
    return i + 3 <= n && memcmp(p + i, "obj", 3) == 0;
}

/* The file (fd, size bytes) starts "%PDF-": accepts it, or refuses it as broken. */
static void pdf_check(int fd, uint64_t size, docprobe_result_t *out)
{
    char tail[PDF_TAIL + 1];
    size_t n = size < PDF_TAIL ? (size_t)size : PDF_TAIL;
    if (pread(fd, tail, n, (off_t)(size - n)) != (ssize_t)n) {
        refuse(out, "broken_file", BROKEN_MSG);
        return;
    }
    tail[n] = '\0';
    const char *eof = last_of(tail, n, "%%EOF");
    int ends = eof != NULL;
    for (const char *p = eof ? eof + 5 : tail; ends && p < tail + n; p++)
        ends = pdf_space(*p);
    const char *sx = eof ? last_of(tail, (size_t)(eof - tail), "startxref") : NULL;
    if (!ends || !sx) {
        refuse(out, "broken_file", "the PDF has no end (no %%EOF trailer): was the upload cut short?");
        return;
    }
    char *end;
    unsigned long long at = strtoull(sx + 9, &end, 10);
    if (end == sx + 9 || at >= size) {
        refuse(out, "broken_file", "the PDF's trailer points outside the file: it is damaged or cut short");
        return;
    }
    char xref[40];
    ssize_t got = pread(fd, xref, sizeof xref, (off_t)at);
    if (got <= 0 || !pdf_xref_at(xref, (size_t)got)) {
        refuse(out, "broken_file", "the PDF's cross-reference table is missing: it is damaged or cut short");
        return;
    }
    take(out, "application/pdf", "pdf");
}

/* ---------------- ZIP: OpenDocument and Office Open XML ---------------- */

static const struct {
    const char *mimetype, *ext;
} odf_types[] = {
    {"application/vnd.oasis.opendocument.text", "odt"},
    {"application/vnd.oasis.opendocument.presentation", "odp"},
    {"application/vnd.oasis.opendocument.spreadsheet", "ods"},
};

/* ECMA-376 Part 2: the content type of each kind's main part, and the document's own media type. */
static const struct {
    const char *main, *mime, *ext;
} ooxml_types[] = {
    {"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
    {"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
     "application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"},
    {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
};

/* Reads up to cap bytes of entry i into buf (NUL-terminated; cap + 1 bytes). Bytes read, or -1. */
static zip_int64_t entry_read(zip_t *z, zip_uint64_t i, char *buf, size_t cap)
{
    zip_file_t *f = zip_fopen_index(z, i, 0);
    if (!f)
        return -1;
    zip_int64_t n = 0, r = 0;
    while ((size_t)n < cap && (r = zip_fread(f, buf + n, cap - (size_t)n)) > 0)
        n += r;
    zip_fclose(f);
    if (r < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* The value of attribute name in the element around text[at] (the element's '<' before it, its '>'
 * after), copied into out. 0, or -1 if there is none. */
static int attr_near(const char *text, size_t at, const char *name, char *out, size_t cap)
{
    size_t start = at, end = at;
    while (start > 0 && text[start] != '<')
        start--;
    while (text[end] && text[end] != '>')
        end++;
    size_t k = strlen(name);
    for (size_t i = start + 1; i + k + 2 < end; i++) {
        if (memcmp(text + i, name, k) != 0 || !isspace((unsigned char)text[i - 1]) || text[i + k] != '=')
            continue;
        char q = text[i + k + 1];
        if (q != '"' && q != '\'')
            continue;
        const char *v = text + i + k + 2, *close = memchr(v, q, (size_t)(text + end - v));
        if (!close || (size_t)(close - v) >= cap)
            return -1;
        memcpy(out, v, (size_t)(close - v));
        out[close - v] = '\0';
        return 0;
    }
    return -1;
}

/* Which Office Open XML kind [Content_Types].xml (entry i) declares, checking that its main part is in
 * the archive. Index into ooxml_types, or -1 after refuse(). */
static int ooxml_kind(zip_t *z, zip_uint64_t i, docprobe_result_t *out)
{
    char *types = malloc(TYPES_MAX + 1);
    if (!types || entry_read(z, i, types, TYPES_MAX) < 0) {
        free(types);
        refuse(out, "broken_file", BROKEN_MSG);
        return -1;
    }
    int kind = -1;
    char part[512];
    for (size_t t = 0; t < sizeof ooxml_types / sizeof ooxml_types[0] && kind < 0; t++) {
        for (const char *q = "\"'"; *q && kind < 0; q++) {
            char needle[160];
            snprintf(needle, sizeof needle, "ContentType=%c%s%c", *q, ooxml_types[t].main, *q);
            const char *hit = strstr(types, needle);
            if (hit && attr_near(types, (size_t)(hit - types), "PartName", part, sizeof part) == 0)
                kind = (int)t;
        }
    }
    free(types);
    if (kind < 0) {
        refuse(out, "wrong_type", "an Office file, but not a document, presentation or workbook we take "
                                  "(macro-enabled files are refused)");
        return -1;
    }
    /* part names are absolute inside the package ("/word/document.xml"); ZIP entry names are not */
    if (zip_name_locate(z, part[0] == '/' ? part + 1 : part, 0) < 0) {
        refuse(out, "broken_file", "the Office file's main part is missing: it is damaged");
        return -1;
    }
    return kind;
}

/* An OpenDocument's kind from its first entry "mimetype" (ODF 1.2 Part 3, 3.3). Index into odf_types,
 * -2 if the archive has no such entry (not ODF), -1 after refuse(). */
static int odf_kind(zip_t *z, docprobe_result_t *out)
{
    const char *first = zip_get_name(z, 0, 0);
    if (!first || strcmp(first, "mimetype") != 0)
        return -2;
    char type[128];
    if (entry_read(z, 0, type, sizeof type - 1) < 0) {
        refuse(out, "broken_file", BROKEN_MSG);
        return -1;
    }
    for (size_t t = 0; t < sizeof odf_types / sizeof odf_types[0]; t++) {
        if (strcmp(type, odf_types[t].mimetype) != 0)
            continue;
        if (zip_name_locate(z, "META-INF/manifest.xml", 0) < 0) {
            refuse(out, "broken_file", "the OpenDocument file has no manifest: it is damaged");
            return -1;
        }
        return (int)t;
    }
    refuse(out, "wrong_type", "an OpenDocument file, but not a text, presentation or spreadsheet");
    return -1;
}

/* Every entry read through: the bounds of docprobe.h, and libzip's CRC check at each entry's end.
 * 0, or -1 after refuse(). */
static int zip_read_all(zip_t *z, zip_int64_t entries, docprobe_result_t *out)
{
    char *buf = malloc(READ_PIECE);
    if (!buf) {
        refuse(out, "broken_file", "out of memory while reading the document");
        return -1;
    }
    long long total = 0;
    int rc = 0;
    for (zip_int64_t i = 0; i < entries && rc == 0; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) < 0) {
            refuse(out, "broken_file", BROKEN_MSG);
            rc = -1;
            break;
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
            refuse(out, "wrong_type", "the document is encrypted: upload it without a password");
            rc = -1;
            break;
        }
        zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
        if (!f) {
            refuse(out, "broken_file", BROKEN_MSG);
            rc = -1;
            break;
        }
        /* counted as read: a header may understate what an entry expands to */
        long long mine = 0, comp = (st.valid & ZIP_STAT_COMP_SIZE) ? (long long)st.comp_size : 0;
        zip_int64_t r;
        while ((r = zip_fread(f, buf, READ_PIECE)) > 0) {
            mine += r;
            total += r;
            if (total > DOCPROBE_UNZIPPED_MAX ||
                (mine > RATIO_FREE && mine / (comp > 0 ? comp : 1) > DOCPROBE_RATIO_MAX)) {
                refuse(out, "wrong_type", "the archive expands far beyond its size (a zip bomb?): refused");
                rc = -1;
                break;
            }
        }
        if (rc == 0 && r < 0) {
            refuse(out, "broken_file", BROKEN_MSG);
            rc = -1;
        }
        zip_fclose(f);
    }
    free(buf);
    return rc;
}

static void zip_check(const char *path, docprobe_result_t *out)
{
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
        /* it began like a ZIP: one that libzip cannot open is cut short (the directory is at the end) */
        refuse(out, "broken_file", BROKEN_MSG);
        return;
    }
    zip_int64_t entries = zip_get_num_entries(z, 0);
    if (entries <= 0 || entries > DOCPROBE_ENTRIES_MAX) {
        refuse(out, "wrong_type", entries <= 0 ? WRONG_TYPE_MSG : "the archive has too many entries for a document");
        zip_discard(z);
        return;
    }
    int odf = odf_kind(z, out);
    if (odf == -1) {
        zip_discard(z);
        return;
    }
    zip_int64_t types = odf >= 0 ? -1 : zip_name_locate(z, "[Content_Types].xml", 0);
    int ooxml = -1;
    if (odf < 0) {
        if (types < 0) {
            refuse(out, "wrong_type", "a ZIP archive, but not an OpenDocument or Office file");
            zip_discard(z);
            return;
        }
        if ((ooxml = ooxml_kind(z, (zip_uint64_t)types, out)) < 0) {
            zip_discard(z);
            return;
        }
    }
    if (zip_read_all(z, entries, out) == 0) {
        if (odf >= 0)
            take(out, odf_types[odf].mimetype, odf_types[odf].ext);
        else
            take(out, ooxml_types[ooxml].mime, ooxml_types[ooxml].ext);
    }
    zip_discard(z); /* read only: nothing to write back */
}

void docprobe_file(const char *path, docprobe_result_t *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        refuse(out, "broken_file", "the document could not be read");
        return;
    }
    char head[8] = {0};
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n >= 8 && memcmp(head, "%PDF-", 5) == 0 && isdigit((unsigned char)head[5]) && head[6] == '.' &&
        isdigit((unsigned char)head[7]))
        pdf_check(fd, (uint64_t)st.st_size, out);
    else if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        zip_check(path, out);
    else
        refuse(out, "wrong_type", WRONG_TYPE_MSG);
    close(fd);
}

/* What a queued check carries (filecheck.h copies it into the job): the result and whom to tell. */
typedef struct {
    docprobe_result_t res;
    docprobe_cb cb;
    void *priv;
} check_t;

static void check_run(const char *path, void *ctx)
{
    docprobe_file(path, &((check_t *)ctx)->res);
}

static void check_done(void *ctx, int cancelled)
{
    check_t *c = ctx;
    if (cancelled)
        refuse(&c->res, "broken_file", "the server is stopping");
    c->cb(&c->res, c->priv);
}

int docprobe_start(uv_loop_t *loop, const char *path, docprobe_cb cb, void *priv)
{
    check_t c = {.cb = cb, .priv = priv};
    return filecheck_start(loop, path, &c, sizeof c, check_run, check_done);
}
