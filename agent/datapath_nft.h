/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nftables backend's internals, shared by its files (datapath_nft*.c) and its unit tests.
 * The reconciler uses only mseg_datapath_nft (agent/datapath.h).
 *
 * Layout of table inet mseg (docs/datapath-nft.md explains how to read it):
 *   base chains forward/input/output: iifname vmap @ep_out (packets leaving a container),
 *     oifname vmap @ep_in (packets entering one); the elements jump to per-endpoint chains;
 *   ep_<ns>_<name>_out / _in: anti-spoofing (out), conntrack replies return, then the lookup
 *     contract of policy/compile.h as four verdict maps, first hit wins:
 *       <chain>_cls    remote address . l4proto . port    (class-specific, proto-specific)
 *       <chain>_clsany remote address . l4proto 0-255     (class-specific, any protocol)
 *       <chain>_any    l4proto . port                     (any remote, proto-specific)
 *       <chain>_rest   meta nfproto ipv4                  (any remote and protocol, or default)
 *   decision chains (deny_/audit_/drop_..., allow_ only with --flows), reached by goto from
 *     the maps: a named counter, an NFLOG line for drops and audits, then return or drop;
 *   a plain allow is a `return` element instead (no chain: 10,000 allow rules would be
 *     10,000 chains, counters and rules to create and validate), commented with its decision
 *     name and counted by the element's own counter (every endpoint map counts per element).
 * Remote classes become address intervals: the ipcache is longest-prefix, interval sets may
 * not overlap, so each prefix contributes itself minus the more specific prefixes inside it.
 */
#ifndef MSEG_AGENT_DATAPATH_NFT_H
#define MSEG_AGENT_DATAPATH_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath.h"
#include "policy/compile.h"

#define MSEG_NFT_TABLE "mseg"
#define MSEG_NFT_NAME_MAX 256 /* NFT_NAME_MAXLEN, with the terminating NUL */
#define MSEG_NFT_SNAPLEN 128  /* bytes of each logged packet copied to the agent */

/* The last kernel error of the backend, naming the object that caused it ("" if none). */
const char *mseg_datapath_nft_error(const struct mseg_datapath *dp);

/*
 * msegd --flows on nft: the allow chains log the first packet of each new connection to the
 * NFLOG group (prefix "mseg:F:..."); rewrites the allow chains already programmed when the
 * setting changes. Always called at start: an earlier agent may have left it on.
 */
int mseg_datapath_nft_set_flows(struct mseg_datapath *dp, bool on);

/*
 * The rule hits: every decision chain's named counter, summed per decider (policy rule or
 * isolation, with its direction; node defaults left out), for `mseg get policies -o wide` and
 * mseg_policy_rule_hits_total. *ret is the caller's to free.
 */
struct mseg_nft_hit {
	struct mseg_decider by;
	uint64_t packets, bytes;
};
int mseg_datapath_nft_hits_read(struct mseg_datapath *dp, struct mseg_nft_hit **ret, size_t *n_ret);
/* The hits of one rule (policy, dir, rule) or isolation (policy, dir): false if none counted. */
bool mseg_nft_hits_find(const struct mseg_nft_hit *hits, size_t n, const struct mseg_decider *by,
			uint64_t *packets, uint64_t *bytes);

/* ---- remote classes as disjoint IPv4 intervals (datapath_nft_names.c) ------------------ */

struct mseg_nft_interval {
	uint32_t lo, hi; /* host order, inclusive */
	uint32_t class;
};

/*
 * Turns the longest-prefix ipcache into disjoint intervals covering the whole IPv4 space,
 * sorted by lo, adjacent intervals of one class merged; space no prefix covers belongs to
 * MSEG_ID_WORLD (the contract's "no match"). Non-IPv4 entries are ignored.
 */
int mseg_nft_intervals_compute(const struct mseg_ipcache_entry *ipc, size_t n,
			       struct mseg_nft_interval **ret, size_t *n_ret);

/* ---- the mirror of what is programmed (datapath_nft_mirror.c) ---------------------------- */

