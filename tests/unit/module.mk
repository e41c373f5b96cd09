# SPDX-License-Identifier: Apache-2.0
# tests/unit/<module>/test_*.c: one cmocka program per file, linked with every mseg library.
UNIT_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
TEST_BINS += $(UNIT_BINS)

$(UNIT_BINS): $(BUILD)/%: $(BUILD)/%.o $(LIBS_ALL)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIBS_ALL) -Wl,--end-group \
		$(PKG_LIBS) $(CMOCKA_LIBS)
