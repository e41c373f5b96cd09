/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Same-node delivery without the node's routing: what ip_rcv() and ip_forward() would do to a
 * packet a local endpoint sends to another local endpoint, done in the source's tc ingress
 * program so that it can be handed straight to the destination container with
 * bpf_redirect_peer(). Anything those functions would treat specially (a bad header, IP
 * options, TTL running out, a packet too big for the route, a route that is not a plain unicast
 * one through a resolved neighbour, forwarding switched off) is not forwarded here: the caller
 * leaves such packets to the kernel, which does exactly what it always did.
 */
#ifndef MSEG_BPF_LIB_FORWARD_H
#define MSEG_BPF_LIB_FORWARD_H

#include <bpf/bpf_endian.h>

#include "bpf/lib/parse.h"

#define MSEG_AF_INET 2	   /* AF_INET, for bpf_fib_lookup() */
#define MSEG_PACKET_HOST 0 /* skb->pkt_type: addressed to this host's MAC */
#define MSEG_IP_TTL_OFF (ETH_HLEN + 8)
#define MSEG_IP_CSUM_OFF (ETH_HLEN + 10)

/*
 * ip_forward() sets skb->priority from the TOS byte (net.ipv4.ip_forward_update_priority,
 * on by default): rt_tos2priority(), whose table maps each TOS pair to best effort (0), bulk
 * (2), interactive (6) or interactive bulk (4).
 */
static __always_inline __u32 mseg_tos_priority(__u8 tos)
{
	switch ((tos & 0x1e) >> 3) {
	case 1:
		return 2;
	case 2:
		return 6;
	case 3:
		return 4;
	default:
		return 0;
	}
}

/* ip_rcv()'s checks on a header without options: its checksum and its length. */
static __always_inline bool mseg_ip_header_ok(struct __sk_buff *skb, const struct mseg_pkt *p)
{
	__u32 h[5];
	__s64 sum;

	if (p->tot_len < sizeof(h) || p->tot_len > skb->len - ETH_HLEN)
		return false;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, h, sizeof(h)) < 0)
		return false;
	sum = bpf_csum_diff(NULL, 0, h, sizeof(h), 0);
	if (sum < 0)
		return false;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Looks up where the node would route p (arriving from the endpoint on skb->ifindex) and, if
 * it is a plain forward through a resolved neighbour, returns the outgoing interface's index
 * in *ifindex and its MACs in fib (0 and true). Nothing is changed in the packet yet.
 */
static __always_inline bool mseg_fwd_route(struct __sk_buff *skb, const struct mseg_pkt *p,
					   struct bpf_fib_lookup *fib)
{
	if (skb->pkt_type != MSEG_PACKET_HOST || p->ihl != 5 || p->ttl <= 1)
		return false;
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = MSEG_AF_INET;
	fib->tos = p->tos;
	fib->l4_protocol = p->proto;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || p->proto == IPPROTO_SCTP) {
		fib->sport = bpf_htons(p->sport);
		fib->dport = bpf_htons(p->dport);
	}
	/* A GSO packet is segmented to the route's MTU on the way out: only a plain packet
	 * larger than the MTU would get ICMP "fragmentation needed" from the node. */
	fib->tot_len = skb->gso_size ? 0 : p->tot_len;
	fib->ipv4_src = p->saddr;
	fib->ipv4_dst = p->daddr;
	fib->ifindex = skb->ifindex;
	if (bpf_fib_lookup(skb, fib, sizeof(*fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return false;
	return mseg_ip_header_ok(skb, p);
}

/* What ip_forward() and the neighbour output do to the packet: MACs, TTL, priority. */
static __always_inline bool mseg_fwd_rewrite(struct __sk_buff *skb, const struct mseg_pkt *p,
					     const struct bpf_fib_lookup *fib)
{
	__u8 macs[12];
	__u16 old_word = bpf_htons((__u16)p->ttl << 8 | p->proto);
	__u16 new_word = bpf_htons((__u16)(p->ttl - 1) << 8 | p->proto);
	__u8 ttl = p->ttl - 1;

	__builtin_memcpy(macs, fib->dmac, 6);
	__builtin_memcpy(macs + 6, fib->smac, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) < 0)
		return false;
	if (bpf_l3_csum_replace(skb, MSEG_IP_CSUM_OFF, old_word, new_word, sizeof(__u16)) < 0)
		return false;
	if (bpf_skb_store_bytes(skb, MSEG_IP_TTL_OFF, &ttl, 1, 0) < 0)
		return false;
	skb->priority = mseg_tos_priority(p->tos);
	return true;
}

#endif
