# Staffroom — one GNU Makefile for both programs, their tests, fuzzers and benchmarks.
#
#   make              build/staffroom-signal, build/staffroom-relay and build/staffroom-sfu (optimised)
#   make run          install what is missing, build, start Redis + signalling + relay on localhost
#   make test         install what is missing, build with ASan+UBSan, run every test; last line "N passed, N failed"
#   make fuzz         run every libFuzzer target for FUZZ_SECONDS each (clang)
#   make bench-relay  staffroom-relay against coturn under the same load
#   make bench-signal staffroom-signal against the PeerJS server under the same load (BENCH_QUICK=1: smoke test)
#   make bench-sfu    staffroom-sfu under N publishers x M receivers of synthetic WebRTC media (tests/tools/sfu_peer)
#   make bench-archive the PostgreSQL chat archive: archiver throughput, stream memory, history and search latency
#   make bench-upload lesson clip upload throughput (MiB/s) and the probe time of a real clip
#   make bench-history a mentorship's history (up to 1000 sessions and recordings) and goal.link {note} latency
#   make install      install the programs, the web client, the reference configurations, the systemd units
#                     and the nginx site (PREFIX=/usr/local, DESTDIR for staging; README "Deploying")
#   SAN=1             build with AddressSanitizer and UndefinedBehaviorSanitizer into build/asan/
#
# Sources are found by wildcard: a new module in signalling/, relay/turn/ or relay/base/ needs no edit here.

SAN ?= 0
ifeq ($(SAN),1)
  B := build/asan
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT := -O1
else
  B := build
  SANFLAGS :=
  OPT := -O2
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS := -std=c17 -Wall -Wextra -Werror $(OPT) -g -D_GNU_SOURCE -MMD -MP -Irelay/base $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)

SIGNAL_PKGS := libwebsockets jansson hiredis libsodium openssl libuv libpq libavformat libavcodec libavutil libzip
RELAY_PKGS  := openssl liburing
SFU_PKGS    := nice glib-2.0 gio-2.0 openssl libsrtp2 hiredis jansson libavformat libavcodec libavutil
INTEG_PKGS  := nice glib-2.0 gio-2.0 openssl libical
pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

