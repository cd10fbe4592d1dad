/* test_slots.c — availability rules and slots: validation, local→UTC across DST (Europe/London,
 * America/New_York), times skipped by a DST change, slot grid with buffers, notice and horizon,
 * booked slots removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slots.h"
#include "tz.h"


static void local_to_utc_across_dst(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(tz_local_to_utc("Europe/London", 2027, 3, 23, 19, 0, &t), 0);
    assert_int_equal(t, 1805828400); /* 2027-03-23T19:00:00Z */
    assert_int_equal(tz_local_to_utc("Europe/London", 2027, 3, 30, 19, 0, &t), 0);
    assert_int_equal(t, 1805828400 + 7 * 86400 - 3600); /* 2027-03-30T18:00:00Z (BST) */
    assert_int_equal(tz_local_to_utc("America/New_York", 2027, 1, 5, 9, 30, &t), 0);
    assert_int_equal(t, 1799159400); /* 2027-01-05T14:30:00Z */
    /* 01:30 on 2027-03-28 does not exist in London (clocks go 01:00 → 02:00) */
    assert_int_equal(tz_local_to_utc("Europe/London", 2027, 3, 28, 1, 30, &t), -1);
    /* 01:30 on 2027-10-31 happens twice: the first (BST, 00:30Z) is taken */
    assert_int_equal(tz_local_to_utc("Europe/London", 2027, 10, 31, 1, 30, &t), 0);
    assert_int_equal(t, 1824942600);
    struct tm tm;
    assert_int_equal(tz_utc_to_local("Europe/London", 1805828400 + 7 * 86400 - 3600, &tm), 0);
    assert_int_equal(tm.tm_hour, 19);
    assert_int_equal(tm.tm_wday, 2);
    assert_null(getenv("TZ")); /* restored */
}

/* The zone names come from the tz database's text form, once; lookups are in memory. */
static void zone_names_from_tzdata(void **state)
{
    (void)state;
    assert_int_equal(tz_name_known("Europe/London"), 0); /* nothing loaded yet */
    assert_int_equal(tz_names_load("/nonexistent/tzdata.zi"), -1);
    assert_true(tz_names_load("/usr/share/zoneinfo/tzdata.zi") > 300);
    assert_true(tz_name_known("Europe/London"));
    assert_true(tz_name_known("America/New_York"));
    assert_true(tz_name_known("UTC"));          /* an alias (L line) */
    assert_true(tz_name_known("Etc/GMT-6"));
    assert_false(tz_name_known("Europe"));      /* a directory, not a zone */
    assert_false(tz_name_known("Mars/Olympus_Mons"));
    assert_false(tz_name_known(""));
    size_t n = tz_names_count();
    assert_true(tz_names_load("/usr/share/zoneinfo/tzdata.zi") == (int)n); /* reload: same table */
}

static int parse(const char *text, slots_rules_t *r, const char **field)
{
    json_error_t e;
    json_t *o = json_loads(text, 0, &e);
    assert_non_null(o);
    char err[128];
    int rc = slots_rules_parse(o, r, field, err, sizeof err);
    json_decref(o);
    return rc;
}

static void rules_are_validated(void **state)
{
    (void)state;
    slots_rules_t r;
    const char *f = NULL;
    assert_int_equal(parse("{\"tz\":\"Europe/London\",\"windows\":[{\"day\":\"tue\",\"start\":\"19:00\",\"end\":\"21:00\"}]}", &r, &f), 0);
    assert_int_equal(r.slot_min, 30);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.w[0].day, 2);
    assert_int_equal(r.w[0].start_min, 19 * 60);
    json_t *j = slots_rules_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "windows"), 0), "end")), "21:00");
    json_decref(j);
    assert_int_equal(parse("{\"windows\":[]}", &r, &f), -1);
    assert_string_equal(f, "tz");
    assert_int_equal(parse("{\"tz\":\"UTC\",\"windows\":[{\"day\":\"tue\",\"start\":\"21:00\",\"end\":\"19:00\"}]}", &r, &f), -1);
    assert_string_equal(f, "windows");
    assert_int_equal(parse("{\"tz\":\"UTC\",\"windows\":[{\"day\":\"xyz\",\"start\":\"19:00\",\"end\":\"21:00\"}]}", &r, &f), -1);
    assert_int_equal(parse("{\"tz\":\"UTC\",\"windows\":[{\"day\":\"mon\",\"start\":\"19:00\",\"end\":\"21:00\"},"
                           "{\"day\":\"mon\",\"start\":\"20:00\",\"end\":\"22:00\"}]}", &r, &f), -1);
    assert_int_equal(parse("{\"tz\":\"UTC\",\"slot_minutes\":1,\"windows\":[]}", &r, &f), -1);
    assert_string_equal(f, "slot_minutes");
    assert_int_equal(parse("{\"tz\":\"UTC\",\"windows\":[{\"day\":\"mon\",\"start\":\"25:00\",\"end\":\"26:00\"}]}", &r, &f), -1);
}

static void slots_follow_the_zone(void **state)
{
    (void)state;
    slots_rules_t r;
    const char *f;
    assert_int_equal(parse("{\"tz\":\"Europe/London\",\"slot_minutes\":45,\"buffer_minutes\":15,\"min_notice_minutes\":0,"
                           "\"max_ahead_days\":365,\"windows\":[{\"day\":\"tue\",\"start\":\"19:00\",\"end\":\"21:00\"}]}", &r, &f), 0);
    int64_t now = 1805828400 - 100 * 86400, out[16];
    /* two Tuesdays: 19:00 and 20:00 local (45 min + 15 min buffer; a third would end after 21:00) */
    size_t n = slots_list(&r, 1805828400 - 86400, 1805828400 + 8 * 86400, now, NULL, 0, out, 16);
    assert_int_equal(n, 4);
    assert_int_equal(out[0], 1805828400);
    assert_int_equal(out[1], 1805828400 + 3600);
    assert_int_equal(out[2], 1805828400 + 7 * 86400 - 3600);
    assert_int_equal(out[3], 1805828400 + 7 * 86400);
    /* a booked slot disappears; the check accepts slots and refuses the rest */
    int64_t booked = out[1];
    assert_int_equal(slots_list(&r, 1805828400 - 86400, 1805828400 + 86400, now, &booked, 1, out, 16), 1);
    assert_int_equal(slots_check(&r, 1805828400, now), SLOTS_OK);
    assert_int_equal(slots_check(&r, 1805828400 + 1800, now), SLOTS_NOT_A_SLOT);
    assert_int_equal(slots_check(&r, 1805828400 + 7 * 86400, now), SLOTS_OK);
    assert_int_equal(slots_check(&r, 1805828400 + 7 * 86400 + 3600, now), SLOTS_NOT_A_SLOT);
    assert_int_equal(slots_check(&r, 1805828400, 1805828400 - 60), SLOTS_OK);
    r.notice_min = 60;
    assert_int_equal(slots_check(&r, 1805828400, 1805828400 - 60), SLOTS_TOO_SOON);
    r.ahead_days = 7;
    assert_int_equal(slots_check(&r, 1805828400, now), SLOTS_TOO_FAR);
    /* cap keeps the earliest */
    r.notice_min = 0;
    r.ahead_days = 365;
    assert_int_equal(slots_list(&r, 1805828400 - 86400, 1805828400 + 8 * 86400, now, NULL, 0, out, 2), 2);
    assert_int_equal(out[1], 1805828400 + 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(local_to_utc_across_dst),
        cmocka_unit_test(zone_names_from_tzdata),
        cmocka_unit_test(rules_are_validated),
        cmocka_unit_test(slots_follow_the_zone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
