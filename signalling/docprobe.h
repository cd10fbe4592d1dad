/* docprobe.h — what an uploaded document really is, judged by its content (never by a file name or a
 * Content-Type): the only module that includes libzip (Debian's libzip).
 *
 * Owns: accepting
 *   - PDF: "%PDF-x.y" at byte 0, and a trailer that holds together: "%%EOF" at the end (only white space
 *     after it), "startxref" before it with an offset inside the file that points at "xref" or at an
 *     "N G obj" (a cross-reference stream) — a PDF cut short has no such end;
 *   - OpenDocument (odt, odp, ods): a ZIP whose first entry "mimetype" names the type exactly, with a
 *     META-INF/manifest.xml;
 *   - Office Open XML (docx, pptx, xlsx): a ZIP whose [Content_Types].xml overrides a part with the main
 *     content type of a document, presentation or workbook, and that part is in the archive (macro-enabled
 *     types are not accepted);
 * and for both ZIP kinds, reading every entry through (CRC checked by libzip) within fixed bounds: at
 * most DOCPROBE_ENTRIES_MAX entries, DOCPROBE_UNZIPPED_MAX bytes once expanded (counted as they are read,
 * not taken from the headers), and no entry over 1 MiB expanding more than DOCPROBE_RATIO_MAX times —
 * a zip bomb is refused before it costs more than that. Encrypted entries are refused.
 * Refusals: "wrong_type" (not a document we take, or a zip bomb) or "broken_file" (the right kind but cut
 * short or damaged), each with a message for the uploader.
 * The work runs on libuv's thread pool, never on the loop.
 * Must not: know the database, HTTP or who owns the file; parse XML beyond finding one attribute.
 */
#ifndef STAFFROOM_DOCPROBE_H
#define STAFFROOM_DOCPROBE_H

#include <uv.h>

#define DOCPROBE_ENTRIES_MAX 10000
#define DOCPROBE_UNZIPPED_MAX (256LL << 20)
#define DOCPROBE_RATIO_MAX 100

typedef struct {
    int ok;            /* 1: a document we accept */
    char code[16];     /* when not ok: "wrong_type" or "broken_file" */
    char message[160]; /* when not ok: for the uploader */
    char mime[96];     /* e.g. "application/pdf" */
    char ext[8];       /* "pdf", "odt", "odp", "ods", "docx", "pptx", "xlsx" */
} docprobe_result_t;

/* Probes the file at path in the calling thread (it blocks: for the thread pool and for tests). */
void docprobe_file(const char *path, docprobe_result_t *out);

/* The result (borrowed for the call) and the caller's priv, on the loop. */
typedef void (*docprobe_cb)(const docprobe_result_t *res, void *priv);
/* Probes path (borrowed, copied) on loop's thread pool; cb is called once, on the loop, never from inside
 * this call. Returns 0, or -1 (out of memory, the pool refused: cb is then never called). */
int docprobe_start(uv_loop_t *loop, const char *path, docprobe_cb cb, void *priv);

#endif
