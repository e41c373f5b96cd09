// SPDX-License-Identifier: Apache-2.0
/* The datapath's reports: ring buffer events, per-CPU counters, and drop reason names. */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/datapath_bpf_internal.h"
#include "build/bpf/tc.skel.h"
#include "macro.h"

#define BUDGET_EXHAUSTED 1000 /* a positive errno no libbpf path returns */

static const char *const reason_names[MSEG_DROP_REASON_MAX] = {
    [MSEG_DROP_NONE] = "none",
    [MSEG_DROP_POLICY_DENY] = "policy-deny",
    [MSEG_DROP_ISOLATED] = "isolated",
    [MSEG_DROP_DEFAULT_DENY] = "default-deny",
    [MSEG_DROP_SPOOFED_IP] = "spoofed-ip",
    [MSEG_DROP_SPOOFED_MAC] = "spoofed-mac",
    [MSEG_DROP_SPOOFED_ARP] = "spoofed-arp",
    [MSEG_DROP_CT_INVALID] = "ct-invalid",
    [MSEG_DROP_UNKNOWN_ENDPOINT] = "unknown-endpoint",
    [MSEG_DROP_MALFORMED] = "malformed",
    [MSEG_DROP_UNSUPPORTED_L3] = "unsupported-l3",
    [MSEG_DROP_FRAGMENT] = "fragment",
    [MSEG_DROP_NO_POLICY] = "no-policy",
};

const char *mseg_drop_reason_name(uint16_t reason)
{
	if (reason >= MSEG_DROP_REASON_MAX || !reason_names[reason])
		return "unknown";
	return reason_names[reason];
}

const char *mseg_event_verdict_name(uint8_t verdict)
{
	switch (verdict) {
	case MSEG_EVENT_FORWARDED:
		return "forwarded";
	case MSEG_EVENT_DROPPED:
		return "dropped";
	case MSEG_EVENT_AUDIT:
		return "audit";
	default:
		return "unknown";
	}
}

static struct mseg_cidr addr_of(uint8_t family, const uint8_t addr[16])
{
	struct mseg_cidr c = {0};

	if (family == MSEG_ABI_AF_INET) {
		c.family = MSEG_AF_INET;
		c.prefixlen = 32;
		memcpy(c.addr, addr, 4);
	}
	return c;
}

int mseg_datapath_bpf_event_cb(void *ctx, void *data, size_t size)
{
	struct mseg_datapath *dp = ctx;
	const struct mseg_event *e = data;
	struct mseg_dp_event ev = {0};

	if (size < sizeof(*e)) {
		dp->event_error = -EBADMSG;
		/* skip it, keep reading the others (within the budget) */
		return --dp->event_left ? 0 : -BUDGET_EXHAUSTED;
	}
	ev.time_ns = (uint64_t)((int64_t)e->time_ns + dp->mono_to_real_ns);
	ev.endpoint = e->endpoint;
	ev.dir = e->dir;
	ev.verdict = e->verdict;
	ev.reason = e->reason;
	ev.proto = e->proto;
	ev.saddr = addr_of(e->family, e->saddr);
	ev.daddr = addr_of(e->family, e->daddr);
	ev.sport = e->sport;
	ev.dport = e->dport;
	ev.src_identity = e->src_identity;
	ev.dst_identity = e->dst_identity;
	ev.decided_by = (struct mseg_decider){
	    .kind = (enum mseg_decider_kind)e->rule.kind,
	    .policy = e->rule.policy,
	    .rule = e->rule.rule,
	    .dir = e->rule.dir,
	};
	ev.pkt_len = e->pkt_len > sizeof(ev.pkt) ? sizeof(ev.pkt) : e->pkt_len;
	memcpy(ev.pkt, e->pkt, ev.pkt_len);
	if (dp->event_fn)
		dp->event_fn(&ev, dp->event_userdata);
	dp->event_count++;
	/* This record is consumed either way; a negative return stops libbpf's loop here. */
	return --dp->event_left ? 0 : -BUDGET_EXHAUSTED;
}

int mseg_datapath_bpf_events_read(struct mseg_datapath *dp, unsigned budget, mseg_dp_event_fn fn,
				  void *userdata)
{
	int r;

	dp->event_fn = fn;
	dp->event_userdata = userdata;
	dp->event_error = 0;
	dp->event_left = budget ? budget : 1;
	dp->event_count = 0;
	r = ring_buffer__consume(dp->rb);
	dp->event_fn = NULL;
	dp->event_userdata = NULL;
	if (r < 0 && r != -BUDGET_EXHAUSTED)
		return r;
	return dp->event_error ? dp->event_error : (int)dp->event_count;
}

static int percpu_sum(int fd, const void *key, struct mseg_counter *ret)
{
	int n = libbpf_num_possible_cpus();
	_cleanup_free_ struct mseg_counter *v = NULL;

	if (n < 0)
		return n;
	v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, v) < 0)
		return -errno;
	*ret = (struct mseg_counter){0};
	for (int i = 0; i < n; i++) {
		ret->packets += v[i].packets;
		ret->bytes += v[i].bytes;
	}
	return 0;
}

int mseg_datapath_bpf_counter(struct mseg_datapath *dp, uint32_t index, struct mseg_counter *ret)
{
	if (index >= MSEG_COUNTERS_MAX)
		return -EINVAL;
	return percpu_sum(bpf_map__fd(dp->skel->maps.mseg_counters), &index, ret);
}

int mseg_datapath_bpf_rule_hits(struct mseg_datapath *dp, const struct mseg_rule_ref *ref,
				struct mseg_counter *ret)
{
	return percpu_sum(bpf_map__fd(dp->skel->maps.mseg_rule_hits), ref, ret);
}
