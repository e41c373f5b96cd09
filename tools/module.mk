# SPDX-License-Identifier: Apache-2.0
# tools/: the mseg CLI (every tools/*.c) and, under tools/bench/, the benchmark programs.
MSEG_CLI_SRCS := $(wildcard tools/*.c)
MSEG_CLI := $(BUILD)/mseg
BINS += $(MSEG_CLI)

$(MSEG_CLI): $(MSEG_CLI_SRCS:%.c=$(BUILD)/%.o) $(LIBS_ALL)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(LIBS_ALL) -Wl,--end-group \
		$(PKG_LIBS)