BASE_SRCS   := $(wildcard relay/base/*.c)
RELAY_SRCS  := $(wildcard relay/turn/*.c)
SFU_SRCS    := $(wildcard relay/sfu/*.c)
SIGNAL_SRCS := $(wildcard signalling/*.c)
obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
# What a compile-and-link rule feeds the compiler: its sources and objects, not the headers that the
# generated dependency files add to its prerequisites.
inputs = $(filter %.c %.o,$^)

BASE_OBJS   := $(call obj,$(BASE_SRCS))
RELAY_OBJS  := $(call obj,$(RELAY_SRCS))
SFU_OBJS    := $(call obj,$(SFU_SRCS))
# The Redis Functions library: signalling/lua/*.lua, lib.lua first, embedded as C text (lua_library.h).
LUA_SRCS    := $(wildcard signalling/lua/lib.lua) $(sort $(filter-out %/lib.lua,$(wildcard signalling/lua/*.lua)))
LUA_LIB_OBJ := $(if $(SIGNAL_SRCS),$(B)/gen/lua_library.o)
# The PostgreSQL schema: signalling/sql/NNN_name.sql in version order, embedded as C text (sql_migrations.h).
SQL_SRCS    := $(sort $(wildcard signalling/sql/*.sql))
SQL_LIB_OBJ := $(if $(SIGNAL_SRCS),$(B)/gen/sql_migrations.o)
SIGNAL_OBJS := $(call obj,$(SIGNAL_SRCS)) $(LUA_LIB_OBJ) $(SQL_LIB_OBJ)
RELAY_LIB_OBJS  := $(filter-out %/main.o,$(RELAY_OBJS)) $(BASE_OBJS)
SFU_LIB_OBJS    := $(filter-out %/main.o,$(SFU_OBJS)) $(BASE_OBJS)
SIGNAL_LIB_OBJS := $(filter-out %/main.o,$(SIGNAL_OBJS)) $(BASE_OBJS)
RELAY_LIBS  := $(call pkg_libs,$(RELAY_PKGS)) -lpthread
SIGNAL_LIBS := $(call pkg_libs,$(SIGNAL_PKGS)) -lpthread
SFU_LIBS    := $(call pkg_libs,$(SFU_PKGS)) -lpthread

# Unit tests mirror the tree: tests/unit/relay/test_x.c links the relay's modules (not its main).
UNIT_RELAY_SRCS  := $(wildcard tests/unit/relay/*.c)
UNIT_SIGNAL_SRCS := $(wildcard tests/unit/signalling/*.c)
UNIT_BASE_SRCS   := $(wildcard tests/unit/base/*.c)
UNIT_SFU_SRCS    := $(wildcard tests/unit/sfu/*.c)
UNIT_BINS := $(patsubst %.c,$(B)/%,$(UNIT_RELAY_SRCS) $(UNIT_SIGNAL_SRCS) $(UNIT_BASE_SRCS) $(UNIT_SFU_SRCS))

# Fuzz targets: tests/fuzz/{relay,signalling,sfu}_*.c define LLVMFuzzerTestOneInput.
FUZZ_RELAY_SRCS  := $(wildcard tests/fuzz/relay_*.c)
FUZZ_SIGNAL_SRCS := $(wildcard tests/fuzz/signalling_*.c)
FUZZ_SFU_SRCS    := $(wildcard tests/fuzz/sfu_*.c)
FUZZ_REPLAY_BINS := $(patsubst tests/fuzz/%.c,$(B)/tests/fuzz/replay_%,$(FUZZ_RELAY_SRCS) $(FUZZ_SIGNAL_SRCS) $(FUZZ_SFU_SRCS))
FUZZ_SECONDS ?= 60

# Integration helper programs in C (e.g. the libnice relay client): tests/integration/*.c
INTEG_SRCS := $(wildcard tests/integration/*.c)
INTEG_BINS := $(patsubst %.c,$(B)/%,$(INTEG_SRCS))

# Benchmark programs: tests/bench/*.c (always optimised, never sanitised: they measure).
BENCH_SRCS := $(filter-out tests/bench/janus_lo_shim.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst %.c,build/%,$(BENCH_SRCS))

.PHONY: all run test test-build fuzz bench-relay bench-signal bench-sfu bench-archive bench-upload bench-history deps clean format install
# staffroom-signal is only built where its sources exist (the relay's worktree has none).
PROGRAMS := $(B)/staffroom-relay $(if $(SIGNAL_SRCS),$(B)/staffroom-signal) $(if $(wildcard relay/sfu/main.c),$(B)/staffroom-sfu)
all: $(PROGRAMS)

$(B)/staffroom-signal: $(SIGNAL_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(SIGNAL_LIBS)

$(B)/staffroom-relay: $(RELAY_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(RELAY_LIBS)

$(B)/staffroom-sfu: $(SFU_OBJS) $(BASE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(SFU_LIBS)

$(B)/obj/signalling/%.o: CFLAGS += $(call pkg_cflags,$(SIGNAL_PKGS)) -Isignalling
$(B)/gen/lua_library.c: $(LUA_SRCS) scripts/embed-lua.awk
	@mkdir -p $(@D)
	awk -f scripts/embed-lua.awk $(LUA_SRCS) > $@.tmp && mv $@.tmp $@
$(B)/gen/lua_library.o: $(B)/gen/lua_library.c
	$(CC) $(CFLAGS) -Isignalling -c -o $@ $<
$(B)/gen/sql_migrations.c: $(SQL_SRCS) scripts/embed-sql.awk
	@mkdir -p $(@D)
	awk -f scripts/embed-sql.awk $(SQL_SRCS) > $@.tmp && mv $@.tmp $@
$(B)/gen/sql_migrations.o: $(B)/gen/sql_migrations.c
	$(CC) $(CFLAGS) -Isignalling -c -o $@ $<
$(B)/obj/relay/turn/%.o: CFLAGS += $(call pkg_cflags,$(RELAY_PKGS)) -Irelay/turn
$(B)/obj/relay/sfu/%.o: CFLAGS += $(call pkg_cflags,$(SFU_PKGS)) -Irelay/sfu
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/tests/unit/relay/%: tests/unit/relay/%.c $(RELAY_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Irelay/turn -o $@ $(inputs) $(LDFLAGS) $(call pkg_libs,cmocka) $(RELAY_LIBS)
$(B)/tests/unit/signalling/%: tests/unit/signalling/%.c $(SIGNAL_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(SIGNAL_PKGS)) -Isignalling -o $@ $(inputs) $(LDFLAGS) $(call pkg_libs,cmocka) $(SIGNAL_LIBS)
$(B)/tests/unit/sfu/%: tests/unit/sfu/%.c $(SFU_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(SFU_PKGS)) -Irelay/sfu -o $@ $(inputs) $(LDFLAGS) $(call pkg_libs,cmocka) $(SFU_LIBS)
$(B)/tests/unit/base/%: tests/unit/base/%.c $(BASE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(inputs) $(LDFLAGS) $(call pkg_libs,cmocka)

$(B)/tests/fuzz/replay_relay_%: tests/fuzz/relay_%.c tests/fuzz/replay_main.c $(RELAY_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Irelay/turn -o $@ $(inputs) $(LDFLAGS) $(RELAY_LIBS)
$(B)/tests/fuzz/replay_sfu_%: tests/fuzz/sfu_%.c tests/fuzz/replay_main.c $(SFU_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(SFU_PKGS)) -Irelay/sfu -o $@ $(inputs) $(LDFLAGS) $(SFU_LIBS)
$(B)/tests/fuzz/replay_signalling_%: tests/fuzz/signalling_%.c tests/fuzz/replay_main.c $(SIGNAL_LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(SIGNAL_PKGS)) -Isignalling -o $@ $(inputs) $(LDFLAGS) $(SIGNAL_LIBS)

$(B)/tests/integration/%: tests/integration/%.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -std=c17,$(CFLAGS)) -std=gnu17 $(call pkg_cflags,$(INTEG_PKGS)) -o $@ $< $(LDFLAGS) $(call pkg_libs,$(INTEG_PKGS)) -lpthread

# The WebRTC participant that is not a browser (tests/tools/sfu_peer.c): integration tests and bench-sfu.
# It links the SFU's libc-only RTP and VP8 codecs, and libnice, OpenSSL and libsrtp2 directly.
SFU_PEER_PKGS := nice glib-2.0 gio-2.0 openssl libsrtp2
$(B)/tests/tools/sfu_peer: tests/tools/sfu_peer.c tests/tools/peer_sdp.c tests/tools/ivf.c relay/sfu/rtp.c relay/sfu/vp8.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(call pkg_cflags,$(SFU_PEER_PKGS)) -Irelay/sfu -Itests/tools -o $@ $(inputs) $(LDFLAGS) $(call pkg_libs,$(SFU_PEER_PKGS))

build/tests/bench/%: tests/bench/%.c
	@mkdir -p $(@D)
	$(CC) -std=gnu17 -Wall -Wextra -Werror -O2 -g -D_GNU_SOURCE $(call pkg_cflags,openssl) -o $@ $< $(call pkg_libs,openssl) $(BENCH_LIBS) -lpthread
build/tests/bench/udp_floor: BENCH_LIBS = $(call pkg_libs,libsrtp2)

# Preloaded into Janus only by bench-sfu (tests/bench/janus_lo_shim.c says why).
build/tests/bench/janus_lo_shim.so: tests/bench/janus_lo_shim.c
	@mkdir -p $(@D)
	$(CC) -std=gnu17 -Wall -Wextra -Werror -O2 -shared -fPIC -o $@ $< -ldl

deps:
	@scripts/deps.sh test

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory SAN=0 all
	@scripts/run.sh

test-build: all $(UNIT_BINS) $(FUZZ_REPLAY_BINS) $(INTEG_BINS) $(B)/tests/tools/sfu_peer

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=1 -j2 test-build
	@tests/run.sh build/asan

# libFuzzer needs clang; each target runs FUZZ_SECONDS and grows its corpus in tests/fuzz/corpus/<target>/.
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench-relay:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=0 all $(BENCH_BINS)
	@tests/bench/bench-relay.sh

# Needs node/npm (the PeerJS server, installed by the script with npm ci) and redis-server, as make test does.
bench-signal:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=0 all $(BENCH_BINS)
	@tests/bench/bench-signal.sh

# Needs node and redis-server, as make test does, and Janus (deps.sh bench); the load program is
# tests/tools/sfu_peer, optimised.
bench-sfu:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory SAN=0 all build/tests/tools/sfu_peer build/tests/bench/janus_lo_shim.so build/tests/bench/udp_floor
	@tests/bench/bench-sfu.sh
# Needs redis-server and PostgreSQL 15 as make test does; BENCH_MESSAGES, BENCH_CHANNELS, BENCH_KEEP, BENCH_SAMPLES.
bench-archive:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=0 build/staffroom-signal
	@STAFFROOM_BUILD=$(CURDIR)/build STAFFROOM_ROOT=$(CURDIR) node tests/bench/bench-archive.mjs

bench-upload:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=0 build/staffroom-signal
	@STAFFROOM_BUILD=$(CURDIR)/build STAFFROOM_ROOT=$(CURDIR) node tests/bench/bench-upload.mjs

bench-history:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory SAN=0 build/staffroom-signal
	@STAFFROOM_BUILD=$(CURDIR)/build STAFFROOM_ROOT=$(CURDIR) node tests/bench/bench-history.mjs

# Installation: where things go (GNU conventions; DESTDIR stages the whole tree, e.g. for a package).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
# The units name the installed paths: the templates in config/systemd/ get them filled in.
UNIT_SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
WEB_FILES := $(shell find webclient -type f 2>/dev/null)

# Reference configurations are installed only where none exists yet: an operator's edits are kept.
install: $(PROGRAMS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/staffroom/nginx $(DESTDIR)$(DATADIR)/doc/staffroom \
	  $(DESTDIR)$(SYSCONFDIR)/staffroom $(DESTDIR)$(UNITDIR)
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	for f in $(WEB_FILES); do install -D -m 644 $$f $(DESTDIR)$(DATADIR)/staffroom/$$f || exit 1; done
	for f in config/staffroom-signal.conf config/staffroom-relay.conf; do \
	  t=$(DESTDIR)$(SYSCONFDIR)/staffroom/$$(basename $$f); \
	  if [ -e $$t ]; then install -m 644 $$f $$t.dist; else install -m 644 $$f $$t; fi || exit 1; done
	for u in config/systemd/*.service.in; do \
	  $(UNIT_SUBST) $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u .in) && chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u .in) || exit 1; done
	$(UNIT_SUBST) config/nginx/staffroom.conf > $(DESTDIR)$(DATADIR)/staffroom/nginx/staffroom.conf
	install -m 644 README.md signalling/PROTOCOL.md $(DESTDIR)$(DATADIR)/doc/staffroom/

format:
	clang-format -i $(SIGNAL_SRCS) $(RELAY_SRCS) $(SFU_SRCS) $(BASE_SRCS) $(wildcard signalling/*.h relay/*/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
