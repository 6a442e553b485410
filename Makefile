# polyai-handoff: build, install, demo, test, bench.
# `make demo` and `make test` work on a fresh Debian 12 machine with Swift:
# they install the Debian packages they need first.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
CC      ?= cc
SWIFT   ?= swift

VERSION := $(shell sed -n 's/^\#define HANDOFF_VERSION "\(.*\)"/\1/p' include/polyai_handoff.h)
MAJOR   := $(shell sed -n 's/^\#define HANDOFF_VERSION_MAJOR \([0-9]*\)/\1/p' include/polyai_handoff.h)
LIBNAME := libpolyai_handoff.so
SONAME  := $(LIBNAME).$(MAJOR)

BUILD   := build
# Release builds link the Swift runtime in (the library, and the sandbox that
# the tools package ships) and carry no $$ORIGIN rpath: nothing they load
# lives beside them.
RELEASE := -c release --static-swift-stdlib --disable-local-rpath
SWIFT_RELEASE = $(shell $(SWIFT) build $(RELEASE) --show-bin-path)
CFLAGS_C := -std=c99 -Wall -Wextra -Werror -O2 -Iinclude

DEBIAN_PACKAGES := libcurl4-openssl-dev libjansson-dev libssl-dev pkg-config valgrind curl gcc make nginx openssl iproute2 python3 tinyproxy abigail-tools jq lintian mmdebstrap dpkg-dev file \
                   groff-base man-db

.PHONY: all deps build lib sandbox cli install demo test test-swift test-abi test-install test-fuzz \
        test-sanitizers test-sandbox e2e deb test-deb bench bench-kamailio bench-wan clean

all: build

# Installs what is missing, by Debian package name.
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: lib sandbox cli

# The .so is staged as the installed layout: real file, soname link, dev link.
# `install` writes a new file rather than over the old one, so a Kamailio or
# a test that has the library loaded keeps its copy through a rebuild.
# LIB_SWIFT_FLAGS and LIB_OUT stage another build of it the same way
# (scripts/sanitized-abi.sh: a sanitizer build, in build/asan/lib).
LIB_SWIFT_FLAGS := $(RELEASE)
LIB_OUT := $(BUILD)/lib
lib:
	$(SWIFT) build $(LIB_SWIFT_FLAGS) --product polyai_handoff
	@mkdir -p $(LIB_OUT)
	install -m 0755 $$($(SWIFT) build $(LIB_SWIFT_FLAGS) --show-bin-path)/$(LIBNAME) $(LIB_OUT)/$(LIBNAME).$(VERSION)
	ln -sf $(LIBNAME).$(VERSION) $(LIB_OUT)/$(SONAME)
	ln -sf $(SONAME) $(LIB_OUT)/$(LIBNAME)

sandbox:
	$(SWIFT) build $(RELEASE) --product polyai-handoff-sandbox
	@mkdir -p $(BUILD)/bin
	install -m 0755 $(SWIFT_RELEASE)/polyai-handoff-sandbox $(BUILD)/bin/

# The CLI is plain C against the public header, linked to the staged .so.
cli: lib
	@mkdir -p $(BUILD)/bin
	$(CC) $(CFLAGS_C) cli/polyai-handoff.c -o $(BUILD)/bin/polyai-handoff \
	  -L$(BUILD)/lib -lpolyai_handoff -Wl,-rpath,'$$ORIGIN/../lib'

install: build
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/polyai-handoff
	install -m 0755 $(BUILD)/lib/$(LIBNAME).$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBNAME).$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(LIBNAME)
	install -m 0644 include/polyai_handoff.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  packaging/polyai-handoff.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/polyai-handoff.pc
	install -m 0755 $(BUILD)/bin/polyai-handoff $(BUILD)/bin/polyai-handoff-sandbox $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 Sources/Sandbox/fixtures.json $(DESTDIR)$(PREFIX)/share/polyai-handoff/
	@# man/ gzipped (-9n, as Debian ships pages), the version in .Os, these paths.
	scripts/install-man.sh $(DESTDIR)$(MANDIR) $(PREFIX) $(LIBDIR) $(VERSION)

# The main job: a real lookup through the C ABI against the bundled sandbox.
demo: deps build
	@scripts/demo.sh $(BUILD)

# Everything, in order of how fast it fails.
test: deps build test-swift test-abi test-sandbox test-install test-fuzz test-sanitizers e2e test-deb

test-swift:
	$(SWIFT) test

test-abi:
	LIB_DIR=$(CURDIR)/$(BUILD)/lib SANDBOX=$(CURDIR)/$(BUILD)/bin/polyai-handoff-sandbox \
	CLI=$(CURDIR)/$(BUILD)/bin/polyai-handoff VALGRIND=1 Tests/abi/run.sh

# The sandbox's DNI reservation endpoint, with curl against real sandboxes.
test-sandbox: sandbox
	SANDBOX=$(CURDIR)/$(BUILD)/bin/polyai-handoff-sandbox bash Tests/sandbox/dni.sh

# Installs into a scratch DESTDIR and builds the README example with pkg-config;
# checks the man pages, in man/ and as installed (Tests/man/run.sh).
test-install:
	@Tests/install/run.sh

# libFuzzer over the response path for a bounded time (FUZZ_SECONDS).
test-fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} Tests/fuzz/run.sh

# The Swift suite again under AddressSanitizer and ThreadSanitizer (it drives
# clients from many threads against a real loopback server), then the C ABI
# tests against the library itself built with each sanitizer: the ABI edge
# (handles, arenas, lazily published names) as C hosts use it.
# sanitized-abi.sh runs the C tests against the sandbox, so it needs it built.
test-sanitizers: sandbox
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/sanitizers/lsan.supp $(SWIFT) test --sanitize=address --scratch-path .build-asan
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan
	@scripts/sanitized-abi.sh address
	@scripts/sanitized-abi.sh thread

STAGED_ENV = LIB_DIR=$(CURDIR)/$(BUILD)/lib INCLUDE_DIR=$(CURDIR)/include \
  SANDBOX=$(CURDIR)/$(BUILD)/bin/polyai-handoff-sandbox FIXTURES=$(CURDIR)/Sources/Sandbox/fixtures.json

# Kamailio with our module routing SIPp calls, checked header by header.
e2e: build
	$(STAGED_ENV) examples/kamailio/e2e.sh

# The Debian packages (packaging/deb/build.sh), in build/deb.
deb: build
	$(STAGED_ENV) examples/kamailio/build.sh >/dev/null
	packaging/deb/build.sh $(BUILD)/deb

# Installs the packages into a new Debian 12 root and runs the CLI and
# Kamailio there (needs root and the Debian archive; see README).
test-deb: deb
	Tests/deb/run.sh $(BUILD)/deb

# Against raw libcurl+jansson, naive per-lookup handles and curl | jq (BENCH_QUICK=1: a short run).
bench: build
	bench/run.sh

# Our Kamailio module against Kamailio's own http_client + jansson.
bench-kamailio: build
	$(STAGED_ENV) examples/kamailio/bench.sh

# Lookup latency over a simulated 50 ms WAN (network namespaces and an
# NFQUEUE delay line; needs root). BENCH_WAN_QUICK=1: a run of a few minutes.
bench-wan: build
	bench/wan/run.sh

clean:
	rm -rf $(BUILD) .build .build-asan .build-tsan .build-asan-lib .build-tsan-lib
