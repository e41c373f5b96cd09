/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack: one LRU entry per flow, keyed by its original direction. A packet is a reply
 * when the reversed tuple has a live entry that the side this hook enforces has approved
 * (bpf/abi.h, struct mseg_ct_value); every other packet is decided by policy, and the verdict
 * sets or clears this side's approval.
 */
#ifndef MSEG_BPF_LIB_CONNTRACK_H
#define MSEG_BPF_LIB_CONNTRACK_H

#include "bpf/lib/maps.h"
#include "bpf/lib/parse.h"

#define MSEG_SEC 1000000000ull
#define MSEG_CT_TCP_SYN_TIMEOUT (60 * MSEG_SEC)	      /* no reply seen yet */
#define MSEG_CT_TCP_EST_TIMEOUT (6 * 3600 * MSEG_SEC) /* established */
#define MSEG_CT_CLOSING_TIMEOUT (10 * MSEG_SEC)	      /* FIN or RST seen */
#define MSEG_CT_UDP_TIMEOUT (120 * MSEG_SEC)	      /* UDP and SCTP */
#define MSEG_CT_ICMP_TIMEOUT (30 * MSEG_SEC)

/* Fills the original-direction key of p's flow (reverse: the flow p would be a reply of).
 * Returns false when the packet is not tracked (ICMP other than echo, other protocols). */
static __always_inline bool mseg_ct_key_fill(const struct mseg_pkt *p, bool reverse,
					     struct mseg_ct_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = MSEG_ABI_AF_INET;
	k->proto = p->proto;
	__builtin_memcpy(k->saddr, reverse ? &p->daddr : &p->saddr, 4);
	__builtin_memcpy(k->daddr, reverse ? &p->saddr : &p->daddr, 4);

	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
		k->sport = bpf_htons(reverse ? p->dport : p->sport);
		k->dport = bpf_htons(reverse ? p->sport : p->dport);
		return true;
	case IPPROTO_ICMP:
		/* A request is an original direction, an echo reply only ever a reply. */
		if (p->sport != (reverse ? ICMP_ECHOREPLY : ICMP_ECHO))
			return false;
		k->sport = p->icmp_id;
		return true;
	default:
		return false;
	}
}

static __always_inline bool mseg_ct_expired(const struct mseg_ct_value *v, __u8 proto, __u64 now)
{
	__u64 timeout;

	if (v->closing)
		timeout = MSEG_CT_CLOSING_TIMEOUT;
	else if (proto == IPPROTO_TCP)
		timeout = v->seen_reply ? MSEG_CT_TCP_EST_TIMEOUT : MSEG_CT_TCP_SYN_TIMEOUT;
	else if (proto == IPPROTO_ICMP)
		timeout = MSEG_CT_ICMP_TIMEOUT;
	else
		timeout = MSEG_CT_UDP_TIMEOUT;
	/* An entry another CPU has just refreshed may be a tick ahead of this one's clock. */
	return now > v->last_seen_ns && now - v->last_seen_ns > timeout;
}

/*
 * An entry is shared by the CPUs that handle both directions of its flow: a store on every
 * packet would bounce its cache line between them (and dirty it for the LRU's own walks).
 * So only what changed is written, and the timestamp only once it is MSEG_CT_REFRESH_NS old:
 * an entry may then expire that much earlier than its last packet says, against timeouts of
 * 10 s and more.
 */
#define MSEG_CT_REFRESH_NS (1000000ull) /* 1 ms */

/*
 * Conntrack's clock: CLOCK_MONOTONIC at the scheduler tick's resolution (a few ms), which is
 * plenty against its timeouts and reads a variable where bpf_ktime_get_ns() reads the clock
 * source (a paravirtual clock on a VM: a measurable part of a verdict). Events keep the
 * precise clock.
 */
static __always_inline __u64 mseg_ct_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

static __always_inline void mseg_ct_touch(struct mseg_ct_value *v, const struct mseg_pkt *p,
					  __u64 now)
{
	if (now > v->last_seen_ns && now - v->last_seen_ns >= MSEG_CT_REFRESH_NS)
		v->last_seen_ns = now;
	if (p->proto == IPPROTO_TCP && (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) &&
	    !v->closing)
		v->closing = 1;
}

/*
 * The entries one packet's conntrack lookups found. The same-node fast path decides both
 * sides of one packet in one program: the destination's side looks for the same two tuples
 * and would find the same entries, so it takes them from here instead of hashing the 40-byte
 * keys again. Zeroed: nothing known yet. An update of the map forgets what it replaced.
 */
struct mseg_ct_seen {
	struct mseg_ct_value *rev; /* the flow p would be a reply of */
	struct mseg_ct_value *fwd; /* p's own flow */
	bool rev_known, fwd_known;
};

/*
 * Is p a reply of a flow this hook's side approved? dir is the endpoint's policy direction:
 * EGRESS (packet leaving the container, which was the flow's destination) needs dst_ok;
 * INGRESS (packet entering the container, the flow's source) needs src_ok.
 */
static __always_inline bool mseg_ct_is_reply(const struct mseg_pkt *p, __u8 dir, __u64 now,
					     struct mseg_ct_seen *seen)
{
	struct mseg_ct_key k;
	struct mseg_ct_value *v;

	if (!mseg_ct_key_fill(p, true, &k))
		return false;
	if (seen->rev_known) {
		v = seen->rev;
	} else {
		v = bpf_map_lookup_elem(&mseg_ct, &k);
		seen->rev = v;
		seen->rev_known = true;
	}
	if (!v || mseg_ct_expired(v, p->proto, now))
		return false;
	if (!(dir == MSEG_ABI_DIR_EGRESS ? v->dst_ok : v->src_ok))
		return false;
	mseg_ct_touch(v, p, now);
	if (!v->seen_reply)
		v->seen_reply = 1;
	return true;
}

/*
 * Records this side's verdict on a non-reply packet. Returns true when the side's approval
 * is new (a new flow as far as this hook is concerned: worth an event).
 */
static __always_inline bool mseg_ct_record(const struct mseg_pkt *p, __u8 dir, bool allow,
					   __u64 now, struct mseg_ct_seen *seen)
{
	struct mseg_ct_key k;
	struct mseg_ct_value *v;
	bool fresh;

	if (!mseg_ct_key_fill(p, false, &k))
		return allow;
	if (seen->fwd_known) {
		v = seen->fwd;
	} else {
		v = bpf_map_lookup_elem(&mseg_ct, &k);
		seen->fwd = v;
		seen->fwd_known = true;
	}
	/* A SYN after FIN/RST reuses the tuple for a new connection: start over. */
	fresh = !v || mseg_ct_expired(v, p->proto, now) ||
		(v->closing && p->proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_SYN));
	if (fresh) {
		struct mseg_ct_value nv = {.last_seen_ns = now};

		if (!allow)
			return false;
		if (dir == MSEG_ABI_DIR_EGRESS)
			nv.src_ok = 1;
		else
			nv.dst_ok = 1;
		bpf_map_update_elem(&mseg_ct, &k, &nv, BPF_ANY);
		/* A new entry (for a packet to itself, its reverse too): look them up again. */
		seen->fwd_known = false;
		seen->rev_known = false;
		return true;
	}

	__u8 *ok = dir == MSEG_ABI_DIR_EGRESS ? &v->src_ok : &v->dst_ok;
	bool was = *ok;

	/* Policy now denies the original direction: its replies stop too. */
	if (*ok != allow)
		*ok = allow;
	if (allow)
		mseg_ct_touch(v, p, now);
	return allow && !was;
}

#endif