/* The compiled state the backend programmed; every array sorted as noted, so that the next
 * state after a diff of k objects is made by merges, in O(n + k log k). */
struct mseg_nft_mirror {
	struct mseg_table_entry *entries; /* by mseg_nft_entry_cmp */
	size_t n_entries;
	struct mseg_endpoint_default *defaults[2]; /* [dir], by endpoint */
	size_t n_defaults[2];
	struct mseg_ipcache_entry *ipcache; /* by prefix */
	size_t n_ipcache;
	struct mseg_nft_interval *iv; /* the ipcache's intervals, by (class, lo) */
	size_t n_iv;
	/* a next mirror shares what the diff left unchanged with the current one */
	bool entries_borrowed, ipcache_borrowed; /* ipcache and iv */
};

/* (endpoint, dir, remote, proto, port_lo, port_hi) */
int mseg_nft_entry_cmp(const struct mseg_table_entry *a, const struct mseg_table_entry *b);
/*
 * next = cur with the diff applied (removals, then additions; changed defaults replaced);
 * intervals recomputed only when the ipcache changed. What the diff leaves unchanged next
 * borrows from cur: use next while cur lives, then either free next or let it replace cur.
 */
int mseg_nft_mirror_next(const struct mseg_nft_mirror *cur, const struct mseg_table_diff *diff,
			 struct mseg_nft_mirror *next);
/* Frees what m owns (not what it borrowed); NULL-safe. */
void mseg_nft_mirror_free(struct mseg_nft_mirror *m);
/* cur = next: frees what of cur next did not borrow; next is left empty. */
void mseg_nft_mirror_replace(struct mseg_nft_mirror *cur, struct mseg_nft_mirror *next);
/* The intervals of one class (a run of m->iv). */
const struct mseg_nft_interval *mseg_nft_class_intervals(const struct mseg_nft_mirror *m,
							 uint32_t class, size_t *count);
/* The entries of (endpoint, dir): the index of the first, and *count of them. */
size_t mseg_nft_mirror_entries_of(const struct mseg_nft_mirror *m, uint32_t endpoint, uint8_t dir,
				  size_t *count);
/* The default of (dir, endpoint), or NULL. */
const struct mseg_endpoint_default *mseg_nft_mirror_default(const struct mseg_nft_mirror *m,
							    uint8_t dir, uint32_t endpoint);
/* The classes whose intervals differ between a and b, ascending; *ret is the caller's. */
int mseg_nft_classes_changed(const struct mseg_nft_mirror *a, const struct mseg_nft_mirror *b,
			     uint32_t **ret, size_t *n_ret);

/* ---- names ------------------------------------------------------------------------------ */

/*
 * "ep_<ns>_<name>" with every byte outside [a-z0-9-] written as _XX (hex), so the mapping is
 * one-to-one and the result is a plain nft identifier; "ep_<id>" when that would be too long
 * for a set name with its longest suffix.
 */
int mseg_nft_endpoint_base(char *buf, size_t len, const char *ns, const char *name, uint32_t id);

/* What a packet that reached a verdict map element meets: one decision chain per value. */
struct mseg_nft_decision {
	uint8_t dir;	 /* enum mseg_dir of the check (the endpoint's side) */
	uint8_t verdict; /* enum mseg_verdict */
	uint8_t audit;
	uint16_t reason; /* enum mseg_drop_reason, for drops */
	struct mseg_decider by;
	struct mseg_decider audit_by;
	/* A drop that no policy decides (spoofing, not IPv4): named after reason alone. */
	bool special;
};

/* allow_p5_ing3_in, deny_iso_p2_out, deny_default_in, audit_p1_egr0_by_p4_egr2_out,
 * drop_spoofed_ip_out. Equal decisions give equal names. */
int mseg_nft_decision_name(char *buf, size_t len, const struct mseg_nft_decision *d);
bool mseg_nft_decision_equal(const struct mseg_nft_decision *a, const struct mseg_nft_decision *b);

