/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The eBPF datapath's ABI: every map key and value and the event record, byte for byte as
 * both the tc programs (bpf/tc.bpf.c) and userspace (agent/datapath_bpf*.c, the nft backend
 * and the CLI for the drop reasons) see them. Fixed-width types only, padding spelled out and
 * always zero (hash keys are compared bytewise), and a size assertion on each struct so that a
 * change on one side cannot silently shift the other. docs/datapath-bpf.md shows how these
 * look in `bpftool map dump pinned ...`.
 *
 * Multi-byte identifiers (endpoint ids, identities, classes) are in host byte order so that
 * bpftool prints them as the numbers people know; addresses and ports stay in network byte
 * order as they appear in packets (except where a comment says otherwise).
 */
#ifndef MSEG_BPF_ABI_H
#define MSEG_BPF_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Pinned object names under the agent's bpffs directory (msegd --bpf-dir). */
#define MSEG_PIN_PROG_FROM_EP "mseg_tc_ingress" /* tc ingress: packets leaving the container */
#define MSEG_PIN_PROG_TO_EP "mseg_tc_egress"	/* tc egress: packets entering the container */

/* The same values as enum mseg_dir and enum mseg_verdict in policy/compile.h (checked there). */
#define MSEG_ABI_DIR_INGRESS 0
#define MSEG_ABI_DIR_EGRESS 1
#define MSEG_ABI_VERDICT_DENY 0
#define MSEG_ABI_VERDICT_ALLOW 1
/* enum mseg_decider_kind, plus a kind for "nothing is programmed for this endpoint yet". */
#define MSEG_ABI_DECIDED_RULE 0
#define MSEG_ABI_DECIDED_ISOLATION 1
#define MSEG_ABI_DECIDED_DEFAULT 2
#define MSEG_ABI_DECIDED_NONE 255

#define MSEG_ABI_AF_INET 4 /* MSEG_AF_INET */
#define MSEG_ABI_AF_INET6 6

/* Reserved identities (policy/compile.h). */
#define MSEG_ABI_ID_ANY 0
#define MSEG_ABI_ID_WORLD 2

/*
 * Why a packet was dropped (or, in an audit event, why it would have been). One list for
 * both backends and the CLI; the numbers are stable (they sit in pinned counters and flow
 * logs): append, never renumber. Names: mseg_drop_reason_name() in agent/datapath_bpf.h.
 */
enum mseg_drop_reason {
	MSEG_DROP_NONE = 0,		/* not dropped: forwarded packets count here */
	MSEG_DROP_POLICY_DENY = 1,	/* a deny rule matched */
	MSEG_DROP_ISOLATED = 2,		/* selected by policies, none allows this */
	MSEG_DROP_DEFAULT_DENY = 3,	/* not selected, and the node runs --default-deny */
	MSEG_DROP_SPOOFED_IP = 4,	/* source IPv4 is not the endpoint's */
	MSEG_DROP_SPOOFED_MAC = 5,	/* source MAC is not the endpoint's */
	MSEG_DROP_SPOOFED_ARP = 6,	/* ARP sender IP or MAC is not the endpoint's */
	MSEG_DROP_CT_INVALID = 7,	/* conntrack says the packet belongs to no valid flow */
	MSEG_DROP_UNKNOWN_ENDPOINT = 8, /* our program on an interface with no endpoint entry */
	MSEG_DROP_MALFORMED = 9,	/* truncated or inconsistent headers */
	MSEG_DROP_UNSUPPORTED_L3 = 10,	/* neither IPv4 nor ARP */
	MSEG_DROP_FRAGMENT = 11,	/* IPv4 non-first fragment: no ports to decide on */
	MSEG_DROP_NO_POLICY = 12,	/* endpoint known, its policy not programmed yet */
	MSEG_DROP_REASON_MAX,
};

/* mseg_event.verdict */
#define MSEG_EVENT_FORWARDED 0
#define MSEG_EVENT_DROPPED 1
#define MSEG_EVENT_AUDIT 2

