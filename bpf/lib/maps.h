/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath's maps. Every map the agent must find again after a restart is pinned by the
 * loader (agent/datapath_bpf.c) under its bpffs directory with these names; key and value
 * layouts are in bpf/abi.h.
 */
#ifndef MSEG_BPF_LIB_MAPS_H
#define MSEG_BPF_LIB_MAPS_H

#include "bpf/abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__type(key, struct mseg_ipcache_key);
	__type(value, struct mseg_ipcache_value);
} mseg_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mseg_ipcache_key); /* prefixlen: always the full length */
	__type(value, struct mseg_ipcache_value);
} mseg_ipcache_hosts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* ifindex of the host-side veth */
	__type(value, struct mseg_endpoint_value);
} mseg_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32); /* endpoint id */
	__type(value, struct mseg_defaults_value);
} mseg_defaults SEC(".maps");

/* No preallocation: a node rarely needs more than a fraction of the room kept for big tables. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1048576);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mseg_policy_key);
	__type(value, struct mseg_verdict_value);
} mseg_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mseg_policy_key);
	__type(value, struct mseg_policy_group);
} mseg_policy_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, struct mseg_ct_key);
	__type(value, struct mseg_ct_value);
} mseg_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} mseg_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mseg_config);
} mseg_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MSEG_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, struct mseg_counter);
} mseg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mseg_rule_ref);
	__type(value, struct mseg_counter);
} mseg_rule_hits SEC(".maps");

#endif
