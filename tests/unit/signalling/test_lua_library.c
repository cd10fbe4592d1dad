/* test_lua_library.c — the embedded Redis Functions library (lua_library.h): one library named staffroom,
 * lib.lua first, each feature file in its own block, and the values it shares with the C side agreeing
 * with the C macros (lib.lua repeats calls.h's timings; Redis itself is exercised by the integration
 * test lua_library.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "calls.h"
#include "lua_library.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static void one_library_named_staffroom_lib_first(void **state)
{
    (void)state;
    assert_int_equal(lua_library_len, strlen(lua_library));
    const char *shebang = "#!lua name=staffroom\n";
    assert_memory_equal(lua_library, shebang, strlen(shebang));
    assert_null(strstr(lua_library + 1, "#!lua")); /* the shebang once, at the top */
    const char *lib = strstr(lua_library, "function lib.register(");
    const char *first_feature = strstr(lua_library, "\ndo -- ");
    assert_non_null(lib);
    assert_non_null(first_feature);
    assert_true(lib < first_feature);
}

static void every_feature_file_is_in_its_own_block(void **state)
{
    (void)state;
    static const char *const files[] = {"accounts", "calls", "channels", "circles", "help", "mentoring",
                                        "presence", "rooms", "schedule"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char marker[64];
        snprintf(marker, sizeof marker, "\ndo -- signalling/lua/%s.lua\n", files[i]);
        assert_non_null(strstr(lua_library, marker));
    }
}

static void call_timings_agree_with_calls_h(void **state)
{
    (void)state;
    assert_non_null(strstr(lua_library, "\nlocal CALL_ACTIVE_TTL = " STR(CALL_ACTIVE_TTL) " "));
    assert_non_null(strstr(lua_library, "\nlocal CALL_PARTY_TTL = " STR(CALL_PARTY_TTL) " "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_library_named_staffroom_lib_first),
        cmocka_unit_test(every_feature_file_is_in_its_own_block),
        cmocka_unit_test(call_timings_agree_with_calls_h),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