/*
 * ipcache: address prefix -> identity and security class, in two maps with one key type.
 * Host addresses (an IPv4 /32: every endpoint) sit in mseg_ipcache_hosts, a hash, so the
 * lookup costs the same with 10 or 100,000 peers (an LPM trie walk grows with its size);
 * shorter prefixes (ipBlock CIDRs) sit in mseg_ipcache, an LPM trie, consulted only when the
 * hash misses (a host entry is always the longest match). The family byte comes first in the
 * matched data so one trie holds IPv4 and (later) IPv6 without their prefixes ever matching
 * each other; prefixlen therefore counts the 32 bits of family + pad too: an IPv4 /24 is
 * stored with prefixlen 32 + 24, a host with 32 + 32.
 */
struct mseg_ipcache_key {
	__u32 prefixlen; /* LPM: bits of everything below that take part in the match */
	__u8 family;	 /* MSEG_ABI_AF_INET */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in addr[0..3], network order */
};
_Static_assert(sizeof(struct mseg_ipcache_key) == 24, "mseg_ipcache_key");

#define MSEG_IPCACHE_PREFIX_BASE 32 /* family + pad bits */

struct mseg_ipcache_value {
	__u32 identity; /* label identity shown in events */
	__u32 class;	/* security class the policy lookup uses (== identity, or a CIDR class) */
};
_Static_assert(sizeof(struct mseg_ipcache_value) == 8, "mseg_ipcache_value");

/* endpoints (hash): host-side veth ifindex -> the local endpoint behind it. */
struct mseg_endpoint_value {
	__u32 id;	/* mseg_endpoint.id: the policy and defaults key */
	__u32 identity; /* its label identity, for events */
	__u8 family;
	__u8 pad[3];
	__u8 ip[16]; /* the only source address it may use */
	__u8 mac[6]; /* the only source MAC it may use (container eth0) */
	__u8 pad2[2];
};
_Static_assert(sizeof(struct mseg_endpoint_value) == 36, "mseg_endpoint_value");

/* What decided a verdict; also the key of the per-rule hit counters. */
struct mseg_rule_ref {
	__u32 policy; /* mseg_policy.id; 0 for DEFAULT */
	__u16 rule;   /* index within the policy's rule list for dir */
	__u8 dir;     /* which rule list */
	__u8 kind;    /* MSEG_ABI_DECIDED_* */
};
_Static_assert(sizeof(struct mseg_rule_ref) == 8, "mseg_rule_ref");

/* A verdict with what decided it: a policy entry's value and an endpoint default alike. */
struct mseg_verdict_value {
	struct mseg_rule_ref decided_by;
	struct mseg_rule_ref audit_by; /* meaningful when audit is set */
	__u8 verdict;		       /* MSEG_ABI_VERDICT_* */
	__u8 audit;		       /* allowed, but an audit-mode policy would deny */
	__u8 pad[2];
};
_Static_assert(sizeof(struct mseg_verdict_value) == 20, "mseg_verdict_value");

/* defaults (hash): endpoint id -> what happens when no policy entry matches, per direction.
 * Keyed by endpoint id, not ifindex, so the agent can program it before the interface exists. */
struct mseg_defaults_value {
	struct mseg_verdict_value dir[2]; /* [MSEG_ABI_DIR_*] */
};
_Static_assert(sizeof(struct mseg_defaults_value) == 40, "mseg_defaults_value");

/*
 * policy (hash) and policy_groups (hash, same key type): one compiled entry's port range is
 * split into aligned power-of-two blocks (port prefixes); each block is one exact-match key. The
 * lookup for a packet first reads the group key (plen = MSEG_POLICY_GROUP) of (endpoint, remote,
 * dir, proto) whose value says which prefix lengths exist there, then tries only those lengths: a
 * constant number of hash lookups whatever the number of rules (an LPM trie over the same key would
 * be O(log n)). The compiler guarantees blocks of one group never overlap, so the first hit is the
 * answer. plen 0..16: port block (port holds the first port of the block, host byte order so
 *               bpftool shows it as a number); value: struct mseg_verdict_value
 *   plen MSEG_POLICY_GROUP: the group header, port 0, in mseg_policy_groups;
 *               value: struct mseg_policy_group
 * proto MSEG_PROTO_ANY (0) groups hold only full-range blocks (plen 0).
 */