/*
 * The NFLOG prefix of a decision: "mseg:<V>:<d>:<reason>:<kind>:<policy>:<rdir>:<rule>",
 * V = D (dropped), A (audit) or F (forwarded: an allowed new connection, msegd --flows), d = i/o
 * (the endpoint's side), kind = R/I/D (rule, isolation, default, N = none: a special drop), rdir =
 * i/e (the rule list). Audit lines name audit_by (the policy that would have dropped). Parsing is
 * strict: anything else is -EINVAL.
 */
int mseg_nft_log_prefix(char *buf, size_t len, const struct mseg_nft_decision *d);
int mseg_nft_log_prefix_parse(const char *prefix, uint8_t *event_verdict, uint8_t *dir,
			      uint16_t *reason, struct mseg_decider *by);

/*
 * The decider a decision chain's name (mseg_nft_decision_name) says decided its packets: an
 * allow or deny chain's, an audit chain's allowing one (what bpf counts for the rule hits).
 * Rules keep their own list's direction; isolation and default take the chain's side.
 * -EINVAL for the special drops and for names not made by mseg_nft_decision_name.
 */
int mseg_nft_decision_name_parse(const char *name, struct mseg_decider *by);

/* ---- named counters (datapath_nft_counters.c) ------------------------------------------- */

typedef int (*mseg_nft_counter_fn)(const char *name, uint64_t packets, uint64_t bytes,
				   void *userdata);
/* Dumps every named counter of table inet mseg (NFT_MSG_GETOBJ); fn < 0 stops with it. */
struct mnl_socket;
int mseg_nft_counters_dump(struct mnl_socket *nl, uint32_t seq, mseg_nft_counter_fn fn,
			   void *userdata);
/* Dumps the counters of one map's commented elements (the `return` allows), each reported
 * under its comment (NFT_MSG_GETSETELEM); fn < 0 stops with it. */
int mseg_nft_elem_counters_dump(struct mnl_socket *nl, uint32_t seq, const char *set,
				mseg_nft_counter_fn fn, void *userdata);
/* Both dumps summed per decider (mseg_datapath_nft_hits_read): the named counters, then the
 * element counters of the maps in sets[]. *seq advances by the requests made. */
int mseg_nft_hits_dump(struct mnl_socket *nl, uint32_t *seq, const char *const *sets, size_t n_sets,
		       struct mseg_nft_hit **ret, size_t *n_ret);

/* ---- batches (datapath_nft_batch.c) ---------------------------------------------------- */

/*
 * One nfnetlink transaction: BATCH_BEGIN, the messages, BATCH_END, each with its own
 * sequence number; what[] remembers, per sequence number, which object a message is about,
 * so that an error from the kernel names it.
 */
struct mseg_nft_batch;

int mseg_nft_batch_new(struct mseg_nft_batch **ret, uint32_t seq_start);
void mseg_nft_batch_free(struct mseg_nft_batch *b);
static inline void mseg_nft_batch_freep(struct mseg_nft_batch **b)
{
	mseg_nft_batch_free(*b);
}
/* Number of messages between BEGIN and END. */
size_t mseg_nft_batch_count(const struct mseg_nft_batch *b);
/* Closes the batch (BATCH_END) and returns the bytes to send. */
int mseg_nft_batch_finish(struct mseg_nft_batch *b, const void **buf, size_t *len);
/* The object a sequence number was about, or NULL. */
const char *mseg_nft_batch_what(const struct mseg_nft_batch *b, uint32_t seq);

/* Sets the kinds of set the backend makes (key layout and nft type for printing). */
enum mseg_nft_set_kind {
	MSEG_NFT_SET_IFNAME,	      /* ifname : verdict */
	MSEG_NFT_SET_ADDR_PROTO_PORT, /* ipv4_addr . inet_proto . inet_service : verdict, interval
				       */
	MSEG_NFT_SET_ADDR_PROTO,      /* ipv4_addr . inet_proto : verdict, interval */
	MSEG_NFT_SET_PROTO_PORT,      /* inet_proto . inet_service : verdict, interval */
	MSEG_NFT_SET_NFPROTO,	      /* nf_proto : verdict */
};

