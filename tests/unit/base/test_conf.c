/* test_conf.c — relay/base/conf.c with a table of its own: every type, ranges, file syntax, flags,
 * list semantics, help and value printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

typedef struct {
    long long port;
    int verbose;
    char *name;
    conf_list_t urls;
} tcfg_t;

static const conf_key_t tab[] = {
    {"port", CONF_INT, offsetof(tcfg_t, port), "80", 1, 65535, NULL, "a port"},
    {"verbose", CONF_BOOL, offsetof(tcfg_t, verbose), "no", 0, 0, NULL, "talk more"},
    {"name", CONF_STR, offsetof(tcfg_t, name), NULL, 0, 0, NULL, "a name"},
    {"url", CONF_LIST, offsetof(tcfg_t, urls), "http://default", 0, 0, NULL, "urls"},
    {0},
};

static char path[64];
static void write_file(const char *text)
{
    snprintf(path, sizeof path, "/tmp/test_conf_%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void defaults_fill_every_type(void **state)
{
    (void)state;
    tcfg_t c = {0};
    char err[256];
    assert_int_equal(conf_defaults(tab, &c, err, sizeof err), 0);
    assert_int_equal(c.port, 80);
    assert_int_equal(c.verbose, 0);
    assert_string_equal(c.name, "");
    assert_int_equal(c.urls.n, 1);
    assert_string_equal(c.urls.items[0], "http://default");
    conf_free(tab, &c);
    assert_null(c.name);
}

static void set_checks_types_and_ranges(void **state)
{
    (void)state;
    tcfg_t c = {0};
    char err[256];
    conf_defaults(tab, &c, err, sizeof err);
    assert_int_equal(conf_set(tab, &c, "port", "0", err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(conf_set(tab, &c, "port", "12x", err, sizeof err), -1);
    assert_int_equal(conf_set(tab, &c, "port", "", err, sizeof err), -1);
    assert_int_equal(conf_set(tab, &c, "port", "99999999999999999999999", err, sizeof err), -1);
    assert_int_equal(conf_set(tab, &c, "port", "443", err, sizeof err), 0);
    assert_int_equal(c.port, 443);
    for (const char *const *v = (const char *const[]){"yes", "TRUE", "on", "1", NULL}; *v; v++) {
        c.verbose = 0;
        assert_int_equal(conf_set(tab, &c, "verbose", *v, err, sizeof err), 0);
        assert_int_equal(c.verbose, 1);
    }
    assert_int_equal(conf_set(tab, &c, "verbose", "off", err, sizeof err), 0);
    assert_int_equal(c.verbose, 0);
    assert_int_equal(conf_set(tab, &c, "verbose", "maybe", err, sizeof err), -1);
    assert_int_equal(conf_set(tab, &c, "nope", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "nope"));
    conf_free(tab, &c);
}

static void file_lines_comments_and_lists(void **state)
{
    (void)state;
    tcfg_t c = {0};
    char err[256];
    conf_defaults(tab, &c, err, sizeof err);
    write_file("# a comment\n\n  port   8080  # trailing comment\nname  two words\nurl a\nurl b\nverbose\t yes\n");
    assert_int_equal(conf_load_file(tab, &c, path, err, sizeof err), 0);
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.name, "two words");
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.urls.n, 2); /* the file's list replaced the default */
    assert_string_equal(c.urls.items[0], "a");
    conf_free(tab, &c);

    conf_defaults(tab, &c, err, sizeof err);
    write_file("port 1\nport\n");
    assert_int_equal(conf_load_file(tab, &c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2:"));
    assert_non_null(strstr(err, "missing value"));
    write_file("name\n"); /* an empty string is a value */
    assert_int_equal(conf_load_file(tab, &c, path, err, sizeof err), 0);
    assert_int_equal(conf_load_file(tab, &c, "/nonexistent/file", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/file"));
    conf_free(tab, &c);
    unlink(path);
}

static void flags_and_rest(void **state)
{
    (void)state;
    tcfg_t c = {0};
    char err[256];
    conf_defaults(tab, &c, err, sizeof err);
    char *argv[] = {"prog", "--port=9", "positional", "--verbose", "--name", "x", "--other", "--url", "u1", NULL};
    int rest[10], nrest = 0;
    assert_int_equal(conf_apply_args(tab, &c, 9, argv, rest, &nrest, err, sizeof err), 0);
    assert_int_equal(c.port, 9);
    assert_int_equal(c.verbose, 1); /* bare boolean flag */
    assert_string_equal(c.name, "x");
    assert_int_equal(c.urls.n, 2); /* flags append to lists */
    assert_int_equal(nrest, 2);
    assert_string_equal(argv[rest[0]], "positional");
    assert_string_equal(argv[rest[1]], "--other");
    char *bad[] = {"prog", "--port", NULL};
    assert_int_equal(conf_apply_args(tab, &c, 2, bad, rest, &nrest, err, sizeof err), -1);
    assert_non_null(strstr(err, "--port"));
    assert_string_equal(conf_find_arg(9, argv, "name"), "x");
    assert_string_equal(conf_find_arg(9, argv, "port"), "9");
    assert_null(conf_find_arg(9, argv, "missing"));
    conf_free(tab, &c);
}

static void help_and_values_print_every_key(void **state)
{
    (void)state;
    tcfg_t c = {0};
    char err[256], buf[2048];
    conf_defaults(tab, &c, err, sizeof err);
    FILE *f = fmemopen(buf, sizeof buf, "w");
    conf_print_help(tab, f);
    fclose(f);
    assert_non_null(strstr(buf, "--port N"));
    assert_non_null(strstr(buf, "default 80"));
    f = fmemopen(buf, sizeof buf, "w");
    conf_print_values(tab, &c, f);
    fclose(f);
    assert_non_null(strstr(buf, "port 80\n"));
    assert_non_null(strstr(buf, "verbose no\n"));
    assert_non_null(strstr(buf, "url http://default\n"));
    conf_free(tab, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_fill_every_type),
        cmocka_unit_test(set_checks_types_and_ranges),
        cmocka_unit_test(file_lines_comments_and_lists),
        cmocka_unit_test(flags_and_rest),
        cmocka_unit_test(help_and_values_print_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
