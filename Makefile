# The two commands the README leads with, and the rest of the developer loop.
#   make run             set up, build, run the main job on the default model
#   make test            set up, build, run the whole suite (ctest)
#   make                 build everything (the CLI is build/bin/llamac)
#   make test-sanitize   the suite under ASan + UBSan
#   make test-static     the suite with llama.cpp linked statically (the tree install and deb ship)
#   make install         install from that tree (PREFIX=/usr/local, DESTDIR honoured); make uninstall
#   make deb             Debian packages, for any x86-64 CPU with AVX2 (README: Install)
#   make format          clang-format the sources; make format-check verifies
#   make lint            cppcheck over the library and the command
#   make fuzz            every libFuzzer target explores for FUZZ_SECONDS (30) and grows tests/fuzz/corpus (clang)
#   make reference       regenerate tests/reference from llama.cpp's own tools
#   make bench           llamac against llama.cpp's llama-bench, same machine, same run (README: Performance)
#   make screenshots     the README's light and dark pictures of the chat page, from its browser test
BUILD ?= build
ASAN_BUILD ?= build-asan
STATIC_BUILD ?= build-static
DEB_BUILD ?= build-deb
PREFIX ?= /usr/local
DESTDIR ?=
# A package runs on other machines: not tuned for this CPU (ggml then assumes AVX2, FMA and F16C on x86-64).
DEB_FLAGS ?= -DLLAMAC_NATIVE=OFF
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
CMAKE_FLAGS ?=
SOURCES = $(shell git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null)

.PHONY: all build setup run test test-sanitize static-build test-static install uninstall deb format format-check \
        lint fuzz reference bench screenshots clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: setup $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	@LLAMAC_BUILD=$(abspath $(BUILD)) scripts/run-default.sh

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# llamac's code instrumented, linked against the llama.cpp libraries of the normal build installed to a prefix
# (this also proves the LLAMA_PREBUILT_DIR path).
test-sanitize: build
	cmake --install $(BUILD)/llama.cpp --prefix $(abspath $(BUILD))/llama-prefix > /dev/null
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLAMAC_SANITIZE=ON \
	      -DLLAMA_PREBUILT_DIR=$(abspath $(BUILD))/llama-prefix $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS)

# llama.cpp as static archives: libllamac.so embeds it (exporting llamac_* only), libllamac.a carries it, the command
# links the shared library; the tests link the static one.
$(STATIC_BUILD)/CMakeCache.txt:
	cmake -S . -B $(STATIC_BUILD) -DLLAMAC_STATIC=ON $(CMAKE_FLAGS)

static-build: setup $(STATIC_BUILD)/CMakeCache.txt
	cmake --build $(STATIC_BUILD) -j$(JOBS)

test-static: static-build
	cd $(STATIC_BUILD) && ctest --output-on-failure -j$(JOBS)

install: static-build
	DESTDIR="$(DESTDIR)" cmake --install $(STATIC_BUILD) --prefix "$(PREFIX)"

# Removes what the last `make install` installed (its manifest).
uninstall:
	xargs -r -d '\n' rm -fv < $(STATIC_BUILD)/install_manifest.txt

# libllamac<SOVERSION>, libllamac-dev and llamac .deb files in $(DEB_BUILD)/deb (cmake/Deb.cmake).
deb: setup
	cmake -S . -B $(DEB_BUILD) -DLLAMAC_STATIC=ON -DLLAMAC_BUILD_TESTS=OFF $(CMAKE_FLAGS) $(DEB_FLAGS)
	cmake --build $(DEB_BUILD) -j$(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB
	@ls $(DEB_BUILD)/deb/*.deb

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run --Werror $(SOURCES)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance --std=c11 -I include -I src \
	         src server tools tests/unit tests/fuzz

# Each target from its committed corpus for FUZZ_SECONDS; the new inputs that add coverage are merged into the corpus
# (libFuzzer's -merge=1): commit them. A crash fails, printing the reproducer (scripts/fuzz.sh).
fuzz: build
	BUILD=$(BUILD) JOBS=$(JOBS) scripts/fuzz.sh $(FUZZ_SECONDS)

reference:
	scripts/gen-reference.sh

# Builds llama.cpp's llama-bench from the same source (reference-tools, only on request), then interleaves it with
# llamac-bench on the standard set; writes bench/results/latest.{md,json}. BENCH_FLAGS passes options through
# (e.g. BENCH_FLAGS="-t 4 --quantizer build/reference/bin/llama-quantize"); see build/bin/llamac-bench-run --help.
BENCH_FLAGS ?=
bench: build
	cmake --build $(BUILD) --target reference-tools
	$(BUILD)/bin/llamac-bench-run $(BENCH_FLAGS)

# The browser test (tests/cli/test_webui.sh, needs Debian's chromium) writes them into server/webui/screenshots.
screenshots: build
	cd $(BUILD) && LLAMAC_WEBUI_SCREENSHOTS=$(CURDIR)/server/webui/screenshots ctest -R cli_test_webui --output-on-failure

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(STATIC_BUILD) $(DEB_BUILD)