/* One verdict map element; keys are in the set's register layout (4-byte aligned fields). */
struct mseg_nft_elem {
	uint8_t key[16];
	uint8_t key_end[16]; /* interval sets only */
	uint8_t key_len;
	bool jump; /* jump (base chain dispatch) or goto (decisions) */
	/*
	 * return: a plain allow (no --flows) ends the endpoint chain at once; chain then names
	 * the decision only as the element's comment, where its counter's hits belong.
	 */
	bool ret;
	char chain[MSEG_NFT_NAME_MAX];
};

/* Key constructors: each starts a new element (a goto: jump and ret false). */
void mseg_nft_elem_addr_proto_port(struct mseg_nft_elem *e, uint32_t addr_lo, uint32_t addr_hi,
				   uint8_t proto, uint16_t port_lo, uint16_t port_hi);
void mseg_nft_elem_addr_proto(struct mseg_nft_elem *e, uint32_t addr_lo, uint32_t addr_hi,
			      uint8_t proto_lo, uint8_t proto_hi);
void mseg_nft_elem_proto_port(struct mseg_nft_elem *e, uint8_t proto, uint16_t port_lo,
			      uint16_t port_hi);
void mseg_nft_elem_nfproto(struct mseg_nft_elem *e, uint8_t nfproto);
void mseg_nft_elem_ifname(struct mseg_nft_elem *e, const char *ifname);
int mseg_nft_elem_cmp(const struct mseg_nft_elem *a, const struct mseg_nft_elem *b);

int mseg_nft_batch_table_add(struct mseg_nft_batch *b);
int mseg_nft_batch_table_del(struct mseg_nft_batch *b);
/* hook < 0: a regular chain. Base chains are filter chains with policy accept. */
int mseg_nft_batch_chain_add(struct mseg_nft_batch *b, const char *name, int hook, int prio,
			     const char *comment);
int mseg_nft_batch_chain_flush(struct mseg_nft_batch *b, const char *name);
int mseg_nft_batch_chain_del(struct mseg_nft_batch *b, const char *name);
int mseg_nft_batch_set_add(struct mseg_nft_batch *b, const char *name, enum mseg_nft_set_kind kind,
			   const char *comment);
int mseg_nft_batch_set_flush(struct mseg_nft_batch *b, const char *name);
int mseg_nft_batch_set_del(struct mseg_nft_batch *b, const char *name);
int mseg_nft_batch_elems(struct mseg_nft_batch *b, bool add, const char *set,
			 const struct mseg_nft_elem *elems, size_t n);
int mseg_nft_batch_counter_add(struct mseg_nft_batch *b, const char *name);
int mseg_nft_batch_counter_del(struct mseg_nft_batch *b, const char *name);

/* Appends one rule (built with libnftnl) to chain; the rule stays the caller's. */
struct nftnl_rule;
int mseg_nft_batch_rule_append(struct mseg_nft_batch *b, struct nftnl_rule *rl, const char *chain);
/* The rules of the table (datapath_nft_rules.c): each builds one rule and appends it. */
int mseg_nft_batch_rules_base(struct mseg_nft_batch *b, const char *chain, bool iif,
			      const char *map);
/* Non-IPv4 drop, anti-spoofing (egress only: ep and the spoof chains are needed there),
 * replies, then the four lookups. */
int mseg_nft_batch_rules_endpoint(struct mseg_nft_batch *b, const char *chain, enum mseg_dir dir,
				  const struct mseg_dp_endpoint *ep, const char *spoof_mac,
				  const char *spoof_ip, const char *nonip_chain);
/* flows: allow chains (not audits) also log each new connection's first packet ("F"). */
int mseg_nft_batch_rules_decision(struct mseg_nft_batch *b, const char *chain,
				  const struct mseg_nft_decision *d, uint32_t nflog_group,
				  bool flows);

/* Sends a finished batch and drains every answer; on error *err names the object. */
struct mnl_socket;
int mseg_nft_batch_send(struct mseg_nft_batch *b, struct mnl_socket *nl, char *err, size_t errlen);

#endif
