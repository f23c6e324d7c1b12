# relink — chained CNI plugin (bin/relink) and its companion daemon (bin/relinkd).
#
#   make                  build bin/relink and bin/relinkd
#   make check            install test prerequisites (apt, idempotent), run every test
#   make demo             cluster-in-a-box: migrate a bridge-bound VM, watch its network come back
#   make conformance      CNI conformance suite against bin/relink (or RELINK=/path/to/relink)
#   make bench            benchmarks (see BENCHMARKS.md)
#   make man              man pages build/man/relink.8, relinkd.8 (OPTIONS from relinkd --help)
#   make deb              dist/relink_$(VERSION)_amd64.deb (debhelper; lintian-clean)
#   make image            OCI image localhost/relink:$(VERSION) from the .deb, no registry (buildah)
#   make install          PREFIX=/usr/local DESTDIR= CNI_BIN_DIR=/opt/cni/bin (binaries, man pages)
#   make fuzz             libFuzzer targets (clang), FUZZ_SECONDS=60 each; fails on a crash, leak or UB
#   make SANITIZE=address,undefined check
#   make V=1              show commands

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
CNI_BIN_DIR ?= /opt/cni/bin
DESTDIR     ?=

# The release version: one line in VERSION, compiled into both binaries (relinkd --version,
# the plugin's banner and log) and used by the Debian package (make deb) and the image.
VERSION := $(shell cat VERSION)

CC       ?= cc
PKG_CONFIG ?= pkg-config
CFLAGS   ?= -O2 -g
WARNINGS := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wwrite-strings -Wno-unused-parameter
# Developer and CI builds fail on warnings; packagers can set WERROR=.
WERROR   ?= -Werror
ifneq ($(SANITIZE),)
SAN      := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif

PKGS_LIB     := libcjson libnl-3.0 libnl-route-3.0
PKGS_RELINKD := $(PKGS_LIB) libvirt libxml-2.0 libmicrohttpd

pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkg_libs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

# bin/relink runs once per CNI call: libnl is linked statically into it (about 0.5 MiB less RSS and
# less start-up work than loading libnl-3 + libnl-route-3). STATIC_LIBNL= links everything dynamically.
STATIC_LIBNL ?= 1
ifeq ($(STATIC_LIBNL),1)
RELINK_LIBS = $(call pkg_libs,libcjson) -Wl,-Bstatic $(call pkg_libs,libnl-route-3.0) -Wl,-Bdynamic
else
RELINK_LIBS = $(call pkg_libs,$(PKGS_LIB))
endif

ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE -I. $(WARNINGS) $(WERROR) $(CFLAGS) $(SAN) -MMD -MP \
              $(call pkg_cflags,$(PKGS_RELINKD))
ALL_LDFLAGS = $(LDFLAGS) $(SAN)

# Quiet unless V=1; `make -s` prints nothing at all.
ifeq ($(V),)
Q = @
ifeq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
quiet = @printf '  %-7s %s\n' $(1) $(2);
else
quiet = @
endif
endif

BUILD := build
BIN   := bin

