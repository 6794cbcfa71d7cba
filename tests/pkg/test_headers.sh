# The public headers as a user's compiler sees them: llamac.h and every part under llamac/ compile on their own and
# twice over (include guards) as C11, C17 and C++17 with strict warnings as errors, with this build's compilers and
# clang/gcc when installed; in C++ every function keeps C linkage (extern "C"), and the functions the headers
# declare are exactly the symbols libllamac exports.
NEEDS_MODELS=0
. "$(dirname "$0")/../cli/lib.sh"
INC="$LLAMAC_SOURCE_DIR/include"
LIB=${LLAMAC_LIBRARY:?LLAMAC_LIBRARY is set by ctest}
cwarn=(-Werror -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef
       -Wcast-qual -Wvla -Wc++-compat)
cxxwarn=(-Werror -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Wold-style-cast -Wzero-as-null-pointer-constant
         -Wundef)

ccs=("$CC")
cxxs=("$CXX")
for pair in gcc:g++ clang:clang++; do
  c=$(command -v "${pair%%:*}" || true)
  x=$(command -v "${pair#*:}" || true)
  if [ -n "$c" ] && [ -n "$x" ] && [ "$(readlink -f "$c")" != "$(readlink -f "$CC")" ]; then
    ccs+=("$c")
    cxxs+=("$x")
  fi
done

# The functions a header declares (LLAMAC_API ... llamac_name(), declarations may span lines).
declared() {
  perl -0ne 'while (/LLAMAC_API\b[^;(]*?\b(llamac_\w+)\s*\(/g) { print "$1\n" }' "$@"
}

headers=(llamac.h)
for h in "$INC"/llamac/*.h; do
  headers+=("llamac/$(basename "$h")")
done
for h in "${headers[@]}"; do
  printf '#include <%s>\n#include <%s>\n' "$h" "$h" > "$TMP/one.c"
  for cc in "${ccs[@]}"; do
    for std in c11 c17; do
      if "$cc" -std=$std "${cwarn[@]}" -I"$INC" -fsyntax-only "$TMP/one.c" 2> "$TMP/err"; then pass; else
        fail "$h as $std with $cc: $(cat "$TMP/err")"
      fi
    done
  done
  # C++17: the part compiles, and each function it declares is referenced under its C name (not a mangled one).
  names=$(declared "$INC/$h")
  {
    printf '#include <%s>\n#include <%s>\n' "$h" "$h"
    i=0
    for n in $names; do
      printf 'using t%d = decltype(&%s);\nextern const t%d ref%d;\nconst t%d ref%d = &%s;\n' $i "$n" $i $i $i $i "$n"
      i=$((i + 1))
    done
  } > "$TMP/one.cpp"
  for cxx in "${cxxs[@]}"; do
    if "$cxx" -std=c++17 "${cxxwarn[@]}" -I"$INC" -c "$TMP/one.cpp" -o "$TMP/one.o" 2> "$TMP/err"
    then
      got=$(nm --undefined-only "$TMP/one.o" | awk '$2 ~ /^llamac_/ { print $2 }' | sort)
      expect_eq "$h as C++17 with $cxx: functions with C linkage" "$got" "$(printf '%s\n' $names | sort | sed '/^$/d')"
    else
      fail "$h as c++17 with $cxx: $(cat "$TMP/err")"
    fi
  done
done

# The umbrella declares what the parts declare, and that is exactly what the library exports.
all=$(declared "$INC"/llamac/*.h | sort)
expect_eq "functions declared" "$(echo "$all" | wc -l | tr -d ' ')" "$(echo "$all" | sort -u | wc -l | tr -d ' ')"
exported=$(nm -D --defined-only "$LIB" | awk '{ print $3 }' | sort)
if [ "$exported" == "$all" ]; then pass; else
  fail "exported symbols differ from the declared functions: $(diff <(echo "$all") <(echo "$exported") | head -20)"
fi
finish
