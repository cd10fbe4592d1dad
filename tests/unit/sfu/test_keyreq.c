/* test_keyreq.c — keyframe request throttle, with time passed explicitly (no sleeps): one request per
 * interval, the fast path for a new subscriber, pending requests sent when the quiet time ends, a
 * keyframe satisfying what is pending, FIR sequence numbers, and a storm of subscriber PLIs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "keyreq.h"

static void test_first_request_goes_at_once(void **st)
{
    (void)st;
    keyreq_t k;
    keyreq_init(&k, 0, 0);
    assert_int_equal(k.interval_ms, KEYREQ_DEFAULT_INTERVAL_MS);
    assert_int_equal(k.fast_ms, KEYREQ_DEFAULT_FAST_MS);
    assert_int_equal(keyreq_deadline(&k), 0);
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 0)); /* even at time 0 */
    assert_int_equal(keyreq_deadline(&k), 0);
}

static void test_one_per_interval_then_pending(void **st)
{
    (void)st;
    keyreq_t k;
    keyreq_init(&k, 1000, 300);
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 5000));
    assert_false(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 5100));
    assert_false(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 5900));
    assert_int_equal(keyreq_deadline(&k), 6000);
    assert_false(keyreq_poll(&k, 5999));
    assert_true(keyreq_poll(&k, 6000));
    assert_false(keyreq_poll(&k, 6001)); /* sent once only */
    assert_int_equal(keyreq_deadline(&k), 0);
    /* The pending one counted as sent at 6000: the next direct request waits until 7000. */
    assert_false(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 6999));
    assert_true(keyreq_poll(&k, 7000));
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 8000));
    assert_int_equal(k.sent, 4);
    assert_int_equal(k.suppressed, 3);
}

static void test_new_subscriber_fast_path(void **st)
{
    (void)st;
    keyreq_t k;
    keyreq_init(&k, 1000, 300);
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 10000));
    /* Within 300 ms of the last request: that keyframe is already on its way; wait like any other. */
    assert_false(keyreq_request(&k, KEYREQ_NEW_SUBSCRIBER, 10299));
    assert_int_equal(keyreq_deadline(&k), 11000);
    /* After 300 ms: a new subscriber's request goes out at once, and clears what was pending. */
    assert_true(keyreq_request(&k, KEYREQ_NEW_SUBSCRIBER, 10300));
    assert_int_equal(keyreq_deadline(&k), 0);
    /* A loss report right after waits the full interval from there. */
    assert_false(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 10400));
    assert_int_equal(keyreq_deadline(&k), 11300);
}

static void test_keyframe_satisfies_pending(void **st)
{
    (void)st;
    keyreq_t k;
    keyreq_init(&k, 1000, 300);
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 0));
    assert_false(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 100));
    keyreq_keyframe_seen(&k, 150);
    assert_int_equal(keyreq_deadline(&k), 0);
    assert_false(keyreq_poll(&k, 1000));
}

static void test_pli_storm(void **st)
{
    (void)st;
    /* 24 subscribers each send a PLI every 50 ms for 10 s: the publisher sees one per second. */
    keyreq_t k;
    keyreq_init(&k, 1000, 300);
    unsigned sent = 0;
    uint64_t last = 0;
    for (uint64_t now = 1; now <= 10000; now++) {
        bool go = false;
        if (now % 50 == 0)
            for (int s = 0; s < 24; s++)
                go |= keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, now);
        uint64_t due = keyreq_deadline(&k);
        if (due && now >= due)
            go |= keyreq_poll(&k, now);
        if (go) {
            if (sent)
                assert_true(now - last >= 1000);
            last = now;
            sent++;
        }
    }
    assert_int_equal(sent, 10);
}

static void test_fir_seq_and_backwards_clock(void **st)
{
    (void)st;
    keyreq_t k;
    keyreq_init(&k, 1000, 300);
    assert_int_equal(keyreq_next_fir_seq(&k), 0);
    assert_int_equal(keyreq_next_fir_seq(&k), 1);
    for (int i = 0; i < 254; i++)
        keyreq_next_fir_seq(&k);
    assert_int_equal(keyreq_next_fir_seq(&k), 0); /* 8-bit wrap */
    assert_true(keyreq_request(&k, KEYREQ_SUBSCRIBER_LOSS, 5000));
    /* A clock read earlier than the last request (should not happen): treated as "just sent". */
    assert_false(keyreq_request(&k, KEYREQ_NEW_SUBSCRIBER, 4000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_request_goes_at_once),
        cmocka_unit_test(test_one_per_interval_then_pending),
        cmocka_unit_test(test_new_subscriber_fast_path),
        cmocka_unit_test(test_keyframe_satisfies_pending),
        cmocka_unit_test(test_pli_storm),
        cmocka_unit_test(test_fir_seq_and_backwards_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
