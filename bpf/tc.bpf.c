// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mseg's tc programs, attached to each local endpoint's host-side veth:
 *   mseg_tc_ingress: packets leaving the container -> anti-spoofing, then its egress policy;
 *   mseg_tc_egress:  packets entering the container -> its ingress policy.
 * Both consult conntrack first so replies of approved flows pass. The entry points only
 * orchestrate; the logic sits in bpf/lib/. Every drop is counted and reported with a reason
 * (bpf/abi.h); audit verdicts pass and are reported. A packet between two endpoints of this
 * node is decided for both by mseg_tc_ingress and delivered with bpf_redirect_peer()
 * (mseg_local_deliver below, docs/datapath-bpf.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpf/abi.h"
#include "bpf/lib/maps.h"
#include "bpf/lib/parse.h"
#include "bpf/lib/conntrack.h"
#include "bpf/lib/policy.h"
#include "bpf/lib/events.h"
#include "bpf/lib/forward.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

static __always_inline int mseg_drop(struct __sk_buff *skb, const struct mseg_verdict_ctx *c,
				     __u16 reason, const struct mseg_rule_ref *rule)
{
	mseg_counter_add(MSEG_COUNTER_INDEX(reason, c->dir), skb->len);
	mseg_event_emit(skb, c, MSEG_EVENT_DROPPED, reason, rule);
	return TC_ACT_SHOT;
}

static __always_inline int mseg_pass(struct __sk_buff *skb, const struct mseg_verdict_ctx *c)
{
	mseg_counter_add(MSEG_COUNTER_INDEX(MSEG_DROP_NONE, c->dir), skb->len);
	return TC_ACT_OK;
}

/* BPF has no memcmp: compare through unaligned-safe copies. */
static __always_inline bool mseg_addr_eq4(const __u8 *ip16, __be32 a)
{
	__be32 b;

	__builtin_memcpy(&b, ip16, 4);
	return a == b;
}

static __always_inline bool mseg_mac_eq(const __u8 *a, const __u8 *b)
{
	__u32 a4, b4;
	__u16 a2, b2;

	__builtin_memcpy(&a4, a, 4);
	__builtin_memcpy(&b4, b, 4);
	__builtin_memcpy(&a2, a + 4, 2);
	__builtin_memcpy(&b2, b + 4, 2);
	return a4 == b4 && a2 == b2;
}

static __always_inline void mseg_ipcache_lookup(__be32 addr, __u32 *identity, __u32 *class)
{
	struct mseg_ipcache_key k = {
	    .prefixlen = MSEG_IPCACHE_PREFIX_BASE + 32,
	    .family = MSEG_ABI_AF_INET,
	};
	struct mseg_ipcache_value *v;

	__builtin_memcpy(k.addr, &addr, 4);
	v = bpf_map_lookup_elem(&mseg_ipcache_hosts, &k);
	if (!v)
		v = bpf_map_lookup_elem(&mseg_ipcache, &k);
	*identity = v ? v->identity : MSEG_ABI_ID_WORLD;
	*class = v ? v->class : MSEG_ABI_ID_WORLD;
}

/*
 * The IPv4 verdict of one endpoint's side (c->dir) once the packet is parsed and, leaving the
 * endpoint, known not to be spoofed: conntrack first (a reply of a flow this side approved
 * passes), then the policy. The remote's identity is looked up only past the reply check:
 * replies never report it.
 */
static __always_inline int mseg_ip_verdict(struct __sk_buff *skb, struct mseg_verdict_ctx *c,
					   const struct mseg_endpoint_value *ep, bool fragment,
					   __u64 now, struct mseg_ct_seen *seen)
{
	const struct mseg_verdict_value *v;
	__u32 remote_class, remote_identity;
	__u8 dir = c->dir;

	if (fragment) {
		mseg_ipcache_lookup(dir == MSEG_ABI_DIR_EGRESS ? c->pkt.daddr : c->pkt.saddr,
				    &remote_identity, &remote_class);
		c->src_identity = dir == MSEG_ABI_DIR_EGRESS ? ep->identity : remote_identity;
		c->dst_identity = dir == MSEG_ABI_DIR_EGRESS ? remote_identity : ep->identity;
		return mseg_drop(skb, c, MSEG_DROP_FRAGMENT, NULL);
	}
	if (mseg_ct_is_reply(&c->pkt, dir, now, seen))
		return mseg_pass(skb, c);

	if (dir == MSEG_ABI_DIR_EGRESS) {
		c->src_identity = ep->identity;
		mseg_ipcache_lookup(c->pkt.daddr, &remote_identity, &remote_class);
		c->dst_identity = remote_identity;
	} else {
		mseg_ipcache_lookup(c->pkt.saddr, &remote_identity, &remote_class);
		c->src_identity = remote_identity;
		c->dst_identity = ep->identity;
	}
	v = mseg_policy_lookup(c->endpoint, remote_class, dir, c->pkt.proto,
			       mseg_pkt_policy_port(&c->pkt));
	if (!v) {
		mseg_ct_record(&c->pkt, dir, false, now, seen);
		return mseg_drop(skb, c, MSEG_DROP_NO_POLICY, NULL);
	}
	mseg_rule_hit(&v->decided_by, skb->len);
	if (v->verdict != MSEG_ABI_VERDICT_ALLOW) {
		mseg_ct_record(&c->pkt, dir, false, now, seen);
		return mseg_drop(skb, c, mseg_policy_reason(&v->decided_by), &v->decided_by);
	}

	bool new_flow = mseg_ct_record(&c->pkt, dir, true, now, seen);

	if (v->audit && new_flow)
		mseg_event_emit(skb, c, MSEG_EVENT_AUDIT, mseg_policy_reason(&v->audit_by),
				&v->audit_by);
	else if (new_flow && mseg_events_allowed())
		mseg_event_emit(skb, c, MSEG_EVENT_FORWARDED, MSEG_DROP_NONE, &v->decided_by);
	return mseg_pass(skb, c);
}

/*
 * The same-node fast path. A packet the source endpoint's egress allowed, which the node would
 * route to another local endpoint's veth: that endpoint's ingress is decided here, exactly as
 * its own tc egress program would decide it (same conntrack side, counters, rule hits and
 * events, under that veth's ifindex, on the packet as the node would have forwarded it), and
 * the packet goes straight into the destination container with bpf_redirect_peer(): no
 * routing, no second queueing on the CPU's backlog, no second program. Everything else
 * (remote endpoints behind the VXLAN device, the node itself, the world, and whatever
 * bpf/lib/forward.h leaves to the kernel) goes on through the node as before.
 */
static __always_inline int mseg_local_deliver(struct __sk_buff *skb, const struct mseg_pkt *pkt,
					      __u64 now, struct mseg_ct_seen *seen)
{
	struct mseg_verdict_ctx c = {.dir = MSEG_ABI_DIR_INGRESS, .parsed_ip = 1};
	const struct mseg_endpoint_value *ep;
	struct bpf_fib_lookup fib;
	int r;

	if (!mseg_fwd_route(skb, pkt, &fib))
		return TC_ACT_OK;
	c.ifindex = fib.ifindex;
	ep = bpf_map_lookup_elem(&mseg_endpoints, &c.ifindex);
	if (!ep) /* not one of ours: the node forwards it */
		return TC_ACT_OK;
	if (!mseg_fwd_rewrite(skb, pkt, &fib))
		return TC_ACT_OK;
	c.endpoint = ep->id;
	c.pkt = *pkt;
	r = mseg_ip_verdict(skb, &c, ep, false, now, seen);
	if (r != TC_ACT_OK)
		return r;
	return bpf_redirect_peer(c.ifindex, 0);
}

/* dir: the endpoint's policy direction this hook enforces. */
static __always_inline int mseg_handle(struct __sk_buff *skb, __u8 dir)
{
	struct mseg_verdict_ctx c = {.ifindex = skb->ifindex, .dir = dir};
	struct mseg_ct_seen seen = {};
	const struct mseg_endpoint_value *ep;
	__u64 now;
	int r;

	ep = bpf_map_lookup_elem(&mseg_endpoints, &c.ifindex);
	if (!ep) /* our program without an endpoint: fail closed */
		return mseg_drop(skb, &c, MSEG_DROP_UNKNOWN_ENDPOINT, NULL);
	c.endpoint = ep->id;

	r = mseg_parse(skb, &c.pkt);
	if (r == MSEG_PARSE_MALFORMED)
		return mseg_drop(skb, &c, MSEG_DROP_MALFORMED, NULL);
	if (dir == MSEG_ABI_DIR_EGRESS && !mseg_mac_eq(c.pkt.smac, ep->mac))
		return mseg_drop(skb, &c, MSEG_DROP_SPOOFED_MAC, NULL);
	if (r == MSEG_PARSE_ARP) {
		/* ARP is how the container finds its gateway: let it pass, but never let it
		 * claim an address or MAC that is not its own (0.0.0.0 is an RFC 5227 probe). */
		if (dir == MSEG_ABI_DIR_EGRESS &&
		    (!mseg_mac_eq(c.pkt.arp_sha, ep->mac) ||
		     (c.pkt.arp_spa && !mseg_addr_eq4(ep->ip, c.pkt.arp_spa))))
			return mseg_drop(skb, &c, MSEG_DROP_SPOOFED_ARP, NULL);
		return mseg_pass(skb, &c);
	}
	if (r == MSEG_PARSE_OTHER_L3)
		return mseg_drop(skb, &c, MSEG_DROP_UNSUPPORTED_L3, NULL);

	c.parsed_ip = 1;
	if (dir == MSEG_ABI_DIR_EGRESS && !mseg_addr_eq4(ep->ip, c.pkt.saddr))
		return mseg_drop(skb, &c, MSEG_DROP_SPOOFED_IP, NULL);
	now = mseg_ct_now();
	r = mseg_ip_verdict(skb, &c, ep, r == MSEG_PARSE_FRAGMENT, now, &seen);
	if (dir != MSEG_ABI_DIR_EGRESS || r != TC_ACT_OK)
		return r;
	return mseg_local_deliver(skb, &c.pkt, now, &seen);
}

SEC("tc")
int mseg_tc_ingress(struct __sk_buff *skb)
{
	return mseg_handle(skb, MSEG_ABI_DIR_EGRESS);
}

SEC("tc")
int mseg_tc_egress(struct __sk_buff *skb)
{
	return mseg_handle(skb, MSEG_ABI_DIR_INGRESS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
