/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy lookup of policy/compile.h's contract: for (endpoint, dir), the remote's class
 * first, then MSEG_ID_ANY; within each, the packet's protocol before MSEG_PROTO_ANY; then the
 * endpoint's default. Each (endpoint, remote, dir, proto) group costs one hash lookup for its
 * header plus one per port prefix length present in it (bpf/abi.h): constant in the number
 * of rules.
 */
#ifndef MSEG_BPF_LIB_POLICY_H
#define MSEG_BPF_LIB_POLICY_H

#include "bpf/lib/maps.h"

static __always_inline const struct mseg_verdict_value *
mseg_policy_group_lookup(__u32 endpoint, __u32 remote, __u8 dir, __u8 proto, __u16 port)
{
	struct mseg_policy_key k = {
	    .endpoint = endpoint,
	    .remote = remote,
	    .dir = dir,
	    .proto = proto,
	    .plen = MSEG_POLICY_GROUP,
	};
	struct mseg_policy_group *g;
	const struct mseg_verdict_value *v;
	__u32 mask;

	g = bpf_map_lookup_elem(&mseg_policy_groups, &k);
	if (!g)
		return NULL;
	mask = g->plen_mask;
	/* Blocks of one group never overlap: at most one length holds the port. */
#pragma unroll
	for (int plen = 16; plen >= 0; plen--) {
		if (!(mask & (1u << plen)))
			continue;
		k.plen = plen;
		k.port = plen ? port & (__u16)(0xffff << (16 - plen)) : 0;
		v = bpf_map_lookup_elem(&mseg_policy, &k);
		if (v)
			return v;
	}
	return NULL;
}

static __always_inline const struct mseg_verdict_value *
mseg_policy_class_lookup(__u32 endpoint, __u32 remote, __u8 dir, __u8 proto, __u16 port)
{
	const struct mseg_verdict_value *v;

	v = mseg_policy_group_lookup(endpoint, remote, dir, proto, port);
	if (!v && proto)
		v = mseg_policy_group_lookup(endpoint, remote, dir, 0, 0);
	return v;
}

/* The verdict for a packet; NULL when the endpoint has no policy programmed at all. */
static __always_inline const struct mseg_verdict_value *
mseg_policy_lookup(__u32 endpoint, __u32 remote_class, __u8 dir, __u8 proto, __u16 port)
{
	const struct mseg_verdict_value *v;
	struct mseg_defaults_value *d;

	v = mseg_policy_class_lookup(endpoint, remote_class, dir, proto, port);
	if (v)
		return v;
	if (remote_class != MSEG_ABI_ID_ANY) {
		v = mseg_policy_class_lookup(endpoint, MSEG_ABI_ID_ANY, dir, proto, port);
		if (v)
			return v;
	}
	d = bpf_map_lookup_elem(&mseg_defaults, &endpoint);
	if (!d)
		return NULL;
	return dir == MSEG_ABI_DIR_EGRESS ? &d->dir[MSEG_ABI_DIR_EGRESS]
					  : &d->dir[MSEG_ABI_DIR_INGRESS];
}

/* The drop reason a deny (or, for audit, the audit decision) stands for. */
static __always_inline __u16 mseg_policy_reason(const struct mseg_rule_ref *r)
{
	switch (r->kind) {
	case MSEG_ABI_DECIDED_RULE:
		return MSEG_DROP_POLICY_DENY;
	case MSEG_ABI_DECIDED_ISOLATION:
		return MSEG_DROP_ISOLATED;
	case MSEG_ABI_DECIDED_DEFAULT:
		return MSEG_DROP_DEFAULT_DENY;
	default:
		return MSEG_DROP_NO_POLICY;
	}
}

#endif