# One job per directory: shared helpers, the only cJSON code, the plugin, the daemon.
LIB_SRC     := $(wildcard common/*.c netconf/*.c)
PLUGIN_SRC  := $(wildcard plugin/*.c)
TRIGGER_SRC := $(wildcard trigger/*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
FAKE_SRC    := $(wildcard tests/unit/fake_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_OBJ     := $(call obj,$(LIB_SRC))
PLUGIN_OBJ  := $(call obj,$(PLUGIN_SRC))
TRIGGER_OBJ := $(call obj,$(TRIGGER_SRC))
# Unit tests link everything but the two main()s …
PLUGIN_LIBOBJ  := $(filter-out $(BUILD)/plugin/main.o,$(PLUGIN_OBJ))
TRIGGER_LIBOBJ := $(filter-out $(BUILD)/trigger/main.o,$(TRIGGER_OBJ))
FAKE_OBJ    := $(call obj,$(FAKE_SRC))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Test-only drivers (never installed): integration tests run daemon modules through them.
TOOL_SRC    := $(wildcard tests/tools/*.c)
TOOL_BIN    := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))
# Benchmark programs (bench/*.c, never installed): daemon modules measured on their own.
BENCH_SRC   := $(wildcard bench/*.c)
BENCH_BIN   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all test-bins check unit integration conformance e2e demo bench install uninstall clean setup guest man deb image fuzz fuzz-build
all: $(BIN)/relink $(BIN)/relinkd

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/common/version.o: VERSION
$(BUILD)/common/version.o: ALL_CFLAGS += -DRELINK_VERSION='"$(VERSION)"'

$(BIN)/relink: $(PLUGIN_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(RELINK_LIBS)

$(BIN)/relinkd: $(TRIGGER_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkg_libs,$(PKGS_RELINKD)) -lm

# … and with the fakes under the action core (tests/unit/fake_*.c), inert until a test installs them.
$(BUILD)/tests/%: tests/unit/%.c $(FAKE_OBJ) $(LIB_OBJ) $(PLUGIN_LIBOBJ) $(TRIGGER_LIBOBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(call pkg_libs,$(PKGS_RELINKD) cmocka) -lm

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB_OBJ) $(TRIGGER_LIBOBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(call pkg_libs,$(PKGS_RELINKD)) -lm

$(BUILD)/bench/%: bench/%.c $(LIB_OBJ) $(TRIGGER_LIBOBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c %.o,$^) \
		$(call pkg_libs,$(PKGS_RELINKD)) -lm

# libFuzzer harnesses (tests/fuzz/fuzz_*.c): the library objects rebuilt with clang, coverage
# instrumentation, ASan and UBSan (UB aborts) into build/fuzz; tests/fuzz/run.sh runs each target
# FUZZ_SECONDS on a copy of its seed corpus tests/fuzz/corpus/<target>/.
# (clang flags va_list formats that gcc accepts: -Wno-format-nonliteral there.)
FUZZ_CC      ?= clang
FUZZ_SAN     := fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,$(BUILD)/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

fuzz-build: $(FUZZ_BIN)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_OBJ) $(TRIGGER_LIBOBJ)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.o,$^) \
		$(call pkg_libs,$(PKGS_RELINKD)) -lm

FUZZ_MAKE = $(MAKE) --no-print-directory BUILD=build/fuzz CC=$(FUZZ_CC) SANITIZE="$(FUZZ_SAN)" \
	WERROR="$(WERROR) -Wno-format-nonliteral"

fuzz:
	$(Q)$(FUZZ_MAKE) fuzz-build
	$(Q)FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh

# Man pages: @VERSION@ filled in, relinkd's OPTIONS section made from its --help (no drift).
MAN_PAGES := $(BUILD)/man/relink.8 $(BUILD)/man/relinkd.8
man: $(MAN_PAGES)

$(BUILD)/man/relink.8: man/relink.8.in man/gen-man.py VERSION
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)python3 man/gen-man.py $< VERSION > $@.tmp && mv $@.tmp $@

$(BUILD)/man/relinkd.8: man/relinkd.8.in man/gen-man.py VERSION $(BIN)/relinkd
	@mkdir -p $(@D)
	$(call quiet,GEN,$@)python3 man/gen-man.py $< VERSION $(BIN)/relinkd > $@.tmp && mv $@.tmp $@

# The Debian package, built by dpkg-buildpackage in a copy of the tree (tracked and new, non-ignored
# files: what a clean clone has, plus uncommitted work), so this tree's build/ and bin/ stay as they
# are. Rebuilt only when a source file changed; lintian must report no error.
DEB       := dist/relink_$(VERSION)_amd64.deb
DEB_STAGE := $(BUILD)/deb
DEB_SRC    = $(wildcard $(shell git ls-files -co --exclude-standard 2>/dev/null | grep -v '^dist/'))
deb: $(DEB)

$(DEB): $(DEB_SRC)
	$(Q)v=$$(dpkg-parsechangelog -SVersion); [ "$$v" = "$(VERSION)" ] || \
		{ echo "debian/changelog is at $$v, VERSION at $(VERSION): add a changelog entry" >&2; exit 1; }
	$(Q)rm -rf $(DEB_STAGE) && mkdir -p $(DEB_STAGE)/relink-$(VERSION) dist
	$(Q)git ls-files -co --exclude-standard -z | grep -zv '^dist/' | \
		tar -c --null -T - | tar -x -C $(DEB_STAGE)/relink-$(VERSION)
	$(call quiet,DEB,$@)cd $(DEB_STAGE)/relink-$(VERSION) && \
		dpkg-buildpackage -us -uc -b >../build.log 2>&1 || { tail -40 ../build.log >&2; exit 1; }
	$(Q)lintian --fail-on error --info $(DEB_STAGE)/relink_$(VERSION)_amd64.changes | tee $(DEB_STAGE)/lintian.log
	$(Q)cp $(DEB_STAGE)/relink_$(VERSION)_amd64.deb $@.tmp && mv $@.tmp $@

image: $(DEB)
	$(Q)./scripts/build-image.sh

setup:
	$(Q)./scripts/setup.sh

# Every test suite; each prints its own "N passed, N failed" and the runner adds them up.
# setup runs first and the build in a sub-make, so even `make -j check` on a clean machine
# installs the -dev packages before anything is compiled.
check: setup
	$(Q)$(MAKE) --no-print-directory test-bins
	$(Q)$(SAN_MAKE) test-bins
	$(Q)$(FUZZ_MAKE) fuzz-build
	$(Q)./tests/run-all.sh

# Everything the suites run. The sanitize tier of tests/run-all.sh runs the unit tests, conformance
# and an integration subset against the same set built with ASan+UBSan into build/asan (SAN_MAKE);
# the e2e tier runs that relinkd in its cluster-in-a-box.
test-bins: all $(UNIT_BIN) $(TOOL_BIN) $(BENCH_BIN)
SAN_MAKE = $(MAKE) --no-print-directory SANITIZE=address,undefined BUILD=build/asan BIN=build/asan/bin

unit: all $(UNIT_BIN)
	$(Q)./tests/run-all.sh unit

integration: all $(TOOL_BIN)
	$(Q)./tests/run-all.sh integration

conformance: all
	$(Q)RELINK=$${RELINK:-$(CURDIR)/$(BIN)/relink} ./conformance/run.sh

e2e: all
	$(Q)./tests/run-all.sh e2e

guest:
	$(Q)./guest/build.sh

demo: setup
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/tests/tools/kvdhcpd
	$(Q)./cluster/demo.sh

bench: setup
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BIN)
	$(Q)./bench/run.sh

install: all man
	install -d $(DESTDIR)$(CNI_BIN_DIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BIN)/relink $(DESTDIR)$(CNI_BIN_DIR)/relink
	install -m 0755 $(BIN)/relinkd $(DESTDIR)$(BINDIR)/relinkd
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(CNI_BIN_DIR)/relink $(DESTDIR)$(BINDIR)/relinkd \
		$(DESTDIR)$(MANDIR)/man8/relink.8 $(DESTDIR)$(MANDIR)/man8/relinkd.8

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
