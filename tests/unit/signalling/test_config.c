/* test_config.c — staffroom-signal's config table: defaults, file + flags (flags win), errors that
 * name file, line and key, and the checks across keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[64];

static void write_conf(const char *text)
{
    snprintf(path, sizeof path, "/tmp/test_config_%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int load(signal_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rest[16], nrest = 0;
    return signal_config_load(cfg, argc, argv, rest, &nrest, err, errlen);
}

static void defaults_are_the_documented_ones(void **state)
{
    (void)state;
    signal_config_t cfg;
    char err[256];
    char *argv[] = {"x", NULL};
    assert_int_equal(load(&cfg, 1, argv, err, sizeof err), 0);
    assert_string_equal(cfg.listen_address, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 8080);
    assert_string_equal(cfg.web_root, "webclient");
    assert_int_equal(cfg.max_frame_bytes, 65536);
    assert_int_equal(cfg.token_lifetime, 30 * 24 * 3600);
    assert_int_equal(cfg.presence_ttl, 45);
    assert_string_equal(cfg.redis_password_file, "");
    assert_string_equal(cfg.log_level, "info");
    assert_int_equal(cfg.turn_urls.n, 0);
    signal_config_free(&cfg);
}

static void flags_override_the_file(void **state)
{
    (void)state;
    write_conf("# comment\nlisten-port 9000\nmax-clients 5 # trailing\nturn-urls turn:a\nturn-urls turn:b\n");
    signal_config_t cfg;
    char err[256];
    char *argv[] = {"x", "--config", path, "--listen-port", "9100", "--presence-ttl=3", "--create-admin", "bob", NULL};
    int rest[16], nrest = 0;
    assert_int_equal(signal_config_load(&cfg, 8, argv, rest, &nrest, err, sizeof err), 0);
    assert_int_equal(cfg.listen_port, 9100);
    assert_int_equal(cfg.max_clients, 5);
    assert_int_equal(cfg.presence_ttl, 3);
    assert_int_equal(cfg.turn_urls.n, 2);
    assert_string_equal(cfg.turn_urls.items[1], "turn:b");
    /* non-key arguments are left for main: --config FILE and --create-admin NAME */
    assert_int_equal(nrest, 4);
    assert_string_equal(argv[rest[0]], "--config");
    assert_string_equal(argv[rest[2]], "--create-admin");
    signal_config_free(&cfg);
    unlink(path);
}

static void file_errors_name_file_line_and_key(void **state)
{
    (void)state;
    signal_config_t cfg;
    char err[512];
    write_conf("listen-port 8080\n\nmax-frame-bytes 10\n");
    char *argv[] = {"x", "--config", path, NULL};
    assert_int_equal(load(&cfg, 3, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":3:"));
    assert_non_null(strstr(err, "max-frame-bytes"));
    signal_config_free(&cfg);

    write_conf("no-such-key 1\n");
    assert_int_equal(load(&cfg, 3, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1:"));
    assert_non_null(strstr(err, "no-such-key"));
    signal_config_free(&cfg);

    write_conf("log-level loud\n");
    assert_int_equal(load(&cfg, 3, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, "log-level"));
    assert_non_null(strstr(err, path));
    signal_config_free(&cfg);
    unlink(path);
}

static void flag_errors_name_the_flag(void **state)
{
    (void)state;
    signal_config_t cfg;
    char err[512];
    char *a1[] = {"x", "--listen-port", "http", NULL};
    assert_int_equal(load(&cfg, 3, a1, err, sizeof err), -1);
    assert_non_null(strstr(err, "--listen-port"));
    signal_config_free(&cfg);
    char *a2[] = {"x", "--node-id", "bad/id", NULL};
    assert_int_equal(load(&cfg, 3, a2, err, sizeof err), -1);
    assert_non_null(strstr(err, "node-id"));
    signal_config_free(&cfg);
    char *a3[] = {"x", "--ping-interval", "30", "--ping-timeout", "30", NULL};
    assert_int_equal(load(&cfg, 5, a3, err, sizeof err), -1);
    assert_non_null(strstr(err, "ping-timeout"));
    signal_config_free(&cfg);
    char *a4[] = {"x", "--config", "/nonexistent/x.conf", NULL};
    assert_int_equal(load(&cfg, 3, a4, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.conf"));
    signal_config_free(&cfg);
}

static void every_key_has_help(void **state)
{
    (void)state;
    size_t n = 0;
    for (const conf_key_t *k = signal_config_keys; k->name; k++, n++) {
        assert_non_null(k->help);
        assert_true(strlen(k->help) > 5);
    }
    assert_true(n >= 20);
}

static void max_clients_follows_the_file_limit(void **state)
{
    (void)state;
    assert_int_equal(config_max_clients(0, 20000), 20000 - CONFIG_FD_RESERVE); /* 0: what the fds allow */
    assert_int_equal(config_max_clients(500, 20000), 500);                     /* an explicit cap */
    assert_int_equal(config_max_clients(50000, 20000), 20000 - CONFIG_FD_RESERVE);
    assert_int_equal(config_max_clients(0, 10), 1); /* never 0: one connection at least */
}

static void reminder_offsets_are_minutes_or_seconds(void **state)
{
    (void)state;
    long long o[CONFIG_MAX_REMINDERS];
    assert_int_equal(config_reminder_offsets("15,1", o), 2);
    assert_int_equal(o[0], 900);
    assert_int_equal(o[1], 60);
    assert_int_equal(config_reminder_offsets("90s,5", o), 2);
    assert_int_equal(o[0], 90);
    assert_int_equal(o[1], 300);
    assert_int_equal(config_reminder_offsets("", o), 0);
    assert_int_equal(config_reminder_offsets("0", o), -1);
    assert_int_equal(config_reminder_offsets("15,", o), -1);
    assert_int_equal(config_reminder_offsets("15m", o), -1);
    assert_int_equal(config_reminder_offsets("-1", o), -1);
    assert_int_equal(config_reminder_offsets("20000", o), -1); /* over a week */
    assert_int_equal(config_reminder_offsets("1,2,3,4,5,6,7,8,9", o), -1);
    signal_config_t cfg;
    char err[256];
    char *argv[] = {"x", "--reminder-offsets", "soon", NULL};
    assert_int_equal(load(&cfg, 3, argv, err, sizeof err), -1);
    assert_non_null(strstr(err, "reminder-offsets"));
    signal_config_free(&cfg);
    char *ok[] = {"x", NULL};
    assert_int_equal(load(&cfg, 1, ok, err, sizeof err), 0);
    assert_string_equal(cfg.reminder_offsets, "15,1");
    assert_int_equal(cfg.schedule_tick, 1000);
    signal_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_the_documented_ones),
        cmocka_unit_test(flags_override_the_file),
        cmocka_unit_test(file_errors_name_file_line_and_key),
        cmocka_unit_test(flag_errors_name_the_flag),
        cmocka_unit_test(every_key_has_help),
        cmocka_unit_test(reminder_offsets_are_minutes_or_seconds),
        cmocka_unit_test(max_clients_follows_the_file_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
