/* test_config.c — the key table's defaults and config_validate's cross-key checks. */
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

static void test_defaults(void **s)
{
    (void)s;
    relay_config_t c;
    char err[512];
    memset(&c, 0, sizeof c);
    assert_int_equal(conf_defaults(config_keys, &c, err, sizeof err), 0);
    assert_int_equal(c.listen.n, 1);
    assert_string_equal(c.listen.items[0], "127.0.0.1");
    assert_int_equal(c.listen_port, 3478);
    assert_int_equal(c.tls_listen_port, 5349);
    assert_string_equal(c.relay_address, "127.0.0.1");
    assert_string_equal(c.relay_address_v6, "");
    assert_int_equal(c.relay_port_min, 49152);
    assert_int_equal(c.relay_port_max, 65535);
    assert_string_equal(c.realm, "staffroom");
    assert_int_equal(c.nonce_lifetime, 600);
    assert_int_equal(c.default_allocation_lifetime, 600);
    assert_int_equal(c.max_allocation_lifetime, 3600);
    assert_int_equal(c.user_quota, 10);
    assert_int_equal(c.total_quota, 10000);
    assert_int_equal(c.bandwidth_limit, 0);
    assert_int_equal(c.allow_loopback_peers, 0);
    assert_int_equal(c.threads, 0);
    assert_int_equal(c.metrics_port, 0);
    assert_string_equal(c.metrics_address, "127.0.0.1");
    assert_string_equal(c.log_level, "info");
    assert_string_equal(c.event_loop, "io_uring");
    assert_int_equal(c.batch_wait_us, 200);
    /* No secret file and no no-auth: refused. */
    assert_int_equal(config_validate(&c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "auth-secret-file"));
    conf_set(config_keys, &c, "no-auth", "yes", err, sizeof err);
    assert_int_equal(config_validate(&c, NULL, err, sizeof err), 0);
    conf_free(config_keys, &c);
}

static void test_validate_names_file_and_line(void **s)
{
    (void)s;
    char path[] = "/tmp/staffroom-relay-conf-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "# test\nno-auth yes\nrelay-port-min 60000\nrelay-port-max 50000\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    relay_config_t c;
    char err[512], want[600];
    memset(&c, 0, sizeof c);
    conf_defaults(config_keys, &c, err, sizeof err);
    assert_int_equal(conf_load_file(config_keys, &c, path, err, sizeof err), 0);
    assert_int_equal(config_validate(&c, path, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s:3: relay-port-min: ", path);
    assert_memory_equal(err, want, strlen(want));
    conf_free(config_keys, &c);
    unlink(path);
}

static void test_validate_values(void **s)
{
    (void)s;
    static const char *const bad[][2] = {
        {"listen", "not-an-ip"}, {"relay-address", "::1"}, {"relay-address", "0.0.0.0"},
        {"relay-address-v6", "::"}, {"relay-address-v6", "1.2.3.4"},
        {"allow-peer", "10.0.0.0/40"}, {"deny-peer", "x"}, {"log-level", "loud"},
        {"metrics-address", "nowhere"}, {"tls-cert-file", "/nonexistent.pem"},
        {"default-allocation-lifetime", "7200"}, {"auth-secret-file", "/nonexistent/secret"},
        {"event-loop", "select"}, {"event-loop", "IO_URING"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        relay_config_t c;
        char err[512];
        memset(&c, 0, sizeof c);
        conf_defaults(config_keys, &c, err, sizeof err);
        conf_set(config_keys, &c, "no-auth", "yes", err, sizeof err);
        assert_int_equal(conf_set(config_keys, &c, bad[i][0], bad[i][1], err, sizeof err), 0);
        if (config_validate(&c, NULL, err, sizeof err) != -1)
            fail_msg("%s %s accepted", bad[i][0], bad[i][1]);
        conf_free(config_keys, &c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_validate_names_file_and_line),
        cmocka_unit_test(test_validate_values),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
