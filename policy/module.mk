# SPDX-License-Identifier: Apache-2.0
# policy/: the pure policy library (no kernel calls): every policy/*.c.
POLICY_SRCS := $(wildcard policy/*.c)
LIB_POLICY := $(BUILD)/policy/libmseg-policy.a
LIBS_ALL += $(LIB_POLICY)
$(LIB_POLICY): $(POLICY_SRCS:%.c=$(BUILD)/%.o)
