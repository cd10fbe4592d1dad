/* test_docprobe.c — docprobe_file on documents written here (PDFs byte by byte, ZIPs with libzip into
 * files): the edges of the PDF trailer rule (a cross-reference stream, white space or junk after %%EOF,
 * startxref past the end or at no xref), ZIPs that are not what they claim (mimetype not first, an
 * OpenDocument without its manifest, a main part given with single quotes, a bomb in one entry, junk
 * that starts like a ZIP), and files too short to be anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "docprobe.h"

static char dir[] = "/tmp/docprobe-XXXXXX";

static const char *at(const char *name)
{
    static char p[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(at(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_str(const char *name, const char *text) { write_file(name, text, strlen(text)); }

static docprobe_result_t probe(const char *name)
{
    docprobe_result_t r;
    docprobe_file(at(name), &r);
    return r;
}

/* A PDF whose body is `body` (objects), with "startxref <xref>" and then `end` after it; xref < 0: the
 * offset where the body ends (where a table would start). */
static void pdf(const char *name, const char *body, long xref, const char *end)
{
    char text[2048];
    size_t head = (size_t)snprintf(text, sizeof text, "%%PDF-1.7\n%s", body);
    snprintf(text + head, sizeof text - head, "startxref\n%ld\n%s", xref < 0 ? (long)head : xref, end);
    write_file(name, text, strlen(text));
}

static void pdf_trailers(void **state)
{
    (void)state;
    const char *table = "1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    char body[512];
    snprintf(body, sizeof body, "%sxref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Root 1 0 R >>\n", table);
    /* the table begins right after the object: point startxref there */
    char text[1024];
    int n = snprintf(text, sizeof text, "%%PDF-1.7\n%s", body);
    long xref = (long)(strstr(text, "xref") - text);
    assert_true(n > 0);
    pdf("table.pdf", body, xref, "%%EOF\n");
    docprobe_result_t r = probe("table.pdf");
    assert_int_equal(r.ok, 1);
    assert_string_equal(r.mime, "application/pdf");
    assert_string_equal(r.ext, "pdf");
    /* a cross-reference stream (PDF 1.5): startxref points at "N 0 obj" */
    pdf("stream.pdf", "12 0 obj\n<< /Type /XRef /Size 13 >>\nstream\nendstream\nendobj\n", 9, "%%EOF\r\n \n");
    assert_int_equal(probe("stream.pdf").ok, 1);
    /* junk after %%EOF: something was appended or the end is not where it seems */
    pdf("junk.pdf", body, xref, "%%EOF\n<script>alert(1)</script>\n");
    r = probe("junk.pdf");
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "broken_file");
    /* startxref past the end, or at something that is no cross-reference */
    pdf("past.pdf", body, 100000, "%%EOF\n");
    assert_string_equal(probe("past.pdf").code, "broken_file");
    pdf("nowhere.pdf", body, 2, "%%EOF\n");
    assert_string_equal(probe("nowhere.pdf").code, "broken_file");
    /* no trailer at all: cut short */
    write_file("cut.pdf", text, (size_t)n / 2);
    assert_string_equal(probe("cut.pdf").code, "broken_file");
}

static void too_short_or_foreign(void **state)
{
    (void)state;
    write_str("empty.pdf", "");
    assert_string_equal(probe("empty.pdf").code, "wrong_type");
    write_str("short.pdf", "%PDF-");
    assert_string_equal(probe("short.pdf").code, "wrong_type");
    write_str("page.pdf", "<html><body>hello</body></html>");
    docprobe_result_t r = probe("page.pdf");
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "wrong_type");
    assert_non_null(strstr(r.message, "PDF"));
    write_str("fake.zip", "PK\x03\x04 not really a zip at all");
    assert_string_equal(probe("fake.zip").code, "broken_file");
    assert_string_equal(probe("missing-file").code, "broken_file");
}

