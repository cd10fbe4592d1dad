#!/usr/bin/env bash
# fuzz.sh SECONDS [PREFIX] (or FUZZ_RUNS=N fuzz.sh 0 [PREFIX]) — builds every libFuzzer target (tests/fuzz/relay_*.c, signalling_*.c, sfu_*.c),
# or only those whose name starts with PREFIX (e.g. sfu_), with clang and runs each for SECONDS. New inputs go to a scratch directory first; only those that
# add coverage are merged into the committed corpus tests/fuzz/corpus/<target>/. Crashes are left
# as build/fuzz/<target>/crash-* (turn them into corpus files once fixed).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (apt-get install clang)" >&2; exit 1; }
out=build/fuzz
mkdir -p "$out"
flags="-std=c17 -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Irelay/base"

build_target() { # build_target SRC BIN PROGRAM_DIR PKGS [EXTRA_SRC...]
  local src=$1 bin=$2 dir=$3 pkgs=$4 libsrcs
  shift 4
  libsrcs="$(ls "$dir"/*.c relay/base/*.c | grep -v "^$dir/main.c$") $*"
  # shellcheck disable=SC2046
  clang $flags ${pkgs:+$(pkg-config --cflags $pkgs)} -I"$dir" -o "$bin" "$src" $libsrcs ${pkgs:+$(pkg-config --libs $pkgs)} -lpthread
}

status=0
for src in tests/fuzz/relay_*.c tests/fuzz/signalling_*.c tests/fuzz/sfu_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  case $name in "${2:-}"*) ;; *) continue ;; esac
  extra=""
  case $name in
    relay_*) dir=relay/turn; pkgs="openssl liburing" ;;
    sfu_*) dir=relay/sfu; pkgs="nice glib-2.0 gio-2.0 openssl libsrtp2 hiredis jansson libavformat libavcodec libavutil" ;;
    signalling_*) dir=signalling; pkgs="libwebsockets jansson hiredis libsodium openssl libuv libpq libavformat libavcodec libavutil libzip"
      # the embedded Redis Functions library is generated from signalling/lua/*.lua
      make --no-print-directory build/gen/lua_library.c build/gen/sql_migrations.c >/dev/null
      extra="build/gen/lua_library.c build/gen/sql_migrations.c" ;;
  esac
  bin=$out/$name
  echo "== $name: building"
  # shellcheck disable=SC2086
  build_target "$src" "$bin" "$dir" "$pkgs" $extra
  corpus=tests/fuzz/corpus/$name
  scratch=$out/$name.new
  mkdir -p "$corpus" "$scratch"
  # FUZZ_RUNS=N: stop after N executions instead of after SECONDS (a campaign of a fixed size).
  if [ -n "${FUZZ_RUNS:-}" ]; then limit="-runs=$FUZZ_RUNS"; echo "== $name: fuzzing for $FUZZ_RUNS executions"
  else limit="-max_total_time=$secs"; echo "== $name: fuzzing for ${secs}s"; fi
  if ! (cd "$out" && "./$name" "$limit" -max_len=4096 -timeout=10 \
        -artifact_prefix="$name-" "$name.new" "../../$corpus" 2>"$name.log"); then
    echo "== $name: FAILED, see $out/$name.log and $out/$name-crash-*" >&2
    status=1
  fi
  tail -n 3 "$out/$name.log"
  # Minimise corpus + new inputs into a fresh set (hand-made seed_* files are always kept).
  min=$out/$name.min
  rm -rf "$min"; mkdir -p "$min"
  # -use_counters=0: keep an input for each new edge, not for each new hit count (a small corpus).
  "$bin" -merge=1 -use_counters=0 "$min" "$corpus" "$scratch" 2>>"$out/$name.log" >/dev/null || true
  cp "$corpus"/seed_* "$min"/ 2>/dev/null || true
  if [ "$(ls "$min" | wc -l)" -gt 0 ]; then
    rm -rf "$corpus"; mv "$min" "$corpus"
  fi
  rm -rf "$scratch" "$min"
  echo "== $name: corpus now $(ls "$corpus" | wc -l) files"
done
exit $status
