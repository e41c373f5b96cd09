/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy data model: what the parser produces and what the evaluator and the compiler
 * consume. Plain structs, no kernel types. Every pointer inside a struct is owned by that
 * struct and freed by the destructor of the outermost object (mseg_policy_free,
 * mseg_topology_free); nothing here is shared between two owners.
 *
 * Semantics follow ../shared/DESIGN.md §3-4 and Kubernetes NetworkPolicy exactly; the
 * comments below say how each Kubernetes shape maps onto these structs.
 */
#ifndef MSEG_POLICY_MODEL_H
#define MSEG_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- labels and selectors ------------------------------------------------------------ */

struct mseg_label {
	char *key;
	char *value;
};

/* A label set, kept sorted by key with unique keys (so equal sets compare equal bytewise). */
struct mseg_labels {
	struct mseg_label *items;
	size_t n;
};

enum mseg_selector_op {
	MSEG_SEL_IN,
	MSEG_SEL_NOT_IN,
	MSEG_SEL_EXISTS,
	MSEG_SEL_DOES_NOT_EXIST,
};

struct mseg_selector_expr {
	char *key;
	enum mseg_selector_op op;
	char **values; /* In/NotIn only */
	size_t n_values;
};

/*
 * A Kubernetes LabelSelector: matchLabels AND every matchExpression. An empty selector
 * (no labels, no expressions) selects everything.
 */
struct mseg_selector {
	struct mseg_labels match_labels;
	struct mseg_selector_expr *exprs;
	size_t n_exprs;
};

/* ---- addresses ----------------------------------------------------------------------- */

#define MSEG_AF_INET 4
#define MSEG_AF_INET6 6

/* An address or prefix. IPv4 addresses sit in addr[0..3], network byte order. */
struct mseg_cidr {
	uint8_t family; /* MSEG_AF_INET (IPv6 later, same struct) */
	uint8_t prefixlen;
	uint8_t addr[16];
};

struct mseg_ipblock {
	struct mseg_cidr cidr;
	struct mseg_cidr *except;
	size_t n_except;
};

/* ---- peers and ports ----------------------------------------------------------------- */

enum mseg_peer_kind {
	MSEG_PEER_ENDPOINTS, /* selected by namespace and/or endpoint selector */
	MSEG_PEER_IPBLOCK,
};

/*
 * One entry of from[]/to[] (or a ClusterPolicy peer).
 *
 * Kubernetes NetworkPolicy / mseg Policy (namespaced):
 *   podSelector only        -> has_ep_sel, !has_ns_sel: endpoints of the policy's namespace
 *   namespaceSelector only  -> has_ns_sel, !has_ep_sel: every endpoint of matching namespaces
 *   both                    -> endpoints matching ep_sel in namespaces matching ns_sel
 * ClusterPolicy: endpointSelector only selects in every namespace (there is no "own"
 * namespace); the evaluator tells the two apart by the policy kind.
 */
struct mseg_peer {
	enum mseg_peer_kind kind;
	bool has_ns_sel;
	bool has_ep_sel;
	struct mseg_selector ns_sel;
	struct mseg_selector ep_sel;
	struct mseg_ipblock ipblock; /* MSEG_PEER_IPBLOCK */
};

/* IANA protocol numbers; 0 means "any protocol" where a field allows it. */
#define MSEG_PROTO_ANY 0
#define MSEG_PROTO_ICMP 1
#define MSEG_PROTO_TCP 6
#define MSEG_PROTO_UDP 17
#define MSEG_PROTO_SCTP 132

/*
 * One entry of ports[]. Kubernetes: protocol defaults to TCP; no port means every port of
 * that protocol; endPort makes [port, end_port]; a named port is resolved per endpoint
 * (against the destination endpoint's declared ports).
 * ICMP (mseg Policy only): icmp_type/icmp_code, -1 meaning any.
 */
struct mseg_port {
	uint8_t proto;
	bool has_port;
	uint16_t port;
	uint16_t end_port; /* == port when no endPort */
	char *named_port;  /* non-NULL: has_port is false, resolve by name */
	int icmp_type;
	int icmp_code;
};

/* ---- rules and policies ------------------------------------------------------------- */

enum mseg_action {
	MSEG_ACTION_ALLOW,
	MSEG_ACTION_DENY,
	MSEG_ACTION_PASS, /* ClusterPolicy admin tier only: skip to the namespace tier */
};