/* Writes a ZIP of (name, text) pairs; a NULL text is `big` zero bytes instead. */
static void zipfile(const char *name, const char *const *entries, size_t big)
{
    int err = 0;
    zip_t *z = zip_open(at(name), ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (size_t i = 0; entries[i]; i += 2) {
        const char *text = entries[i + 1];
        void *data = text ? strdup(text) : calloc(1, big);
        size_t len = text ? strlen(text) : big;
        zip_source_t *src = zip_source_buffer(z, data, len, 1);
        assert_non_null(src);
        zip_int64_t idx = zip_file_add(z, entries[i], src, ZIP_FL_OVERWRITE);
        assert_true(idx >= 0);
        if (strcmp(entries[i], "mimetype") == 0)
            zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_STORE, 0);
    }
    assert_int_equal(zip_close(z), 0);
}

#define DOCX_MAIN "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
#define ODT "application/vnd.oasis.opendocument.text"

static void zips(void **state)
{
    (void)state;
    const char *docx[] = {"[Content_Types].xml",
                          "<Types><Override ContentType='" DOCX_MAIN "' PartName='/word/document.xml'/></Types>",
                          "word/document.xml", "<w:document/>", NULL};
    zipfile("quotes.docx", docx, 0);
    docprobe_result_t r = probe("quotes.docx");
    assert_int_equal(r.ok, 1);
    assert_string_equal(r.ext, "docx");
    assert_string_equal(r.mime, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");

    const char *odt[] = {"mimetype", ODT, "META-INF/manifest.xml", "<manifest/>", "content.xml", "<c/>", NULL};
    zipfile("ok.odt", odt, 0);
    r = probe("ok.odt");
    assert_int_equal(r.ok, 1);
    assert_string_equal(r.ext, "odt");
    assert_string_equal(r.mime, ODT);

    const char *nomanifest[] = {"mimetype", ODT, "content.xml", "<c/>", NULL};
    zipfile("nomanifest.odt", nomanifest, 0);
    assert_string_equal(probe("nomanifest.odt").code, "broken_file");

    /* ODF 1.2 Part 3, 3.3: mimetype must come first; elsewhere it names nothing */
    const char *late[] = {"content.xml", "<c/>", "mimetype", ODT, "META-INF/manifest.xml", "<m/>", NULL};
    zipfile("late.odt", late, 0);
    assert_string_equal(probe("late.odt").code, "wrong_type");

    /* a PartName that is only a prefix of the attribute name does not count */
    const char *prefix[] = {"[Content_Types].xml", "<Override XPartName=\"/word/document.xml\" ContentType=\"" DOCX_MAIN "\"/>",
                            "word/document.xml", "<w:document/>", NULL};
    zipfile("prefix.docx", prefix, 0);
    assert_string_equal(probe("prefix.docx").code, "wrong_type");

    /* one entry of 8 MiB of zeros: far past the ratio */
    const char *bomb[] = {"[Content_Types].xml", docx[1], "word/document.xml", "<w:document/>", "word/fill.bin", NULL, NULL};
    zipfile("bomb.docx", bomb, 8 << 20);
    r = probe("bomb.docx");
    assert_int_equal(r.ok, 0);
    assert_string_equal(r.code, "wrong_type");
    assert_non_null(strstr(r.message, "zip bomb"));
    /* the same size of text that really varies is a document */
    char *varied = malloc(2 << 20);
    assert_non_null(varied);
    uint32_t x = 12345;
    for (size_t i = 0; i < (2u << 20) - 1; i++) {
        x = x * 1103515245u + 12345u;
        varied[i] = (char)('a' + (x >> 16) % 26);
    }
    varied[(2u << 20) - 1] = '\0';
    const char *big[] = {"[Content_Types].xml", docx[1], "word/document.xml", varied, NULL};
    zipfile("big.docx", big, 0);
    assert_int_equal(probe("big.docx").ok, 1);
    free(varied);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pdf_trailers),
        cmocka_unit_test(too_short_or_foreign),
        cmocka_unit_test(zips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
