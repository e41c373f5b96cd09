# SPDX-License-Identifier: Apache-2.0
# bpf/: tc programs. vmlinux.h comes from the running kernel's BTF; each prog.bpf.c becomes
# build/bpf/prog.bpf.o and a libbpf skeleton build/bpf/prog.skel.h for the loader.
BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.skel.h)
BPF_HDRS  := $(wildcard bpf/*.h bpf/lib/*.h)

$(BUILD)/bpf/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp && $(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name mseg_$(subst -,_,$*) > $@.tmp && mv $@.tmp $@

all: $(BPF_OBJS) $(BPF_SKELS)
