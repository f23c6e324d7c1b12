# relink — chained CNI plugin (bin/relink) and its companion daemon (bin/relinkd).
#
#   make                  build bin/relink and bin/relinkd
#   make check            install test prerequisites (apt, idempotent), run every test
#   make demo             cluster-in-a-box: migrate a bridge-bound VM, watch its network come back
#   make conformance      CNI conformance suite against bin/relink (or RELINK=/path/to/relink)
#   make bench            benchmarks (see BENCHMARKS.md)
#   make install          PREFIX=/usr/local DESTDIR= CNI_BIN_DIR=/opt/cni/bin
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
PKGS_RELINKD := $(PKGS_LIB) libvirt libxml-2.0

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

ifeq ($(V),)
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
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

.PHONY: all check unit integration conformance e2e demo bench install uninstall clean setup guest
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

setup:
	$(Q)./scripts/setup.sh

# Every test suite; each prints its own "N passed, N failed" and the runner adds them up.
# setup runs first and the build in a sub-make, so even `make -j check` on a clean machine
# installs the -dev packages before anything is compiled.
check: setup
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN)
	$(Q)./tests/run-all.sh

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
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./cluster/demo.sh

bench: setup
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./bench/run.sh

install: all
	install -d $(DESTDIR)$(CNI_BIN_DIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN)/relink $(DESTDIR)$(CNI_BIN_DIR)/relink
	install -m 0755 $(BIN)/relinkd $(DESTDIR)$(BINDIR)/relinkd

uninstall:
	rm -f $(DESTDIR)$(CNI_BIN_DIR)/relink $(DESTDIR)$(BINDIR)/relinkd

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
