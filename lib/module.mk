# SPDX-License-Identifier: Apache-2.0
# lib/: small shared helpers (cleanup macros, logging, JSON/YAML glue).
LIB_UTIL_SRCS := $(wildcard lib/*.c)
LIB_UTIL := $(BUILD)/lib/libmseg-util.a
LIBS_ALL += $(LIB_UTIL)
$(LIB_UTIL): $(LIB_UTIL_SRCS:%.c=$(BUILD)/%.o)
