# scripts/reference/lib.sh - what the reference scripts share (sourced; needs $root, the source tree): llama.cpp's
# tools built from the pinned source, and the pinned llama-server started on a free loopback port.

# ref_tools TARGET...: builds llama.cpp's TARGETs (llama-completion, llama-mtmd-cli, ...) from the pinned source,
# fetched into .deps/llama.cpp first, in .deps/build-ref; sets ref_bin to the folder that holds them.
ref_tools() {
  local src="$root/.deps/llama.cpp" build="$root/.deps/build-ref" launcher=()
  if command -v ccache > /dev/null; then
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  "$root/scripts/fetch-llama.sh" "$src"
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
    "${launcher[@]}" > /dev/null
  cmake --build "$build" -j"$(nproc)" --target "$@" > /dev/null
  ref_bin="$build/bin"
}

# free_port: prints a free loopback port (binds port 0 and reads back what the kernel chose).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The pinned llama-server: $LLAMA_SERVER, or the reference-tools build's
# (cmake --build build --target reference-tools).
llama_server=${LLAMA_SERVER:-"$root/build/reference/bin/llama-server"}

# ref_server_start LOG ARG...: starts llama-server with ARGs on 127.0.0.1 and a free port, its output in LOG, and
# waits up to 30 s for /health; sets ref_port and ref_pid. When it does not come up: the log's last lines on stderr,
# the server stopped, status 1.
ref_server_start() {
  local log=$1
  shift
  [ -x "$llama_server" ] || { echo "$llama_server not found (build the reference-tools target)" >&2; return 1; }
  ref_port=$(free_port)
  "$llama_server" "$@" --host 127.0.0.1 --port "$ref_port" > "$log" 2>&1 &
  ref_pid=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$ref_port/health" > /dev/null 2>&1 && return 0
    kill -0 "$ref_pid" 2> /dev/null || break
    sleep 0.1
  done
  echo "llama-server $* did not start:" >&2
  tail -5 "$log" >&2
  kill "$ref_pid" 2> /dev/null || true
  return 1
}

# ref_server_stop: stops the server ref_server_start started and waits for it.
ref_server_stop() {
  kill -TERM "$ref_pid" 2> /dev/null || true
  wait "$ref_pid" 2> /dev/null || true
}
