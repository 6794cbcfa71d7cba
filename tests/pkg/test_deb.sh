# `make deb`'s packages, from this build tree (cpack, as `make deb` runs it): their contents, their dependencies
# (every library a binary needs comes from a package it depends on), installed with dpkg into a throwaway root whose
# package database holds the host's records of those dependencies; the installed llamac runs from there, the
# llamac-serve@ unit's command with its /etc flags serves, man finds its pages, and removing and purging take
# everything away.
# The packages embed llama.cpp, so this runs in the LLAMAC_STATIC build (make test-static).
. "$(dirname "$0")/../cli/lib.sh"
BUILD=${LLAMAC_BUILD_DIR:?LLAMAC_BUILD_DIR is set by ctest}
if [ "$LLAMAC_STATIC" != ON ]; then
  echo "SKIP: the packages embed llama.cpp: built and tested in the LLAMAC_STATIC tree (make test-static)" >&2
  exit 77
fi
for tool in dpkg dpkg-deb dpkg-shlibdeps dpkg-query file curl; do
  if ! command -v $tool > /dev/null; then
    echo "SKIP: $tool not found (scripts/setup.sh installs it on Debian)" >&2
    exit 77
  fi
done
. "$(dirname "$0")/../cli/serve_lib.sh"
D="$TMP/deb"
R="$TMP/root"
rm -rf "$D" "$R"

if "$CPACK" --config "$BUILD/CPackConfig.cmake" -G DEB -B "$D" > "$TMP/cpack.log" 2>&1; then pass; else
  fail "cpack: $(tail -20 "$TMP/cpack.log")"
  finish
  exit 1
fi
lib_deb=$(ls "$D"/libllamac0*.deb 2> /dev/null)
dev_deb=$(ls "$D"/libllamac-dev_*.deb 2> /dev/null)
bin_deb=$(ls "$D"/llamac_*.deb 2> /dev/null)
if [ -f "$lib_deb" ] && [ -f "$dev_deb" ] && [ -f "$bin_deb" ]; then pass; else
  fail "three packages expected: $(ls "$D")"
  finish
  exit 1
fi
field() { dpkg-deb -f "$1" "$2"; }
lib_pkg=$(field "$lib_deb" Package)
version=$(field "$lib_deb" Version)
upstream=$(LD_LIBRARY_PATH= "$LLAMAC" --version | sed -n 's/^llamac //p')
expect_eq "package version" "$version" "$upstream-1"
expect_eq "library package name (Debian's rule for the SONAME)" "$lib_pkg" \
  "$(readelf -d "$LLAMAC_LIBRARY" | sed -n 's/.*(SONAME).*\[libllamac\.so\.\(.*\)\]/libllamac\1/p')"
expect_eq "architecture" "$(field "$bin_deb" Architecture)" "$(dpkg --print-architecture)"

# ---- contents ------------------------------------------------------------------------------------------------------
files() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||' | sort; }
files "$lib_deb" > "$TMP/lib.files"
files "$dev_deb" > "$TMP/dev.files"
files "$bin_deb" > "$TMP/bin.files"
expect_eq "library package files" "$(grep -c 'libllamac\.so\.' "$TMP/lib.files")" 2
for f in /usr/include/llamac.h /usr/include/llamac/base.h /usr/include/llamac/hub.h; do
  if grep -qx "$f" "$TMP/dev.files"; then pass; else fail "$f not in $dev_deb"; fi
done
for f in libllamac.so libllamac.a pkgconfig/llamac.pc pkgconfig/llamac-static.pc cmake/llamac/llamacConfig.cmake \
  cmake/llamac/llamacConfigVersion.cmake; do
  if grep -q "^/usr/lib/.*$f$\|^/usr/lib/$f$" "$TMP/dev.files"; then pass; else fail "$f not in $dev_deb"; fi
done
for f in /usr/bin/llamac /etc/llamac/serve.conf /usr/lib/systemd/system/llamac-serve@.service \
  /usr/share/bash-completion/completions/llamac /usr/share/zsh/vendor-completions/_llamac \
  /usr/share/man/man1/llamac.1 /usr/share/man/man1/llamac-serve.1 /usr/share/man/man1/llamac-run.1; do
  if grep -qx "$f" "$TMP/bin.files"; then pass; else fail "$f not in $bin_deb"; fi
