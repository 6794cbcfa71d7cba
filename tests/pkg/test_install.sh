# `cmake --install` of this build tree into a temporary prefix, used as a program outside the tree would: the
# installed files, the exported symbols (llamac_* only), examples/ built three ways (pkg-config, find_package, a C++
# file) and, when this build embeds llama.cpp (LLAMAC_STATIC), with the static library too (llamac-static.pc,
# llamac::llamac_static); each program runs against the installed library and prints llama.cpp's greedy text.
# Then an install under DESTDIR for the prefix /usr: /etc, the unit's paths, and a kept configuration file.
. "$(dirname "$0")/../cli/lib.sh"
BUILD=${LLAMAC_BUILD_DIR:?LLAMAC_BUILD_DIR is set by ctest}
if [ "${LLAMAC_SANITIZE:-OFF}" = ON ]; then
  # A program not built with ASan cannot load a library that is (the runtime must come first); nobody installs one.
  echo "SKIP: a sanitizer build is not installed; the plain and LLAMAC_STATIC trees test installing" >&2
  exit 77
fi
SRC=$LLAMAC_SOURCE_DIR
P="$TMP/prefix"
rm -rf "$P" "$TMP/stage" "$TMP/ex-"*
MODEL="$MODELS/stories260K.gguf"
GREEDY="$REF/greedy/1.txt" # llama.cpp's greedy text for simple.c's prompt and length

if "$CMAKE" --install "$BUILD" --prefix "$P" > "$TMP/install.log" 2>&1; then pass; else
  fail "cmake --install: $(tail -5 "$TMP/install.log")"
  finish
  exit 1
fi

# A shared llama.cpp is found where this build found it (an installed llama.cpp would be in the system's path).
LLAMA_LIBS=${LLAMAC_LLAMA_LIB_DIR:-}
LINK_PATH=${LLAMAC_LLAMA_LIB_DIR:+-Wl,-rpath-link,$LLAMAC_LLAMA_LIB_DIR}

# ---- the files -----------------------------------------------------------------------------------------------------
libdir=$(dirname "$(find "$P" -name 'libllamac.so.*.*.*' | head -1)")
lib=$(find "$libdir" -name 'libllamac.so.*.*.*' | head -1)
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
version=$(LD_LIBRARY_PATH=$LLAMA_LIBS "$P/bin/llamac" --version | sed -n 's/^llamac //p')
expect_contains "version" "$version" "."
# The installed command has the build's backends (RPC included: its ggml library is embedded or installed beside).
expect_eq "backends" "$(LD_LIBRARY_PATH=$LLAMA_LIBS "$P/bin/llamac" --version | grep '^backends:')" \
  "$("$LLAMAC" --version | grep '^backends:')"
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then expect_eq "SONAME" "$soname" "libllamac.so.0.$minor"; else
  expect_eq "SONAME" "$soname" "libllamac.so.$major"; fi
