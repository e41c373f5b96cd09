# SPDX-License-Identifier: Apache-2.0
# tools/bench/*.c: benchmark programs, one per file (policy_compile.c ->
# build/tools/bench/policy-compile), run by tools/bench/run.sh under `make bench`.
BENCH_SRCS := $(sort $(wildcard tools/bench/*.c))
BENCH_BINS := $(foreach s,$(BENCH_SRCS),$(BUILD)/tools/bench/$(subst _,-,$(basename $(notdir $(s)))))
TEST_BINS += $(BENCH_BINS)

define bench_rule
$(BUILD)/tools/bench/$(subst _,-,$(basename $(notdir $(1)))): $(BUILD)/$(1:.c=.o) $$(LIBS_ALL)
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$< -Wl,--start-group $$(LIBS_ALL) -Wl,--end-group $$(PKG_LIBS)
endef
$(foreach s,$(BENCH_SRCS),$(eval $(call bench_rule,$(s))))
