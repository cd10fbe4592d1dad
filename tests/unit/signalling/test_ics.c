/* test_ics.c — iCalendar output: TEXT escaping, folding at 75 octets without splitting UTF-8, and the
 * shape of a whole calendar (CRLF everywhere, METHOD, SEQUENCE, UTC times). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ics.h"

static void escapes_text_specials(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(ics_escape("a\\b;c,d\r\ne", out, sizeof out), 13);
    assert_string_equal(out, "a\\\\b\\;c\\,d\\ne");
    assert_int_equal(ics_escape("abcdef", out, 4), -1);
}

/* Every physical line is at most 75 octets, ends in CRLF, and unfolding gives the line back. */
static void check_folded(const char *line, const char *folded)
{
    char unfolded[1024];
    size_t u = 0;
    const char *p = folded;
    int first = 1;
    while (*p) {
        const char *crlf = strstr(p, "\r\n");
        assert_non_null(crlf);
        assert_true(crlf - p <= 75);
        if (!first) {
            assert_int_equal(*p, ' ');
            p++;
        }
        memcpy(unfolded + u, p, (size_t)(crlf - p));
        u += (size_t)(crlf - p);
        p = crlf + 2;
        first = 0;
    }
    unfolded[u] = '\0';
    assert_string_equal(unfolded, line);
}

static void folds_at_75_octets(void **state)
{
    (void)state;
    char line[200], out[400];
    memset(line, 'x', 160);
    line[160] = '\0';
    long n = ics_fold(line, out, sizeof out);
    assert_int_equal(n, 160 + 2 * 3 + 2); /* 75 + 74 + 11: two folds */
    assert_int_equal(out[75], '\r');
    check_folded(line, out);
    assert_int_equal(ics_fold("short", out, sizeof out), 7);
    assert_string_equal(out, "short\r\n");
    assert_int_equal(ics_fold(line, out, 100), -1);
}

static void never_splits_utf8(void **state)
{
    (void)state;
    /* 74 ASCII octets then "é" (2 octets): it does not fit on the first line and moves whole */
    char line[200], out[400];
    memset(line, 'a', 74);
    strcpy(line + 74, "\xc3\xa9" "b");
    ics_fold(line, out, sizeof out);
    assert_memory_equal(out + 74, "\r\n \xc3\xa9" "b\r\n", 8);
    check_folded(line, out);
    /* a run of 3-octet characters: every line break falls between characters */
    line[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(line, "\xe2\x82\xac"); /* € */
    ics_fold(line, out, sizeof out);
    check_folded(line, out);
    for (const char *p = out; (p = strstr(p, "\r\n ")); p += 3)
        assert_int_equal((unsigned char)p[3], 0xe2);
}

static void renders_a_calendar(void **state)
{
    (void)state;
    ics_event_t ev = {"abc@staffroom", 1806433200, 1806435000, 1800000000, 2, 0,
                      "Mentoring: fractions, ratios", "Join: https://x/#s\nBring notes; thanks", "https://x/#s"};
    size_t len;
    char *t = ics_render(&ev, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    assert_non_null(strstr(t, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
    assert_non_null(strstr(t, "\r\nMETHOD:REQUEST\r\n"));
    assert_non_null(strstr(t, "\r\nDTSTART:20270330T190000Z\r\n"));
    assert_non_null(strstr(t, "\r\nDTEND:20270330T193000Z\r\n"));
    assert_non_null(strstr(t, "\r\nSEQUENCE:2\r\n"));
    assert_non_null(strstr(t, "\r\nSUMMARY:Mentoring: fractions\\, ratios\r\n"));
    assert_non_null(strstr(t, "DESCRIPTION:Join: https://x/#s\\nBring notes\\; thanks\r\n"));
    assert_true(len > 2 && memcmp(t + len - 2, "\r\n", 2) == 0);
    for (size_t i = 0; i < len; i++)
        if (t[i] == '\n')
            assert_int_equal(t[i - 1], '\r');
    free(t);
    ev.cancelled = 1;
    t = ics_render(&ev, &len);
    assert_non_null(strstr(t, "\r\nMETHOD:CANCEL\r\n"));
    assert_non_null(strstr(t, "\r\nSTATUS:CANCELLED\r\n"));
    free(t);
}

static void renders_a_feed(void **state)
{
    (void)state;
    ics_event_t evs[2] = {
        {"a@staffroom", 1806433200, 1806435000, 1800000000, 0, 0, "One", "First", NULL},
        {"b@staffroom", 1806519600, 1806521400, 1800000000, 3, 1, "Two", "Second", "https://x/#b"},
    };
    size_t len;
    char *t = ics_render_feed(evs, 2, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    assert_non_null(strstr(t, "\r\nMETHOD:PUBLISH\r\n"));
    const char *a = strstr(t, "UID:a@staffroom"), *b = strstr(t, "UID:b@staffroom");
    assert_true(a && b && a < b);
    assert_non_null(strstr(b, "STATUS:CANCELLED"));
    assert_null(strstr(t, "METHOD:CANCEL"));
    int events = 0;
    for (const char *p = t; (p = strstr(p, "BEGIN:VEVENT")); p++)
        events++;
    assert_int_equal(events, 2);
    free(t);
    t = ics_render_feed(NULL, 0, &len); /* nothing booked: an empty calendar */
    assert_non_null(t);
    assert_null(strstr(t, "VEVENT"));
    assert_non_null(strstr(t, "END:VCALENDAR\r\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_text_specials),
        cmocka_unit_test(folds_at_75_octets),
        cmocka_unit_test(never_splits_utf8),
        cmocka_unit_test(renders_a_calendar),
        cmocka_unit_test(renders_a_feed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
