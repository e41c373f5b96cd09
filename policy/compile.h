/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiled rule table: the contract between the policy engine and the datapath backends
 * (eBPF maps, nftables sets). Everything a backend needs to give a verdict with a constant
 * number of lookups is here, with tiers, priorities, pass, deny-wins, isolation, audit mode and
 * defaults already resolved.
 *
 * The lookup contract, for one packet seen at endpoint E in direction D (ingress: the remote
 * is the source; egress: the remote is the destination):
 *
 *   1. class  = ipcache longest-prefix match of the remote address (MSEG_ID_WORLD if none);
 *   2. entry  = the table entry with (E, D, remote == class) whose proto/port range holds the
 *               packet, taking the entry with proto == the packet's protocol before an entry
 *               with proto == MSEG_PROTO_ANY;
 *   3. if none: the same with remote == MSEG_ID_ANY;
 *   4. if none: the endpoint's default for D (mseg_compiled.defaults).
 *
 * The compiler guarantees that an entry for a specific class already includes the effect of
 * every MSEG_ID_ANY rule overlapping it, and that entries for one (E, D, remote, proto) never
 * overlap in port range; so the first hit is the answer. "Port" is the L4 destination port
 * for TCP/UDP/SCTP and (type << 8 | code) for ICMP. A backend may split a range into prefixes
 * (LPM) or keep it as an interval (nft); the verdict is the same.
 */
#ifndef MSEG_POLICY_COMPILE_H
#define MSEG_POLICY_COMPILE_H

#include "policy/model.h"

/* Reserved identities (DESIGN.md §3). Allocated label identities start at 256. */
#define MSEG_ID_ANY 0u /* wildcard in a table entry: every remote */
#define MSEG_ID_HOST 1u
#define MSEG_ID_WORLD 2u
#define MSEG_ID_UNMANAGED 3u
#define MSEG_ID_FIRST_ALLOCATED 256u
/*
 * Security classes at and above this value are not label identities: they stand for a CIDR
 * prefix named in some ipBlock (for addresses that are not endpoints), or for an endpoint
 * identity combined with the most specific such prefix holding its address (so ipBlock
 * matches pod addresses too, as the upstream e2e suite expects). Only the compiler creates
 * them; they are not stable across compilations and never leave the node.
 */
#define MSEG_CLASS_CIDR_BASE (1u << 24)

enum mseg_dir {
	MSEG_DIR_INGRESS = 0,
	MSEG_DIR_EGRESS = 1,
};

enum mseg_verdict {
	MSEG_VERDICT_DENY = 0,
	MSEG_VERDICT_ALLOW = 1,
};

enum mseg_decider_kind {
	MSEG_DECIDED_RULE,      /* a rule of a policy: policy + rule */
	MSEG_DECIDED_ISOLATION, /* selected by policies for this direction, nothing allowed */
	MSEG_DECIDED_DEFAULT,   /* nothing selected the endpoint: the node's default */
};

/* What decided a verdict. For RULE, policy is the deciding policy's mseg_policy.id; for
 * ISOLATION, the id of the first (lowest id) policy isolating the endpoint. */
struct mseg_decider {
	enum mseg_decider_kind kind;
	uint32_t policy;
	uint16_t rule; /* index within the direction's rule list */
	uint8_t dir;   /* which rule list of the policy: enum mseg_dir */
};

struct mseg_table_entry {
	uint32_t endpoint; /* mseg_endpoint.id */
	uint8_t dir;	   /* enum mseg_dir */
	uint8_t proto;	   /* MSEG_PROTO_*, MSEG_PROTO_ANY covers every protocol */
	uint16_t port_lo;  /* inclusive; 0..65535 for "every port" */
	uint16_t port_hi;
	uint32_t remote;   /* security class, or MSEG_ID_ANY */
	uint8_t verdict;   /* enum mseg_verdict, with audit-mode policies ignored */
	/*
	 * Set when verdict is ALLOW but the verdict with audit-mode policies counted as enforcing
	 * would be DENY: the datapath passes the packet and reports an audit event naming audit_by.
	 */
	uint8_t audit;
	struct mseg_decider decided_by;
	struct mseg_decider audit_by;
};

/* What an endpoint does with a packet no entry matched, per direction. */
struct mseg_endpoint_default {
	uint32_t endpoint;
	uint8_t verdict;
	uint8_t audit;
	struct mseg_decider decided_by;
	struct mseg_decider audit_by;
};

/* ipcache: prefix -> (identity shown to people, security class used by the policy lookup). */
struct mseg_ipcache_entry {
	struct mseg_cidr prefix;
	uint32_t identity;
	uint32_t class;
};

/* A stable numbering of label sets (endpoint labels + namespace labels) to identities. */
struct mseg_identities;