expect_eq "library file" "$(basename "$lib")" "libllamac.so.$version"
expect_eq "SONAME link" "$(readlink "$libdir/$soname")" "$(basename "$lib")"
expect_eq "development link" "$(readlink "$libdir/libllamac.so")" "$soname"
for f in include/llamac.h $(cd "$SRC/include" && ls llamac/*.h | sed 's|^|include/|') bin/llamac \
  etc/llamac/serve.conf lib/systemd/system/llamac-serve@.service share/bash-completion/completions/llamac \
  share/zsh/site-functions/_llamac share/man/man1/llamac.1 share/man/man1/llamac-serve.1; do
  if [ -e "$P/$f" ]; then pass; else fail "not installed: $f"; fi
done
for f in pkgconfig/llamac.pc cmake/llamac/llamacConfig.cmake cmake/llamac/llamacConfigVersion.cmake; do
  if [ -e "$libdir/$f" ]; then pass; else fail "not installed: $libdir/$f"; fi
done
# The man pages: the build's (tests/pkg/test_man.sh compares them with --help), one per command; man finds them.
expect_eq "man pages installed" "$(cd "$P/share/man/man1" && ls)" "$(cd "$BUILD/man/man1" && ls)"
expect_eq "man pages for the commands" "$(cd "$P/share/man/man1" && ls | grep -c '^llamac-')" \
  "$(LD_LIBRARY_PATH=$LLAMA_LIBS "$P/bin/llamac" --help | sed -n '/^commands:/,/^$/p' | grep -c '^  [a-z]')"
expect_contains "man llamac-serve from the prefix" "$(MANPATH="$P/share/man" MANWIDTH=100 LC_ALL=C man llamac-serve \
  2> /dev/null)" "llamac-serve - an OpenAI-compatible HTTP server"
for h in "$SRC"/include/llamac.h "$SRC"/include/llamac/*.h; do
  if cmp -s "$h" "$P/include/${h#"$SRC"/include/}"; then pass; else fail "installed header differs: $h"; fi
done

# Only llamac_* is exported; with llama.cpp embedded, none of llama.cpp is needed or imported either.
bad=$(nm -D --defined-only "$lib" | awk '$3 !~ /^llamac_/ { print $3 }' | head -5)
expect_eq "exported symbols other than llamac_*" "$bad" ""
expect_eq "exported llamac_* symbols" "$(nm -D --defined-only "$lib" | awk '$3 ~ /^llamac_/' | wc -l | tr -d ' ')" \
  "$(perl -0ne 'while (/LLAMAC_API\b[^;(]*?\b(llamac_\w+)\s*\(/g) { print "$1\n" }' "$SRC"/include/llamac/*.h |
    wc -l | tr -d ' ')"
if [ "$LLAMAC_STATIC" = ON ]; then
  needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -E 'llama|ggml|mtmd' || true)
  expect_eq "llama.cpp libraries needed by the embedding library" "$needed" ""
  imported=$(nm -D --undefined-only "$lib" | awk '$2 ~ /^(llama_|ggml_|gguf_|mtmd_)/' | head -3)
  expect_eq "llama.cpp symbols imported by the embedding library" "$imported" ""
  llama_files=$(find "$P" -name 'libllama[.-]*' -o -name 'libggml*' -o -name 'libmtmd*' -o -name 'llama.h')
  expect_eq "llama.cpp's files installed" "$llama_files" ""
  if [ -e "$libdir/libllamac.a" ] && [ -e "$libdir/pkgconfig/llamac-static.pc" ]; then pass; else
    fail "static library or llamac-static.pc not installed"
  fi
fi

# The installed command finds the installed library beside it.
resolved=$(LD_LIBRARY_PATH=$LLAMA_LIBS ldd "$P/bin/llamac" | awk '$1 ~ /^libllamac/ { print $3 }')
expect_eq "the command's libllamac" "$(readlink -f "$resolved")" "$(readlink -f "$lib")"
# Programs built against the installed library find it through the library path.
export LD_LIBRARY_PATH="$libdir${LLAMA_LIBS:+:$LLAMA_LIBS}"

# check_example NAME BINARY : runs an example program on the model; simple prints llama.cpp's greedy text, tokens
# (C++) the version, the prompt's pieces and the start of the same text.
check_example() {
  local name=$1 bin=$2 rc=0
  case "$bin" in
    *tokens*)
      "$bin" "$MODEL" > "$TMP/o" 2> "$TMP/e" || rc=$?
      expect_eq "$name status" "$rc" 0
      expect_eq "$name version" "$(sed -n 1p "$TMP/o")" "llamac $version"
      expect_eq "$name pieces" "$(sed -n 2p "$TMP/o")" \
        "5 tokens: 1='<s>' 403=' Once' 407=' upon' 261=' a' 378=' time'"
      local text
      text=$(sed -n 's/^16 tokens generated (length): Once upon a time//p' "$TMP/o")
      if [ "${#text}" -gt 20 ] && [ "$(head -c ${#text} "$GREEDY")" == "$text" ]; then pass; else
        fail "$name text is not the start of llama.cpp's: $(sed -n 3p "$TMP/o")"
      fi
      ;;
    *)
      "$bin" "$MODEL" "Once upon a time" > "$TMP/o" 2> "$TMP/e" || rc=$?
      expect_eq "$name status" "$rc" 0
      if cmp -s "$TMP/o" "$GREEDY"; then pass; else fail "$name output differs from llama.cpp's: $(cat "$TMP/o")"; fi
      ;;
  esac
  [ "$rc" = 0 ] || echo "$name: $(cat "$TMP/e")" >&2
}

# ---- pkg-config ------------------------------------------------------------------------------------------------------
export PKG_CONFIG_PATH="$libdir/pkgconfig"
expect_eq "pkg-config --modversion" "$(pkg-config --modversion llamac)" "$version"
flags=$(pkg-config --cflags --libs llamac)
if "$CC" -std=c11 -Wall -Wextra -Wpedantic -Werror "$SRC/examples/simple.c" -o "$TMP/ex-pc-simple" $flags $LINK_PATH \
  2> "$TMP/err"; then check_example "pkg-config simple.c" "$TMP/ex-pc-simple"; else
  fail "cc simple.c: $(cat "$TMP/err")"
fi
if "$CXX" -std=c++17 -Wall -Wextra -Wpedantic -Werror "$SRC/examples/tokens.cpp" -o "$TMP/ex-pc-tokens" $flags \
  $LINK_PATH 2> "$TMP/err"; then check_example "pkg-config tokens.cpp" "$TMP/ex-pc-tokens"; else
  fail "c++ tokens.cpp: $(cat "$TMP/err")"; fi
resolved=$(ldd "$TMP/ex-pc-simple" 2> /dev/null | awk '$1 ~ /^libllamac/ { print $3 }')
expect_eq "pkg-config build runs the installed libllamac" "$(readlink -f "$resolved")" "$(readlink -f "$lib")"

# ---- find_package ----------------------------------------------------------------------------------------------------
# build_examples DIR ARGS... : examples/ as a project of its own against the installed llamac.
build_examples() {
  local dir=$1
  shift
  "$CMAKE" -S "$SRC/examples" -B "$dir" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
    -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=Release ${LINK_PATH:+-DCMAKE_EXE_LINKER_FLAGS=$LINK_PATH} "$@" \
    > "$dir.log" 2>&1 && "$CMAKE" --build "$dir" >> "$dir.log" 2>&1
}
if build_examples "$TMP/ex-cmake"; then
  check_example "find_package simple.c" "$TMP/ex-cmake/example_simple"
  check_example "find_package tokens.cpp" "$TMP/ex-cmake/example_tokens"
else
  fail "examples with find_package: $(tail -20 "$TMP/ex-cmake.log")"
fi

# ---- the static library ----------------------------------------------------------------------------------------------
if [ "$LLAMAC_STATIC" = ON ]; then
  expect_eq "llamac-static.pc version" "$(pkg-config --modversion llamac-static)" "$version"
  if "$CC" -std=c11 -Wall -Werror "$SRC/examples/simple.c" -o "$TMP/ex-static-simple" \
    $(pkg-config --cflags --libs llamac-static) 2> "$TMP/err"; then
    check_example "llamac-static.pc simple.c" "$TMP/ex-static-simple"
    needed=$(readelf -d "$TMP/ex-static-simple" | grep -c 'NEEDED.*libllamac' || true)
    expect_eq "statically linked program needs no libllamac" "$needed" 0
  else
    fail "cc simple.c with llamac-static: $(cat "$TMP/err")"
  fi
  if build_examples "$TMP/ex-cmake-static" -DLLAMAC_EXAMPLES_STATIC=ON; then
    check_example "llamac::llamac_static tokens.cpp" "$TMP/ex-cmake-static/example_tokens"
    needed=$(readelf -d "$TMP/ex-cmake-static/example_tokens" | grep -c 'NEEDED.*libllamac' || true)
    expect_eq "llamac::llamac_static program needs no libllamac" "$needed" 0
  else
    fail "examples with llamac::llamac_static: $(tail -20 "$TMP/ex-cmake-static.log")"
  fi
fi
# A project asking for a version this one is not compatible with is refused.
mkdir -p "$TMP/ex-version"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(v C)\nfind_package(llamac %s REQUIRED)\n' "$((major + 1)).0" \
  > "$TMP/ex-version/CMakeLists.txt"
rc=0; "$CMAKE" -S "$TMP/ex-version" -B "$TMP/ex-version/b" -DCMAKE_PREFIX_PATH="$P" > "$TMP/o" 2>&1 || rc=$?
expect_eq "find_package of an incompatible version fails" "$rc" 1
expect_contains "find_package of an incompatible version says so" "$(cat "$TMP/o")" \
  "requested version \"$((major + 1)).0\""

# ---- DESTDIR, the prefix /usr ----------------------------------------------------------------------------------------
S="$TMP/stage"
DESTDIR="$S" "$CMAKE" --install "$BUILD" --prefix /usr > "$TMP/install.log" 2>&1 || fail "DESTDIR install failed"
if [ -f "$S/etc/llamac/serve.conf" ] && [ -x "$S/usr/bin/llamac" ] && [ ! -e "$S/usr/etc" ]; then pass; else
  fail "DESTDIR install for /usr: $(cd "$S" && find . -maxdepth 3 | sort | head -20)"
fi
expect_eq "serve.conf is root's only" "$(stat -c %a "$S/etc/llamac/serve.conf")" 600
unit="$S/usr/lib/systemd/system/llamac-serve@.service"
expect_eq "unit ExecStart" "$(sed -n 's/^ExecStart=//p' "$unit")" \
  '/usr/bin/llamac serve --host ${LLAMAC_HOST} --port %i $LLAMAC_SERVE_FLAGS'
expect_eq "unit EnvironmentFile" "$(sed -n 's/^EnvironmentFile=//p' "$unit" | tr '\n' ' ')" \
  "/etc/llamac/serve.conf -/etc/llamac/serve-%i.conf "
if [ -f "$S/usr/share/man/man1/llamac-serve.1" ]; then pass; else fail "man page under /usr/share/man"; fi
if [ -f "$S/usr/share/zsh/vendor-completions/_llamac" ]; then pass; else fail "zsh completion for /usr"; fi
pc=$(find "$S/usr" -name llamac.pc)
expect_eq "llamac.pc prefix under DESTDIR" "$(sed -n 's/^prefix=//p' "$pc")" /usr
# A second install keeps the configuration the user edited.
echo "LLAMAC_MODEL=/srv/mine.gguf" >> "$S/etc/llamac/serve.conf"
DESTDIR="$S" "$CMAKE" --install "$BUILD" --prefix /usr > "$TMP/install.log" 2>&1 || fail "second DESTDIR install failed"
expect_contains "edited serve.conf kept" "$(cat "$S/etc/llamac/serve.conf")" "/srv/mine.gguf"
finish
