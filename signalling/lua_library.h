/* lua_library.h — the staffroom Redis Functions library: the text of the .lua files in signalling/lua/ (lib.lua first,
 * each feature file in its own do … end block), embedded at build time (Makefile, scripts/embed-lua.awk
 * → build/…/gen/lua_library.c). store.c loads it with FUNCTION LOAD REPLACE.
 * Must not: be edited by hand in its generated form; change the .lua files. */
#ifndef STAFFROOM_LUA_LIBRARY_H
#define STAFFROOM_LUA_LIBRARY_H

#include <stddef.h>

extern const char lua_library[];   /* NUL-terminated; starts with "#!lua name=staffroom" */
extern const size_t lua_library_len; /* strlen(lua_library) */

#endif