int mseg_identities_new(struct mseg_identities **ret);
void mseg_identities_free(struct mseg_identities *ids);
/* Returns the identity of a label set, allocating the next free id (>= 256) when new. */
int mseg_identities_get(struct mseg_identities *ids, const struct mseg_labels *labels,
			uint32_t *ret);
/* Pins a known (labels, id) pair, e.g. loaded from the store after a restart. */
int mseg_identities_put(struct mseg_identities *ids, const struct mseg_labels *labels,
			uint32_t id);

struct mseg_compile_opts {
	bool default_deny; /* msegd --default-deny: unselected endpoints deny instead of allow */
};

struct mseg_compiled {
	struct mseg_table_entry *entries; /* sorted by (endpoint, dir, remote, proto, port_lo) */
	size_t n_entries;
	struct mseg_endpoint_default *defaults[2]; /* [dir], one per endpoint, sorted by id */
	size_t n_defaults;
	struct mseg_ipcache_entry *ipcache; /* sorted by prefix */
	size_t n_ipcache;
	/* per endpoint, in topology order: its label identity */
	uint32_t *endpoint_identity;
	size_t n_endpoints;
};

struct mseg_compiler;

/*
 * The compiler keeps what it compiled last so that a change recompiles only what it affects.
 * mseg_compiler_update() compiles the given state and reports the difference against the
 * previous call (the first call reports everything as added).
 */
struct mseg_table_diff {
	struct mseg_table_entry *added;
	size_t n_added;
	struct mseg_table_entry *removed;
	size_t n_removed;
	struct mseg_ipcache_entry *ipcache_added;
	size_t n_ipcache_added;
	struct mseg_ipcache_entry *ipcache_removed;
	size_t n_ipcache_removed;
	struct mseg_endpoint_default *defaults_changed[2]; /* [dir] new values */
	size_t n_defaults_changed[2];
};

int mseg_compiler_new(struct mseg_compiler **ret, struct mseg_identities *ids,
		      const struct mseg_compile_opts *opts);
void mseg_compiler_free(struct mseg_compiler *c);
int mseg_compiler_update(struct mseg_compiler *c, const struct mseg_topology *topo,
			 const struct mseg_policy_set *policies, struct mseg_table_diff *diff);

/*
 * What changed since the previous update, named by the caller so that the compiler digests
 * only those objects instead of every endpoint and policy (which is most of the cost of a
 * small change at 1,000 endpoints and 10,000 rules). The arrays are read during the call only,
 * in any order, duplicates allowed. Name:
 * - endpoints: every mseg_endpoint.id added, removed, or whose namespace, labels or named
 *   ports changed (an address change alone needs no naming; naming more is harmless);
 * - policies: every mseg_policy.id added, removed or whose content changed in any way;
 * - namespaces: every namespace name added to or removed from topo->namespaces, or whose
 *   labels changed.
 * An object not named must be equal in value to what the previous update saw (it may live at
 * a different address). The first update of a compiler ignores the hint. With verify set the
 * compiler digests everything anyway and fails with -EBADMSG, leaving its state unchanged,
 * when the hint missed a change: for tests and debugging, at the cost of the unhinted update.
 */
struct mseg_compile_hint {
	const uint32_t *endpoints;
	size_t n_endpoints;
	const uint32_t *policies;
	size_t n_policies;
	const char *const *namespaces;
	size_t n_namespaces;
	bool verify;
};

/* mseg_compiler_update() with a hint; a NULL hint is exactly mseg_compiler_update(). */
int mseg_compiler_update_hinted(struct mseg_compiler *c, const struct mseg_topology *topo,
				const struct mseg_policy_set *policies,
				const struct mseg_compile_hint *hint, struct mseg_table_diff *diff);
/* The current full table (owned by the compiler, valid until the next update). */
const struct mseg_compiled *mseg_compiler_table(const struct mseg_compiler *c);
void mseg_table_diff_free(struct mseg_table_diff *diff);

/* One-shot compile, for tools and tests. */
int mseg_compile(const struct mseg_topology *topo, const struct mseg_policy_set *policies,
		 const struct mseg_compile_opts *opts, struct mseg_identities *ids,
		 struct mseg_compiled **ret);
void mseg_compiled_free(struct mseg_compiled *c);

/* Looks a packet up in a compiled table following the contract above (the datapath's logic
 * in plain C: the oracle that the backends' tests and the property test compare with). */
int mseg_compiled_lookup(const struct mseg_compiled *c, uint32_t endpoint, enum mseg_dir dir,
			 const struct mseg_cidr *remote, uint8_t proto, uint16_t port,
			 uint8_t *verdict, uint8_t *audit, struct mseg_decider *decided_by);

#endif
