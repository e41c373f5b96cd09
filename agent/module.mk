# SPDX-License-Identifier: Apache-2.0
# agent/: msegd. Everything but main.c is a library so unit tests can link the parts.
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c))
LIB_AGENT := $(BUILD)/agent/libmseg-agent.a
LIBS_ALL += $(LIB_AGENT)
$(LIB_AGENT): $(AGENT_SRCS:%.c=$(BUILD)/%.o)

MSEGD := $(BUILD)/msegd
ifneq ($(wildcard agent/main.c),)
BINS += $(MSEGD)
endif
$(MSEGD): $(BUILD)/agent/main.o $$(LIBS_ALL)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(LIBS_ALL) -Wl,--end-group $(PKG_LIBS)
