/* test_sql_migrations.c — the embedded PostgreSQL schema (sql_migrations.h, from signalling/sql/): versions
 * start at 1 and follow each other with no gap (a gap is a missing or misnamed file), names are what
 * schema_version records, every migration has SQL, and the archive's table and search index are there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sql_migrations.h"

static void versions_follow_each_other(void **state)
{
    (void)state;
    assert_true(pg_migrations_n >= 2);
    for (size_t i = 0; i < pg_migrations_n; i++) {
        assert_int_equal(pg_migrations[i].version, (int)i + 1);
        assert_true(strlen(pg_migrations[i].name) > 0);
        assert_null(strpbrk(pg_migrations[i].name, "'\"\\ ")); /* spliced into the schema_version INSERT */
        assert_true(strlen(pg_migrations[i].sql) > 10);
    }
}

static void the_archive_schema_is_there(void **state)
{
    (void)state;
    assert_string_equal(pg_migrations[0].name, "messages");
    assert_non_null(strstr(pg_migrations[0].sql, "CREATE TABLE messages"));
    assert_non_null(strstr(pg_migrations[0].sql, "PRIMARY KEY (channel, ms, seq)"));
    assert_string_equal(pg_migrations[1].name, "search");
    assert_non_null(strstr(pg_migrations[1].sql, "USING gin (tsv)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_follow_each_other),
        cmocka_unit_test(the_archive_schema_is_there),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
