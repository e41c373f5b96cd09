# SPDX-License-Identifier: Apache-2.0
# runtime/: netlink, namespaces, veth, addresses, routes, IPAM: every runtime/*.c.
RUNTIME_SRCS := $(wildcard runtime/*.c)
LIB_RUNTIME := $(BUILD)/runtime/libmseg-runtime.a
LIBS_ALL += $(LIB_RUNTIME)
$(LIB_RUNTIME): $(RUNTIME_SRCS:%.c=$(BUILD)/%.o)