done
if cat "$TMP"/*.files | grep -E 'libllama[.-]|libggml|libmtmd|/usr/local|/usr/etc|/work/'; then
  fail "packages hold llama.cpp's libraries or paths of this build"
else pass; fi
dpkg-deb -e "$bin_deb" "$TMP/bin.control"
dpkg-deb -e "$lib_deb" "$TMP/lib.control"
expect_eq "conffiles" "$(cat "$TMP/bin.control/conffiles")" /etc/llamac/serve.conf
expect_eq "shlibs" "$(cat "$TMP/lib.control/shlibs")" \
  "libllamac ${lib_pkg#libllamac} $lib_pkg (= $version)"
expect_eq "ldconfig trigger" "$(grep -v '^#' "$TMP/lib.control/triggers")" "activate-noawait ldconfig"

# ---- dependencies --------------------------------------------------------------------------------------------------
# deps_cover NAME DEB BINARY: each library BINARY needs (other than libllamac) is in a package DEB depends on.
deps_cover() {
  local depends
  depends=$(field "$2" Depends)
  for so in $(readelf -d "$3" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$so" in libllamac.so.*) continue ;; esac
    local path owner
    path=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
    owner=$(dpkg -S "$(readlink -f "$path")" 2> /dev/null | head -1 | cut -d: -f1)
    [ -n "$owner" ] || owner=$(dpkg -S "$path" 2> /dev/null | head -1 | cut -d: -f1)
    case ", $depends," in
      *", $owner "* | *", $owner,"* | *"| $owner "* | *"| $owner,"*) pass ;;
      *) fail "$1: $so (package '$owner') is not in Depends: $depends" ;;
    esac
  done
}
deps_cover "library package" "$lib_deb" "$LLAMAC_LIBRARY"
deps_cover "command package" "$bin_deb" "$LLAMAC"
expect_contains "command depends on this library" "$(field "$bin_deb" Depends)" "$lib_pkg (= $version)"
expect_contains "dev depends on this library" "$(field "$dev_deb" Depends)" "$lib_pkg (= $version)"
expect_contains "dev depends on jansson's headers (static linking)" "$(field "$dev_deb" Depends)" "libjansson-dev"
for d in "$lib_deb" "$dev_deb" "$bin_deb"; do
  if field "$d" Depends | grep -qE 'libllama[0-9-]|ggml|mtmd|llama\.cpp'; then fail "$d depends on llama.cpp"; else
    pass
  fi
done

# ---- install into a throwaway root ---------------------------------------------------------------------------------
# Its package database records the host's packages that ours depend on (one alternative of each, as installed), so
# dpkg checks the Depends against real, installed versions.
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
touch "$R/var/lib/dpkg/available"
: > "$R/var/lib/dpkg/status"
for d in "$lib_deb" "$dev_deb" "$bin_deb"; do field "$d" Depends | tr ',' '\n'; done | sort -u > "$TMP/deps"
while IFS= read -r group; do
  [ -n "$group" ] || continue
  found=""
  IFS='|' read -ra alts <<< "$group"
  for alt in "${alts[@]}"; do
    name=$(echo "$alt" | awk '{ print $1 }')
    case "$name" in libllamac*) found=ours; break ;; esac
    if dpkg-query -W -f='${Status}' "$name" 2> /dev/null | grep -q "install ok installed"; then
      found=$name
      break
    fi
  done
  if [ -z "$found" ]; then
    fail "no installed package on this machine satisfies '$group'"
  elif [ "$found" != ours ] && ! grep -qx "Package: $found" "$R/var/lib/dpkg/status"; then
    { dpkg-query -s "$found"; echo; } >> "$R/var/lib/dpkg/status"
    touch "$R/var/lib/dpkg/info/$(dpkg-query -W -f='${binary:Package}' "$found").list" # its files are the host's
  fi
done < "$TMP/deps"
dpkg_root() { dpkg --root="$R" --force-script-chrootless --log=/dev/null "$@"; }
if dpkg_root -i "$lib_deb" "$dev_deb" "$bin_deb" > "$TMP/dpkg.log" 2>&1; then pass; else
  fail "dpkg -i into the root: $(tail -20 "$TMP/dpkg.log")"
fi
installed=$(dpkg-query --root="$R" -W -f='${db:Status-Abbrev}${Package}\n' | grep -cE "^ii *(llamac|libllamac)")
expect_eq "installed in the root" "$installed" 3

rc=0; LD_LIBRARY_PATH= "$R/usr/bin/llamac" --version > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "llamac --version from the root" "$rc" 0
expect_eq "its version" "$(sed -n 1p "$TMP/o")" "llamac $upstream"
resolved=$(LD_LIBRARY_PATH= ldd "$R/usr/bin/llamac" | awk '$1 ~ /^libllamac/ { print $3 }')
expect_eq "it runs the root's libllamac" "$(readlink -f "$resolved")" "$(readlink -f "$R/usr/lib/$(
  cd "$R/usr/lib" && ls libllamac.so.*.*.* 2> /dev/null | head -1)")"

# man finds the root's pages.
page=$(MANPATH="$R/usr/share/man" LC_ALL=C man llamac-serve 2> /dev/null)
expect_contains "man llamac-serve from the root" "$page" \
  "llamac-serve - an OpenAI-compatible HTTP server"

# The unit's command for an instance (a free port), with the flags of its EnvironmentFile as shipped but for the
# model (set as an administrator would).
unit="$R/usr/lib/systemd/system/llamac-serve@.service"
conf="$R/etc/llamac/serve.conf"
sed -i "s|^LLAMAC_MODEL=.*|LLAMAC_MODEL=$MODELS/stories260K.gguf|" "$conf"
port=$(free_port)
unit_exec "$unit" "$port" "$R"
expect_eq "unit runs the package's llamac" "${unit_argv[0]} ${unit_argv[1]}" "/usr/bin/llamac serve"
env -i PATH="$PATH" "${unit_env[@]}" "$R${unit_argv[0]}" "${unit_argv[@]:1}" > "$TMP/service.out" \
  2> "$TMP/service.log" &
await_server service $!
expect_eq "service address (LLAMAC_HOST, the instance's port)" "$service_URL" "http://127.0.0.1:$port"
req GET "$service_URL/v1/models"
expect_eq "service /v1/models" "$code" 200
expect_eq "service model (from LLAMAC_MODEL)" "$(jqr '.data[0].id')" "stories260K.gguf"
req GET "$service_URL/"
expect_eq "service chat page (embedded in the command)" "$code $(grep -c '<html' "$TMP/body")" "200 1"
req GET "$service_URL/metrics"
expect_eq "service /metrics (--metrics in LLAMAC_SERVE_FLAGS)" "$code" 200
stop_server "$service_PID"
expect_eq "service stops on SIGTERM" "$stop_rc" 0

# systemd's own check of the unit (where systemd is installed), its paths pointing into the root.
if command -v systemd-analyze > /dev/null; then
  mkdir -p "$TMP/unit"
  sed "s|^ExecStart=/|ExecStart=$R/|; s|^EnvironmentFile=\(-\?\)/|EnvironmentFile=\1$R/|" "$unit" \
    > "$TMP/unit/llamac-serve@.service"
  if (cd "$TMP/unit" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no llamac-serve@8080.service) \
    > "$TMP/verify.log" 2>&1 && [ ! -s "$TMP/verify.log" ]; then pass; else
    fail "systemd-analyze verify: $(cat "$TMP/verify.log")"
  fi
fi

# ---- remove, purge -------------------------------------------------------------------------------------------------
dpkg_root -r llamac libllamac-dev "$lib_pkg" > "$TMP/dpkg.log" 2>&1 || fail "dpkg -r: $(tail -5 "$TMP/dpkg.log")"
if [ ! -e "$R/usr/bin/llamac" ] && [ -z "$(ls "$R/usr/lib" | grep libllamac)" ] && [ -f "$conf" ]; then pass; else
  fail "after dpkg -r: files left, or the configuration file removed"
fi
dpkg_root -P llamac > "$TMP/dpkg.log" 2>&1 || fail "dpkg -P: $(tail -5 "$TMP/dpkg.log")"
if [ ! -e "$conf" ]; then pass; else fail "configuration file left after purge"; fi
finish
