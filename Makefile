# SPDX-License-Identifier: Apache-2.0
# mseg: one non-recursive build, out of tree into build/.
# Each directory describes its own targets in a module.mk fragment included below; this file
# holds the toolchain, the flags and the top-level targets only.

ifeq ($(SAN),1)
BUILD   ?= build/san
else
BUILD   ?= build
endif
PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CLANG   ?= clang
BPFTOOL ?= bpftool

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

PKGS := libbpf libnftnl libmnl jansson yaml-0.1 libcurl libmicrohttpd libpcap libgvc libelf zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 \
	   -Wstrict-prototypes -Wmissing-prototypes -fno-strict-aliasing -D_GNU_SOURCE \
	   -I. -Ilib -I$(BUILD) $(PKG_CFLAGS) -MMD -MP
LDFLAGS ?=
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -I. -I$(BUILD)/bpf

# Filled in by the fragments.
LIBS_ALL  :=	# static libraries, linked in dependency order (dependants first)
BINS      :=	# installed programs
TEST_BINS :=	# cmocka unit test programs, run by tests/run-unit.sh
BPF_OBJS  :=	# BPF objects
CLEAN_EXTRA :=

.PHONY: all
all:

# Libraries first (they fill LIBS_ALL), then the programs and tests that link them. A program
# defined next to its library (msegd) names $$(LIBS_ALL) as prerequisite: second expansion
# reads the list once every library is known.
.SECONDEXPANSION:
include $(sort $(wildcard */module.mk))
include $(sort $(wildcard tests/*/module.mk tools/*/module.mk))

all: $(BINS) $(TEST_BINS)

# Objects: every .c compiles the same way into build/ (generated headers first).
$(BUILD)/%.o: %.c | $(BUILD)/bpf/vmlinux.h $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Static libraries: one per directory, from the fragment's object list.
$(BUILD)/%.a:
	$(call msg,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

DEPS_STAMP := $(BUILD)/.deps-installed
.PHONY: deps
deps:
	$(Q)./tools/install-deps.sh

.PHONY: check
check: deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all
	$(Q)BUILD=$(BUILD) ./tests/run-all.sh

.PHONY: check-unit check-netns
check-unit: all
	$(Q)BUILD=$(BUILD) ./tests/run-all.sh unit cli
check-netns: all
	$(Q)BUILD=$(BUILD) ./tests/run-all.sh netns

.PHONY: demo demo-cluster
demo: deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all
	$(Q)BUILD=$(BUILD) ./examples/demo.sh

demo-cluster: deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all
	$(Q)BUILD=$(BUILD) ./examples/demo-cluster.sh

.PHONY: bench
bench: deps
	$(Q)$(MAKE) --no-print-directory -j$$(nproc) all
	$(Q)BUILD=$(BUILD) QUICK=$(QUICK) ./tools/bench/run.sh

.PHONY: install
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|g' agent/msegd.service.in > $(DESTDIR)$(PREFIX)/lib/systemd/system/msegd.service

.PHONY: clean
clean:
	rm -rf $(BUILD) $(CLEAN_EXTRA)

.PHONY: format
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

.PHONY: help
help:
	@echo 'mseg build targets:'
	@echo '  all (default)  build msegd, mseg, mseg-cni, BPF objects and unit tests into $(BUILD)/'
	@echo '  deps           install every Debian package the project needs (apt-get; idempotent)'
	@echo '  check          deps + build + every test; last line "N passed, N failed"'
	@echo '  check-unit     unit tests only;  check-netns: namespace tests only'
	@echo '  demo           deps + build + the prod/dev story in a throwaway node namespace'
	@echo '  demo-cluster   deps + build + the story on three nodes with etcd and the VXLAN overlay'
	@echo '  bench          deps + build + the benchmark suite (QUICK=1 for a short run)'
	@echo '  install        install binaries and the msegd systemd unit (PREFIX, DESTDIR)'
	@echo '  clean          remove $(BUILD)/'
	@echo '  format         clang-format every tracked C file'
	@echo 'Variables: V=1 show commands, SAN=1 ASan+UBSan build, BUILD=dir output directory'
