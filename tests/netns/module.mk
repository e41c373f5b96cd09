# SPDX-License-Identifier: Apache-2.0
# tests/netns/*.c: small programs the namespace scenarios drive (each file one program, named
# after it with _ turned into -, e.g. runtime_tool.c -> build/tests/netns/runtime-tool).
NETNS_TOOL_SRCS := $(sort $(wildcard tests/netns/*.c))
NETNS_TOOLS := $(foreach s,$(NETNS_TOOL_SRCS),$(BUILD)/tests/netns/$(subst _,-,$(basename $(notdir $(s)))))
TEST_BINS += $(NETNS_TOOLS)

define netns_tool_rule
$(BUILD)/tests/netns/$(subst _,-,$(basename $(notdir $(1)))): $(BUILD)/$(1:.c=.o) $$(LIBS_ALL)
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$< -Wl,--start-group $$(LIBS_ALL) -Wl,--end-group $$(PKG_LIBS)
endef
$(foreach s,$(NETNS_TOOL_SRCS),$(eval $(call netns_tool_rule,$(s))))