/*
 * One ingress or egress rule. n_peers == 0 means "every peer" (from/to absent or empty);
 * n_ports == 0 means "every port and protocol" (ports absent or empty), as in Kubernetes.
 * NetworkPolicy rules are always MSEG_ACTION_ALLOW.
 */
struct mseg_rule {
	enum mseg_action action;
	struct mseg_peer *peers;
	size_t n_peers;
	struct mseg_port *ports;
	size_t n_ports;
	unsigned line; /* where the rule starts in its file, for messages */
};

enum mseg_policy_kind {
	MSEG_KIND_NETWORK_POLICY, /* networking.k8s.io/v1 NetworkPolicy */
	MSEG_KIND_POLICY,         /* mseg.io/v1 Policy */
	MSEG_KIND_CLUSTER_POLICY, /* mseg.io/v1 ClusterPolicy */
};

enum mseg_tier {
	MSEG_TIER_ADMIN,
	MSEG_TIER_NAMESPACE, /* NetworkPolicy and Policy */
	MSEG_TIER_BASELINE,
};

enum mseg_mode {
	MSEG_MODE_ENFORCE,
	MSEG_MODE_AUDIT, /* evaluate and report, never drop */
};

/*
 * One policy document.
 * - NetworkPolicy / Policy: namespace set; subject_ep = podSelector (endpoints of that
 *   namespace); policy_types resolved with the Kubernetes defaulting (Ingress always, Egress
 *   when egress rules are present) when the document had none.
 * - ClusterPolicy: namespace NULL; subject by has_subject_ns/subject_ns and
 *   has_subject_ep/subject_ep (neither: every endpoint); tier and priority set; the
 *   ingress/egress flags say only which rule lists exist (a ClusterPolicy never isolates).
 */
struct mseg_policy {
	/*
	 * Stable, non-zero, unique among the policies in force: what compiled entries and
	 * datapath events name (struct mseg_decider.policy). The agent assigns it and keeps it
	 * across restarts; offline tools use the position in the set plus one.
	 */
	uint32_t id;
	enum mseg_policy_kind kind;
	char *namespace;
	char *name;
	enum mseg_tier tier;
	int priority; /* ClusterPolicy: 0..1000, lower is evaluated first */
	enum mseg_mode mode;

	bool has_subject_ns;
	bool has_subject_ep;
	struct mseg_selector subject_ns;
	struct mseg_selector subject_ep;

	bool ingress;	/* policyTypes contains Ingress */
	bool egress;	/* policyTypes contains Egress */
	struct mseg_rule *ingress_rules;
	size_t n_ingress_rules;
	struct mseg_rule *egress_rules;
	size_t n_egress_rules;

	char *file; /* source, for messages and "decided by" */
	unsigned line;
};

/* ---- the topology policies apply to ------------------------------------------------- */

struct mseg_namespace {
	char *name;
	/* includes kubernetes.io/metadata.name=<name>, added by whoever builds the struct */
	struct mseg_labels labels;
};

struct mseg_named_port {
	char *name;
	uint16_t port;
	uint8_t proto;
};

struct mseg_endpoint {
	uint32_t id; /* stable, non-zero, unique per node: the datapath's endpoint key */
	char *namespace;
	char *name;
	struct mseg_labels labels;
	struct mseg_named_port *ports;
	size_t n_ports;
	struct mseg_cidr ip; /* prefixlen 32 for IPv4 */
};

/*
 * Everything a decision depends on: namespaces, endpoints and policies. The endpoints file
 * of `mseg policy trace/matrix --endpoints` parses into this, and the agent builds one from
 * its store.
 */
struct mseg_topology {
	struct mseg_namespace *namespaces;
	size_t n_namespaces;
	struct mseg_endpoint *endpoints;
	size_t n_endpoints;
};

struct mseg_policy_set {
	struct mseg_policy *policies;
	size_t n_policies;
};

void mseg_labels_free(struct mseg_labels *l);
void mseg_selector_free(struct mseg_selector *s);
void mseg_policy_free(struct mseg_policy *p); /* frees the members, not p itself */
void mseg_policy_set_free(struct mseg_policy_set *set);
void mseg_topology_free(struct mseg_topology *t);

#endif
