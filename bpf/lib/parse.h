/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the tc programs: Ethernet, ARP, IPv4 and the L4 fields policy needs.
 * Headers are copied with bpf_skb_load_bytes() rather than read in place, so a packet whose
 * headers are not in the linear area is parsed the same way (no pull, no re-validation).
 */
#ifndef MSEG_BPF_LIB_PARSE_H
#define MSEG_BPF_LIB_PARSE_H

#include <bpf/bpf_endian.h>

#include "bpf/abi.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_SCTP 132
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

enum mseg_parse_result {
	MSEG_PARSE_IPV4,
	MSEG_PARSE_ARP,
	MSEG_PARSE_OTHER_L3,
	MSEG_PARSE_MALFORMED,
	MSEG_PARSE_FRAGMENT,
};

struct mseg_pkt {
	__u8 smac[6];
	__u16 l3proto; /* host order */
	/* IPv4 */
	__be32 saddr, daddr;
	__u8 proto;
	__u8 tcp_flags;
	__u8 ttl, tos;
	__u8 ihl;	    /* header length in 32-bit words: 5 when there are no options */
	__u16 tot_len;	    /* host order */
	__u16 sport, dport; /* host order; ICMP: type, code */
	__u16 icmp_id;	    /* network order, echo request/reply only */
	/* ARP */
	__u8 arp_sha[6];
	__be32 arp_spa;
};

struct mseg_arp_eth_ipv4 {
	__be16 htype, ptype;
	__u8 hlen, plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
};

static __always_inline int mseg_parse_l4(struct __sk_buff *skb, __u32 off, struct mseg_pkt *p)
{
	switch (p->proto) {
	case IPPROTO_TCP: {
		__u8 h[14]; /* ports, seq, ack, offset, flags */

		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
			return MSEG_PARSE_MALFORMED;
		p->sport = (__u16)h[0] << 8 | h[1];
		p->dport = (__u16)h[2] << 8 | h[3];
		p->tcp_flags = h[13];
		return MSEG_PARSE_IPV4;
	}
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__u8 h[4];

		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
			return MSEG_PARSE_MALFORMED;
		p->sport = (__u16)h[0] << 8 | h[1];
		p->dport = (__u16)h[2] << 8 | h[3];
		return MSEG_PARSE_IPV4;
	}
	case IPPROTO_ICMP: {
		__u8 h[8]; /* type, code, checksum, id, sequence */

		if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
			return MSEG_PARSE_MALFORMED;
		p->sport = h[0];
		p->dport = h[1];
		__builtin_memcpy(&p->icmp_id, &h[4], 2);
		return MSEG_PARSE_IPV4;
	}
	default:
		return MSEG_PARSE_IPV4; /* decided on the protocol alone: port 0 */
	}
}

static __always_inline int mseg_parse(struct __sk_buff *skb, struct mseg_pkt *p)
{
	__u8 eth[ETH_HLEN];

	if (bpf_skb_load_bytes(skb, 0, eth, sizeof(eth)) < 0)
		return MSEG_PARSE_MALFORMED;
	__builtin_memcpy(p->smac, &eth[6], 6);
	p->l3proto = (__u16)eth[12] << 8 | eth[13];

	if (p->l3proto == ETH_P_ARP) {
		struct mseg_arp_eth_ipv4 arp;

		if (bpf_skb_load_bytes(skb, ETH_HLEN, &arp, sizeof(arp)) < 0)
			return MSEG_PARSE_MALFORMED;
		if (arp.htype != bpf_htons(1) || arp.ptype != bpf_htons(ETH_P_IP) ||
		    arp.hlen != 6 || arp.plen != 4)
			return MSEG_PARSE_MALFORMED;
		__builtin_memcpy(p->arp_sha, arp.sha, 6);
		__builtin_memcpy(&p->arp_spa, arp.spa, 4);
		return MSEG_PARSE_ARP;
	}
	if (p->l3proto != ETH_P_IP)
		return MSEG_PARSE_OTHER_L3;

	struct iphdr ip;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return MSEG_PARSE_MALFORMED;
	if (ip.version != 4 || ip.ihl < 5)
		return MSEG_PARSE_MALFORMED;
	p->saddr = ip.saddr;
	p->daddr = ip.daddr;
	p->proto = ip.protocol;
	p->ttl = ip.ttl;
	p->tos = ip.tos;
	p->ihl = ip.ihl;
	p->tot_len = bpf_ntohs(ip.tot_len);
	/* Only the first fragment carries the ports the verdict depends on. */
	if (bpf_ntohs(ip.frag_off) & IP_OFFMASK)
		return MSEG_PARSE_FRAGMENT;
	return mseg_parse_l4(skb, ETH_HLEN + ip.ihl * 4, p);
}

/* The "port" of the decision procedure: L4 destination port, or ICMP type << 8 | code. */
static __always_inline __u16 mseg_pkt_policy_port(const struct mseg_pkt *p)
{
	if (p->proto == IPPROTO_ICMP)
		return p->sport << 8 | p->dport;
	return p->dport;
}

#endif
