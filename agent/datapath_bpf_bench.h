/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running the datapath's programs on crafted packets with BPF_PROG_TEST_RUN: packet builders,
 * a throwaway sandbox (own network and mount namespace, a private bpffs), and the verdict
 * cost measurement that tools/bench/bpf_verdict.c prints and tests/unit/bpf/ checks.
 */
#ifndef MSEG_AGENT_DATAPATH_BPF_BENCH_H
#define MSEG_AGENT_DATAPATH_BPF_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "agent/datapath_bpf.h"

/* An Ethernet + IPv4 (+ TCP/UDP/ICMP) packet. Addresses in host order. */
struct mseg_bpf_pkt {
	uint8_t smac[6], dmac[6];
	uint16_t ethertype; /* 0: IPv4 */
	uint32_t saddr, daddr;
	uint8_t proto;
	uint16_t sport, dport; /* ICMP: type, code */
	uint8_t tcp_flags;
	uint16_t icmp_id;
	uint16_t frag_off; /* IPv4 fragment offset field, host order */
	size_t payload;	   /* zero bytes after the L4 header */
};

#define MSEG_BPF_PKT_MAX 1600

/* The header checksum of the IPv4 header (20 bytes, no options) at ip, its own field skipped. */
uint16_t mseg_bpf_ip_csum(const uint8_t *ip);
/* Builds the packet into buf (MSEG_BPF_PKT_MAX bytes), IPv4 checksum included; returns its
 * length. */
size_t mseg_bpf_pkt_build(const struct mseg_bpf_pkt *p, uint8_t *buf);
/* An ARP request or reply (op 1 or 2) from (sha, spa), Ethernet source smac. */
size_t mseg_bpf_arp_build(const uint8_t smac[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
			  uint32_t tpa, uint8_t *buf);

/* Runs prog on pkt as if it arrived on ifindex; *retval: TC_ACT_*; *ns: mean per run. */
int mseg_bpf_test_run(int prog_fd, int ifindex, const void *pkt, size_t len, uint32_t repeat,
		      uint32_t *retval, uint32_t *ns);

/*
 * Enters a new network and mount namespace (nothing the caller does afterwards can touch the
 * host's network) and mounts a bpffs on a fresh directory under /tmp, returned in dir (at
 * least 64 bytes). -EPERM and friends when not root: callers skip.
 */
int mseg_bpf_sandbox_enter(char *dir, size_t size);
/* Creates a veth pair name/name-p inside the sandbox; returns name's ifindex. */
int mseg_bpf_sandbox_veth(const char *name);
void mseg_bpf_sandbox_leave(const char *dir);

/* ---- the verdict cost benchmark --------------------------------------------------- */

/* allowed, denied: into the endpoint (its tc egress), an established flow's packet and one no
 * rule admits; reply: the endpoint answering the allowed flow (its tc ingress), conntrack only;
 * local: the allowed flow's packet sent by another endpoint of the node, both sides decided in
 * that endpoint's tc ingress program and redirected (the same-node fast path). */
enum {
	MSEG_BENCH_ALLOWED,
	MSEG_BENCH_DENIED,
	MSEG_BENCH_REPLY,
	MSEG_BENCH_LOCAL,
	MSEG_BENCH_KINDS,
};

struct mseg_bpf_bench_opts {
	const char *bpf_dir; /* a bpffs directory (the sandbox's) */
	int ifindex;	     /* an interface in the current namespace (the sandbox's: the run
			      * adds a veth, routes and turns forwarding on there) */
	const uint32_t *rules;
	size_t n_rules;
	uint32_t repeat; /* test run repetitions per measurement */
	unsigned trials; /* interleaved trials; the median is reported */
};

struct mseg_bpf_bench_stat {
	double median, min, max; /* ns per packet, the empty program's cost subtracted */
};

struct mseg_bpf_bench_result {
	uint32_t rules;
	uint32_t entries; /* policy map entries actually written */
	double apply_ms;  /* apply() of the whole table into empty maps */
	struct mseg_bpf_bench_stat kind[MSEG_BENCH_KINDS];
	struct mseg_bpf_bench_stat empty; /* the empty program itself */
};

/* Measures every rule count of opts; res has opts->n_rules slots. */
int mseg_bpf_bench_run(const struct mseg_bpf_bench_opts *opts, struct mseg_bpf_bench_result *res);
const char *mseg_bpf_bench_kind_name(int kind);

#endif