struct mseg_policy_key {
	__u32 endpoint; /* first: everything of one endpoint is one prefix of the key */
	__u32 remote;	/* security class, or MSEG_ABI_ID_ANY */
	__u8 dir;
	__u8 proto; /* IANA protocol, 0 = any */
	__u8 plen;  /* port prefix length (0 = every port), or MSEG_POLICY_GROUP */
	__u8 pad;
	__u16 port; /* first port of the block: port & ~(0xffff >> plen) */
	__u16 pad2;
};
_Static_assert(sizeof(struct mseg_policy_key) == 16, "mseg_policy_key");

#define MSEG_POLICY_GROUP 0xff

/* The group header: which port prefix lengths hold blocks, and how many (for userspace). */
struct mseg_policy_group {
	__u32 plen_mask; /* bit n set: some block has plen n */
	__u16 count[17]; /* blocks per plen; the datapath reads only plen_mask */
	__u16 pad;
};
_Static_assert(sizeof(struct mseg_policy_group) == 40, "mseg_policy_group");

/*
 * Conntrack (LRU hash): one entry per flow, keyed by the original direction. ICMP echo
 * uses the identifier as sport and 0 as dport, so the echo reply finds the request's entry.
 */
struct mseg_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* network order */
	__u16 dport;
	__u8 family;
	__u8 proto;
	__u8 pad[2];
};
_Static_assert(sizeof(struct mseg_ct_key) == 40, "mseg_ct_key");

/*
 * Replies are accepted only by the hooks whose side approved the original direction: the
 * source endpoint's egress sets src_ok, the destination endpoint's ingress sets dst_ok. The
 * reply leaving the original destination needs dst_ok; the reply entering the original source
 * needs src_ok. So a destination whose ingress denied the flow cannot forge replies, and a
 * policy that now denies the original direction clears the flag and cuts the replies too.
 * Separate bytes, not bits, so two CPUs setting different flags never undo each other.
 */
struct mseg_ct_value {
	__u64 last_seen_ns; /* CLOCK_MONOTONIC, coarse: bpf_ktime_get_coarse_ns() */
	__u8 src_ok;
	__u8 dst_ok;
	__u8 closing; /* TCP FIN or RST seen: short timeout */
	__u8 seen_reply;
	__u32 pad;
};
_Static_assert(sizeof(struct mseg_ct_value) == 16, "mseg_ct_value");

/* config (array, one entry) */
#define MSEG_CFG_EVENTS_ALLOWED (1u << 0) /* also report allowed new flows */
struct mseg_config {
	__u32 flags;
	__u32 pad;
};
_Static_assert(sizeof(struct mseg_config) == 8, "mseg_config");

/* counters (per-CPU array): index reason * 2 + dir; one extra slot counts lost events. */
#define MSEG_COUNTER_INDEX(reason, dir) ((reason)*2 + (dir))
#define MSEG_COUNTER_EVENTS_LOST (MSEG_DROP_REASON_MAX * 2)
#define MSEG_COUNTERS_MAX (MSEG_COUNTER_EVENTS_LOST + 1)
struct mseg_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct mseg_counter) == 16, "mseg_counter");
/* rule_hits (per-CPU hash): struct mseg_rule_ref -> struct mseg_counter */

#define MSEG_EVENT_PKT_MAX 128

/* One ring buffer record. */
struct mseg_event {
	__u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, userspace converts */
	__u32 ifindex;
	__u32 endpoint;
	__u32 src_identity;
	__u32 dst_identity;
	__u8 dir;     /* as seen by that endpoint */
	__u8 verdict; /* MSEG_EVENT_* */
	__u16 reason;
	__u8 family;
	__u8 proto;
	__u16 sport; /* host order; ICMP: type, code */
	__u16 dport;
	__u16 pkt_len; /* bytes captured in pkt[] */
	__u8 saddr[16];
	__u8 daddr[16];
	struct mseg_rule_ref rule; /* drop: what decided; audit: the audit policy's rule */
	__u32 orig_len;		   /* full packet length */
	__u8 pkt[MSEG_EVENT_PKT_MAX];
};
_Static_assert(sizeof(struct mseg_event) == 208, "mseg_event");

#endif
