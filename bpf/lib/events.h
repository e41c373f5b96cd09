/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Counters and ring buffer events: what the agent, `mseg observe` and metrics read. */
#ifndef MSEG_BPF_LIB_EVENTS_H
#define MSEG_BPF_LIB_EVENTS_H

#include "bpf/lib/maps.h"
#include "bpf/lib/parse.h"

/* Everything known about a packet by the time it is decided. */
struct mseg_verdict_ctx {
	struct mseg_pkt pkt;
	__u32 ifindex;
	__u32 endpoint;
	__u32 src_identity;
	__u32 dst_identity;
	__u8 dir;
	__u8 parsed_ip; /* pkt addresses and ports are valid */
};

static __always_inline void mseg_counter_add(__u32 idx, __u32 bytes)
{
	struct mseg_counter *c = bpf_map_lookup_elem(&mseg_counters, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void mseg_rule_hit(const struct mseg_rule_ref *ref, __u32 bytes)
{
	struct mseg_counter *c = bpf_map_lookup_elem(&mseg_rule_hits, ref);

	if (c) {
		c->packets++;
		c->bytes += bytes;
		return;
	}
	struct mseg_counter init = {.packets = 1, .bytes = bytes};

	bpf_map_update_elem(&mseg_rule_hits, ref, &init, BPF_NOEXIST);
}

static __always_inline bool mseg_events_allowed(void)
{
	__u32 zero = 0;
	struct mseg_config *cfg = bpf_map_lookup_elem(&mseg_config, &zero);

	return cfg && (cfg->flags & MSEG_CFG_EVENTS_ALLOWED);
}

static __always_inline void mseg_event_emit(struct __sk_buff *skb, const struct mseg_verdict_ctx *c,
					    __u8 verdict, __u16 reason,
					    const struct mseg_rule_ref *rule)
{
	struct mseg_event *ev;
	__u32 n;

	ev = bpf_ringbuf_reserve(&mseg_events, sizeof(*ev), 0);
	if (!ev) {
		mseg_counter_add(MSEG_COUNTER_EVENTS_LOST, 0);
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->time_ns = bpf_ktime_get_ns();
	ev->ifindex = c->ifindex;
	ev->endpoint = c->endpoint;
	ev->src_identity = c->src_identity;
	ev->dst_identity = c->dst_identity;
	ev->dir = c->dir;
	ev->verdict = verdict;
	ev->reason = reason;
	if (c->parsed_ip) {
		ev->family = MSEG_ABI_AF_INET;
		ev->proto = c->pkt.proto;
		ev->sport = c->pkt.sport;
		ev->dport = c->pkt.dport;
		__builtin_memcpy(ev->saddr, &c->pkt.saddr, 4);
		__builtin_memcpy(ev->daddr, &c->pkt.daddr, 4);
	}
	if (rule)
		ev->rule = *rule;
	ev->orig_len = skb->len;
	/* n = clamp(skb->len, 1, MSEG_EVENT_PKT_MAX) on one register, in assembly, so the
	 * compiler cannot move the bounds onto a copy the verifier does not link to n. */
	n = skb->len;
	asm volatile("if %0 <= 128 goto +1\n\t"
		     "%0 = 128\n\t"
		     "if %0 >= 1 goto +1\n\t"
		     "%0 = 1\n\t"
		     : "+r"(n));
	if (bpf_skb_load_bytes(skb, 0, ev->pkt, n) == 0)
		ev->pkt_len = n;
	bpf_ringbuf_submit(ev, 0);
}

#endif
