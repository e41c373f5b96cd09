/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The eBPF backend (mseg_datapath_bpf, agent/datapath.h) beyond the common interface: drop
 * reason names for every consumer of bpf/abi.h (the nft backend and the CLI too), the pure
 * encoders from the compiled table into map keys (unit-tested without a kernel), and a few
 * handles the tests and the benchmark need.
 *
 * Files: datapath_bpf.c (load, pin, adopt, attach, purge), datapath_bpf_maps.c (encoding and
 * apply), datapath_bpf_events.c (ring buffer, counters, reason names), datapath_bpf_bench.c
 * (the verdict cost measurement shared by tools/bench/bpf_verdict.c and its regression test).
 */
#ifndef MSEG_AGENT_DATAPATH_BPF_H
#define MSEG_AGENT_DATAPATH_BPF_H

#include <stddef.h>
#include <stdint.h>

#include "agent/datapath.h"
#include "bpf/abi.h"

/*
 * Events (events_read): decided_by names the deciding rule, isolation or default for policy
 * drops, and the audit-mode rule for MSEG_EVENT_AUDIT; drops no policy decided (spoofing,
 * unknown endpoint, malformed, ...) carry policy 0, which no real policy uses: read reason.
 */

/* A stable lower-case name for enum mseg_drop_reason ("policy-deny", ...); "unknown" else. */
const char *mseg_drop_reason_name(uint16_t reason);
/* "forwarded", "dropped", "audit" for MSEG_EVENT_*; "unknown" else. */
const char *mseg_event_verdict_name(uint8_t verdict);

/* One aligned block of ports: [port, port + 2^(16 - plen) - 1]. */
struct mseg_port_prefix {
	uint16_t port;
	uint8_t plen; /* 0..16 */
};

/* The most blocks a 16-bit range needs: 2 * 16 - 2, rounded up. */
#define MSEG_PORT_PREFIXES_MAX 32

/*
 * Splits [lo, hi] into the fewest aligned blocks covering exactly that range, in ascending
 * order. Returns how many were written to out (0 when lo > hi).
 */
size_t mseg_bpf_port_prefixes(uint16_t lo, uint16_t hi, struct mseg_port_prefix *out);

/* Encoders: compiled table (policy/compile.h) -> bpf/abi.h. Return 0 or -EINVAL for values
 * the contract rules out (direction > 1, a partial port range with MSEG_PROTO_ANY, ...). */
int mseg_bpf_ipcache_key(const struct mseg_cidr *prefix, struct mseg_ipcache_key *ret);
void mseg_bpf_rule_ref(const struct mseg_decider *d, struct mseg_rule_ref *ret);
int mseg_bpf_entry_value(const struct mseg_table_entry *e, struct mseg_verdict_value *ret);
int mseg_bpf_default_value(const struct mseg_endpoint_default *d, struct mseg_verdict_value *ret);
/* The keys of e's blocks; returns their count or -EINVAL. */
int mseg_bpf_entry_keys(const struct mseg_table_entry *e,
			struct mseg_policy_key keys[MSEG_PORT_PREFIXES_MAX]);

/* Writes the endpoint map entry only (endpoint_attach() does this, then attaches). */
int mseg_datapath_bpf_endpoint_put(struct mseg_datapath *dp, const struct mseg_dp_endpoint *ep);
/* The program enforcing dir (enum mseg_dir) of an endpoint: for BPF_PROG_TEST_RUN. */
int mseg_datapath_bpf_prog_fd(struct mseg_datapath *dp, uint8_t dir);
/* MSEG_CFG_* flags, e.g. MSEG_CFG_EVENTS_ALLOWED. */
int mseg_datapath_bpf_set_flags(struct mseg_datapath *dp, uint32_t flags);
/* A counter summed over CPUs: index MSEG_COUNTER_INDEX(reason, dir) or _EVENTS_LOST. */
int mseg_datapath_bpf_counter(struct mseg_datapath *dp, uint32_t index, struct mseg_counter *ret);
/* The hits of one rule, summed over CPUs (-ENOENT when never hit). */
int mseg_datapath_bpf_rule_hits(struct mseg_datapath *dp, const struct mseg_rule_ref *ref,
				struct mseg_counter *ret);
/* The pinned map's fd by name ("mseg_ct", ...), or -ENOENT. */
int mseg_datapath_bpf_map_fd(struct mseg_datapath *dp, const char *name);

#endif
