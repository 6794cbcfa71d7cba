#!/usr/bin/env bash
# Installs what building and testing llamac needs on Debian, and nothing else. As root it runs apt-get itself;
# otherwise it prints the exact command to run and stops. Safe to run again: it only installs what is missing.
set -euo pipefail

# command -> Debian package
required=(g++:g++ make:make cmake:cmake git:git npm:npm tar:tar sha256sum:coreutils pkg-config:pkg-config tmux:tmux
          curl:curl jq:jq openssl:openssl
          haproxy:haproxy systemd-analyze:systemd) # the last two: tests/cli/test_deploy_haproxy.sh checks deploy/
# packaging (make deb, tests/pkg): Debian dependencies read from the binaries, file types for CPack, man pages, the
# zsh completion
required+=(dpkg-shlibdeps:dpkg-dev file:file man:man-db zsh:zsh)
# libraries llamac links (no command to look for: checked with dpkg): jansson reads JSON (chat templates, requests),
# libcurl downloads (Hugging Face), libmicrohttpd serves HTTP (llamac serve), libedit edits lines (llamac chat)
required_pkgs=(libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev libedit-dev)
# Debian's python3 with the packages llama.cpp's own server test suite needs (tests/server_suite runs it against
# `llamac serve`; its `openai` package is not packaged by Debian, so the tests that need it are skipped)
required_pkgs+=(python3-pytest python3-requests python3-aiohttp python3-numpy python3-wget python3-filelock
                python3-prometheus-client)
optional=(ccache:ccache)
extra=("$@") # further packages a caller needs (e.g. clang-format for CI)

missing=()
for pair in "${required[@]}" "${optional[@]}"; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
for pkg in "${required_pkgs[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
# Not root: the optional ones are not worth stopping for.
hard=()
for pkg in "${missing[@]}"; do
  [ "$pkg" = ccache ] || hard+=("$pkg")
done
if [ ${#hard[@]} -gt 0 ]; then
  echo "setup: missing packages. Run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
