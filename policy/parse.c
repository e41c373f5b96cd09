// SPDX-License-Identifier: Apache-2.0
/*
 * Policy documents: one decoder per kind (NetworkPolicy, Policy, ClusterPolicy) over the
 * located node tree, then the all-or-nothing hand-over into a policy set. Files, directories
 * and standard input are read in parse_load.c.
 */
#include "policy/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/labels.h"
#include "policy/parse_internal.h"

/* What one parse_buffer call is building: policies not yet handed to the set. */
struct parse_state {
	struct mseg_pctx ctx;
	const struct mseg_policy_set *set; /* already accepted, for duplicate names */
	struct mseg_policy *out;
	size_t n_out, out_cap;
	/*
	 * (kind, namespace, name) -> position + 1 over set then out (0: empty slot), open
	 * addressing, so duplicate checks stay linear in the number of documents.
	 */
	size_t *names;
	size_t names_cap; /* a power of two, or 0 before the first use */
	size_t names_n;
};

static const char *const kind_names[] = {
    [MSEG_KIND_NETWORK_POLICY] = "NetworkPolicy",
    [MSEG_KIND_POLICY] = "Policy",
    [MSEG_KIND_CLUSTER_POLICY] = "ClusterPolicy",
};

/* The value under key even when it is null (presence matters for podSelector). */
static const struct mseg_ynode *raw_get(const struct mseg_ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->type == MSEG_YNODE_SCALAR && !strcmp(map->keys[i]->value, key))
			return map->values[i];
	return NULL;
}

static const struct mseg_policy *state_policy(const struct parse_state *st, size_t pos)
{
	size_t n_set = st->set ? st->set->n_policies : 0;

	return pos < n_set ? &st->set->policies[pos] : &st->out[pos - n_set];
}

static bool same_name(const struct mseg_policy *a, const struct mseg_policy *b)
{
	if (a->kind != b->kind || strcmp(a->name, b->name))
		return false;
	if (!a->namespace || !b->namespace)
		return a->namespace == b->namespace;
	return !strcmp(a->namespace, b->namespace);
}

static size_t name_hash(const struct mseg_policy *p)
{
	size_t h = 14695981039346656037ull ^ (size_t)p->kind;

	for (const char *s = p->namespace ? p->namespace : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull;
	for (const char *s = p->name; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot holding p's name, or the empty slot where it would go. */
static size_t *names_slot(const struct parse_state *st, const struct mseg_policy *p)
{
	size_t mask = st->names_cap - 1;

	for (size_t i = name_hash(p) & mask;; i = (i + 1) & mask) {
		size_t *slot = &st->names[i];

		if (!*slot || same_name(state_policy(st, *slot - 1), p))
			return slot;
	}
}

static int names_grow(struct parse_state *st)
{
	size_t total = (st->set ? st->set->n_policies : 0) + st->n_out;
	size_t cap = st->names_cap ? st->names_cap * 2 : 64;
	size_t *old = st->names;
	size_t old_cap = st->names_cap;

	while (cap < 2 * (total + 1))
		cap *= 2;
	st->names = calloc(cap, sizeof(*st->names));
	if (!st->names) {
		st->names = old;
		return -ENOMEM;
	}
	st->names_cap = cap;
	st->names_n = 0;
	if (old) {
		for (size_t i = 0; i < old_cap; i++) {
			if (old[i]) {
				*names_slot(st, state_policy(st, old[i] - 1)) = old[i];
				st->names_n++;
			}
		}
	} else {
		/* first use: index what the set already holds */
		for (size_t i = 0; st->set && i < st->set->n_policies; i++) {
			size_t *slot = names_slot(st, &st->set->policies[i]);

			if (!*slot) {
				*slot = i + 1;
				st->names_n++;
			}
		}
	}
	free(old);
	return 0;
}

/* The earlier policy with p's kind, namespace and name, or NULL. */
static const struct mseg_policy *names_find(struct parse_state *st, const struct mseg_policy *p)
{
	size_t *slot;

	if (!st->names_cap && mseg_pctx_fail(&st->ctx, names_grow(st)))
		return NULL;
	slot = names_slot(st, p);
	return *slot ? state_policy(st, *slot - 1) : NULL;
}

/* Records the policy just appended to out; call after every append. */
static void names_add(struct parse_state *st)
{
	size_t pos = (st->set ? st->set->n_policies : 0) + st->n_out - 1;
	size_t *slot;

	if (2 * (st->names_n + 1) > st->names_cap && mseg_pctx_fail(&st->ctx, names_grow(st)))
		return;
	slot = names_slot(st, &st->out[st->n_out - 1]);
	if (!*slot) {
		*slot = pos + 1;
		st->names_n++;
	}
}

static void metadata_decode(struct parse_state *st, const struct mseg_ynode *doc,
			    struct mseg_policy *p)
{
	/* Kubernetes bookkeeping a `kubectl get -o yaml` carries along: accepted, ignored. */
	static const char *const fields[] = {"name",
					     "namespace",
					     "labels",
					     "annotations",
					     "uid",
					     "resourceVersion",
					     "creationTimestamp",
					     "generation",
					     "managedFields",
					     "selfLink",
					     "ownerReferences",
					     "finalizers",
					     "deletionTimestamp",
					     "deletionGracePeriodSeconds",
					     "generateName",
					     NULL};
	struct mseg_pctx *c = &st->ctx;
	const struct mseg_ynode *md = mseg_ynode_get(doc, "metadata");
	const struct mseg_ynode *name, *ns;
	const struct mseg_policy *dup;
	const char *why = NULL;
	size_t old;

	if (!md) {
		mseg_pctx_missing(c, doc, "metadata", "a map with name");
		return;
	}
	old = mseg_pctx_push(c, "metadata");
	if (!mseg_pctx_check_map(c, md, fields))
		goto out;
	name = mseg_ynode_get(md, "name");
	ns = mseg_ynode_get(md, "namespace");
	if (!name) {
		mseg_pctx_missing(c, md, "name", "a DNS-1123 label");
	} else {
		size_t o = mseg_pctx_push(c, "name");

		p->name = mseg_pctx_strdup(c, name);
		if (p->name && mseg_name_check(p->name, &why) < 0)
			mseg_pctx_error(c, name, "\"%s\" is not a valid name: %s", p->name, why);
		mseg_pctx_pop(c, o);
	}
	if (ns) {
		size_t o = mseg_pctx_push(c, "namespace");

		if (p->kind == MSEG_KIND_CLUSTER_POLICY) {
			mseg_pctx_error(c, ns,
					"a ClusterPolicy is cluster-wide and has no namespace");
		} else {
			p->namespace = mseg_pctx_strdup(c, ns);
			if (p->namespace && mseg_name_check(p->namespace, &why) < 0)
				mseg_pctx_error(c, ns, "\"%s\" is not a valid namespace name: %s",
						p->namespace, why);
		}
		mseg_pctx_pop(c, o);
	}
	if (!ns && p->kind != MSEG_KIND_CLUSTER_POLICY) {
		p->namespace = strdup("default");
		if (!p->namespace)
			mseg_pctx_fail(c, -ENOMEM);
	}
	if (!p->name || (p->kind != MSEG_KIND_CLUSTER_POLICY && !p->namespace))
		goto out;
	dup = names_find(st, p);
	if (dup) {
		size_t o = mseg_pctx_push(c, "name");

		mseg_pctx_error(c, name, "duplicate %s \"%s%s%s\", already defined at %s:%u",
				kind_names[p->kind], p->namespace ? p->namespace : "",
				p->namespace ? "/" : "", p->name, dup->file, dup->line);
		mseg_pctx_pop(c, o);
	}
out:
	mseg_pctx_pop(c, old);
}

static void subject_decode(struct mseg_pctx *c, const struct mseg_ynode *node,
			   struct mseg_policy *p)
{
	static const char *const fields[] = {"namespaceSelector", "endpointSelector", NULL};
	const struct mseg_ynode *ns, *ep;
	size_t old;

	if (!mseg_pctx_check_map(c, node, fields))
		return;
	ns = mseg_ynode_get(node, "namespaceSelector");
	ep = mseg_ynode_get(node, "endpointSelector");
	if (ns) {
		p->has_subject_ns = true;
		old = mseg_pctx_push(c, "namespaceSelector");
		mseg_pctx_selector(c, ns, &p->subject_ns);
		mseg_pctx_pop(c, old);
	}
	if (ep) {
		p->has_subject_ep = true;
		old = mseg_pctx_push(c, "endpointSelector");
		mseg_pctx_selector(c, ep, &p->subject_ep);
		mseg_pctx_pop(c, old);
	}
}

static void mode_decode(struct mseg_pctx *c, const struct mseg_ynode *spec, struct mseg_policy *p)
{
	static const char *const modes[] = {"enforce", "audit", NULL};
	const struct mseg_ynode *mode = mseg_ynode_get(spec, "mode");
	size_t old;
	int m;

	p->mode = MSEG_MODE_ENFORCE;
	if (!mode)
		return;
	old = mseg_pctx_push(c, "mode");
	m = mseg_pctx_enum(c, mode, modes);
	if (m >= 0)
		p->mode = (enum mseg_mode)m;
	mseg_pctx_pop(c, old);
}

/* policyTypes, with the Kubernetes defaulting when absent or empty. */
static void policy_types_decode(struct mseg_pctx *c, const struct mseg_ynode *spec,
				struct mseg_policy *p)
{
	static const char *const types[] = {"Ingress", "Egress", NULL};
	const struct mseg_ynode *pt = mseg_ynode_get(spec, "policyTypes");
	const struct mseg_ynode *eg = mseg_ynode_get(spec, "egress");
	size_t old;

	if (!pt || (pt->type == MSEG_YNODE_SEQ && pt->n == 0)) {
		/* Kubernetes: Ingress always; Egress when the policy has egress rules. */
		p->ingress = true;
		p->egress = eg && eg->type == MSEG_YNODE_SEQ && eg->n > 0;
		return;
	}
	old = mseg_pctx_push(c, "policyTypes");
	if (mseg_pctx_expect_seq(c, pt)) {
		for (size_t i = 0; i < pt->n; i++) {
			size_t o = mseg_pctx_push_index(c, i);
			int t = mseg_pctx_enum(c, pt->values[i], types);
			bool *flag = t == 0 ? &p->ingress : &p->egress;

			if (t >= 0 && *flag)
				mseg_pctx_error(c, pt->values[i], "%s is listed twice", types[t]);
			else if (t >= 0)
				*flag = true;
			mseg_pctx_pop(c, o);
		}
	}
	mseg_pctx_pop(c, old);
}

static void rules_decode(struct mseg_pctx *c, const struct mseg_ynode *spec, enum mseg_pflavor fl,
			 struct mseg_policy *p)
{
	const struct mseg_ynode *in = mseg_ynode_get(spec, "ingress");
	const struct mseg_ynode *eg = mseg_ynode_get(spec, "egress");
	bool admin = p->tier == MSEG_TIER_ADMIN;
	size_t old;

	if (in) {
		old = mseg_pctx_push(c, "ingress");
		mseg_pctx_rules(c, in, fl, true, admin, &p->ingress_rules, &p->n_ingress_rules);
		mseg_pctx_pop(c, old);
	}
	if (eg) {
		old = mseg_pctx_push(c, "egress");
		mseg_pctx_rules(c, eg, fl, false, admin, &p->egress_rules, &p->n_egress_rules);
		mseg_pctx_pop(c, old);
	}
	if (fl == MSEG_PFLAVOR_CLUSTER_POLICY) {
		/* A ClusterPolicy's directions are the rule lists it has. */
		p->ingress = in != NULL;
		p->egress = eg != NULL;
	}
}

static void namespaced_spec_decode(struct mseg_pctx *c, const struct mseg_ynode *spec,
				   struct mseg_policy *p)
{
	static const char *const np_fields[] = {"podSelector", "policyTypes", "ingress", "egress",
						NULL};
	static const char *const p_fields[] = {"podSelector", "policyTypes", "ingress",
					       "egress",      "mode",	     NULL};
	enum mseg_pflavor fl =
	    p->kind == MSEG_KIND_NETWORK_POLICY ? MSEG_PFLAVOR_NETWORK_POLICY : MSEG_PFLAVOR_POLICY;
	const struct mseg_ynode *ps;
	size_t old;

	p->tier = MSEG_TIER_NAMESPACE;
	if (!mseg_pctx_check_map(c, spec, fl == MSEG_PFLAVOR_POLICY ? p_fields : np_fields))
		return;
	ps = raw_get(spec, "podSelector");
	if (!ps) {
		mseg_pctx_missing(c, spec, "podSelector",
				  "a label selector ({} selects every pod)");
	} else {
		p->has_subject_ep = true;
		old = mseg_pctx_push(c, "podSelector");
		mseg_pctx_selector(c, ps, &p->subject_ep);
		mseg_pctx_pop(c, old);
	}
	if (fl == MSEG_PFLAVOR_POLICY)
		mode_decode(c, spec, p);
	policy_types_decode(c, spec, p);
	rules_decode(c, spec, fl, p);
}

static void cluster_spec_decode(struct mseg_pctx *c, const struct mseg_ynode *spec,
				struct mseg_policy *p)
{
	static const char *const fields[] = {"tier",	"priority", "mode", "subject",
					     "ingress", "egress",   NULL};
	static const char *const tiers[] = {"admin", "baseline", NULL};
	const struct mseg_ynode *tier, *prio, *subject;
	long long v;
	size_t old;
	int t = -1;

	if (!mseg_pctx_check_map(c, spec, fields))
		return;
	tier = mseg_ynode_get(spec, "tier");
	prio = mseg_ynode_get(spec, "priority");
	subject = mseg_ynode_get(spec, "subject");
	p->tier = MSEG_TIER_ADMIN;
	if (!tier) {
		mseg_pctx_missing(c, spec, "tier", "admin or baseline");
	} else {
		old = mseg_pctx_push(c, "tier");
		t = mseg_pctx_enum(c, tier, tiers);
		mseg_pctx_pop(c, old);
		if (t == 1)
			p->tier = MSEG_TIER_BASELINE;
	}
	if (!prio) {
		mseg_pctx_missing(c, spec, "priority", "a number from 0 to 1000");
	} else {
		old = mseg_pctx_push(c, "priority");
		if (mseg_pctx_int(c, prio, 0, 1000, &v))
			p->priority = (int)v;
		mseg_pctx_pop(c, old);
	}
	mode_decode(c, spec, p);
	if (subject) {
		old = mseg_pctx_push(c, "subject");
		subject_decode(c, subject, p);
		mseg_pctx_pop(c, old);
	}
	/* An unknown tier would make "pass" checks meaningless: report only the tier. */
	if (tier && t < 0)
		p->tier = MSEG_TIER_ADMIN;
	rules_decode(c, spec, MSEG_PFLAVOR_CLUSTER_POLICY, p);
}

static int kind_decode(struct mseg_pctx *c, const struct mseg_ynode *doc)
{
	const struct mseg_ynode *av = mseg_ynode_get(doc, "apiVersion");
	const struct mseg_ynode *kind = mseg_ynode_get(doc, "kind");
	static const char *const apis[] = {"networking.k8s.io/v1", "mseg.io/v1", NULL};
	static const char *const k8s_kinds[] = {"NetworkPolicy", NULL};
	static const char *const mseg_kinds[] = {"Policy", "ClusterPolicy", NULL};
	size_t old;
	int a, k;

	if (!av)
		mseg_pctx_missing(c, doc, "apiVersion", "networking.k8s.io/v1 or mseg.io/v1");
	if (!kind)
		mseg_pctx_missing(c, doc, "kind", "NetworkPolicy, Policy or ClusterPolicy");
	if (!av || !kind)
		return -1;
	old = mseg_pctx_push(c, "apiVersion");
	a = mseg_pctx_enum(c, av, apis);
	mseg_pctx_pop(c, old);
	if (a < 0)
		return -1;
	old = mseg_pctx_push(c, "kind");
	k = mseg_pctx_enum(c, kind, a == 0 ? k8s_kinds : mseg_kinds);
	mseg_pctx_pop(c, old);
	if (k < 0)
		return -1;
	return a == 0	? MSEG_KIND_NETWORK_POLICY
	       : k == 0 ? MSEG_KIND_POLICY
			: MSEG_KIND_CLUSTER_POLICY;
}

static void document_decode(struct parse_state *st, const struct mseg_ynode *doc);

/* `kubectl get networkpolicies -o yaml` output: apiVersion v1, kind List, items[]. */
static bool list_decode(struct parse_state *st, const struct mseg_ynode *doc)
{
	static const char *const fields[] = {"apiVersion", "kind", "metadata", "items", NULL};
	struct mseg_pctx *c = &st->ctx;
	const struct mseg_ynode *kind = mseg_ynode_get(doc, "kind");
	const struct mseg_ynode *av = mseg_ynode_get(doc, "apiVersion");
	const struct mseg_ynode *items;
	size_t old;

	if (!kind || kind->type != MSEG_YNODE_SCALAR || kind->kind != MSEG_YSCALAR_STRING ||
	    strcmp(kind->value, "List") || !av || av->type != MSEG_YNODE_SCALAR ||
	    strcmp(av->value, "v1"))
		return false;
	mseg_pctx_check_map(c, doc, fields);
	items = mseg_ynode_get(doc, "items");
	if (!items)
		return true;
	old = mseg_pctx_push(c, "items");
	if (mseg_pctx_expect_seq(c, items)) {
		for (size_t i = 0; i < items->n && !c->fatal; i++) {
			size_t o = mseg_pctx_push_index(c, i);

			document_decode(st, items->values[i]);
			mseg_pctx_pop(c, o);
		}
	}
	mseg_pctx_pop(c, old);
	return true;
}

static void document_decode(struct parse_state *st, const struct mseg_ynode *doc)
{
	static const char *const fields[] = {"apiVersion", "kind",   "metadata",
					     "spec",	   "status", NULL};
	struct mseg_pctx *c = &st->ctx;
	struct mseg_policy p = {0};
	const struct mseg_ynode *spec;
	unsigned errors = c->errors;
	struct mseg_policy *out;
	size_t old;
	int kind;

	if (doc->type != MSEG_YNODE_MAP) {
		mseg_pctx_error(c, doc, "expected a policy document (a map), got %s",
				mseg_ynode_describe(doc));
		return;
	}
	if (list_decode(st, doc))
		return;
	if (!mseg_ynode_get(doc, "apiVersion") && !mseg_ynode_get(doc, "kind") &&
	    (mseg_ynode_get(doc, "endpoints") || mseg_ynode_get(doc, "namespaces"))) {
		/* The usual mix-up of the offline tools' two inputs: say so once. */
		mseg_pctx_error(c, doc,
				"this is an endpoints file, not a policy document (give it "
				"with --endpoints)");
		return;
	}
	mseg_pctx_check_map(c, doc, fields);
	kind = kind_decode(c, doc);
	if (kind < 0)
		return;
	p.kind = (enum mseg_policy_kind)kind;
	p.line = doc->line;
	p.file = strdup(c->file);
	if (!p.file) {
		mseg_pctx_fail(c, -ENOMEM);
		return;
	}
	metadata_decode(st, doc, &p);
	spec = mseg_ynode_get(doc, "spec");
	if (!spec) {
		mseg_pctx_missing(c, doc, "spec",
				  p.kind == MSEG_KIND_CLUSTER_POLICY
				      ? "a map with tier and priority"
				      : "a map with podSelector");
	} else {
		old = mseg_pctx_push(c, "spec");
		if (p.kind == MSEG_KIND_CLUSTER_POLICY)
			cluster_spec_decode(c, spec, &p);
		else
			namespaced_spec_decode(c, spec, &p);
		mseg_pctx_pop(c, old);
	}
	if (c->errors != errors || c->fatal) {
		mseg_policy_free(&p);
		return;
	}
	if (st->n_out == st->out_cap) {
		size_t cap = st->out_cap ? st->out_cap * 2 : 8;

		out = realloc(st->out, cap * sizeof(*out));
		if (!out) {
			mseg_policy_free(&p);
			mseg_pctx_fail(c, -ENOMEM);
			return;
		}
		st->out = out;
		st->out_cap = cap;
	}
	st->out[st->n_out++] = p;
	names_add(st);
}

/* Called by the reader for each complete document, so only one tree is alive at a time. */
static void document_each(void *userdata, const struct mseg_ynode *doc)
{
	struct parse_state *st = userdata;

	if (!st->ctx.fatal)
		document_decode(st, doc);
}

struct diag_ref {
	struct mseg_diag_entry e;
	size_t index;
};

static int diag_ref_cmp(const void *a, const void *b)
{
	const struct diag_ref *x = a, *y = b;

	if (x->e.line != y->e.line)
		return x->e.line < y->e.line ? -1 : 1;
	if (x->e.col != y->e.col)
		return x->e.col < y->e.col ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

void mseg_diag_sort_from(struct mseg_diag *d, size_t start)
{
	_cleanup_free_ struct diag_ref *refs = NULL;
	size_t n = d->n - start;

	if (n < 2)
		return;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return; /* unsorted is still correct */
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct diag_ref){d->items[start + i], i};
	qsort(refs, n, sizeof(*refs), diag_ref_cmp);
	for (size_t i = 0; i < n; i++)
		d->items[start + i] = refs[i].e;
}

int mseg_policy_parse_buffer(const char *name, const char *buf, size_t len,
			     struct mseg_policy_set *set, struct mseg_diag *diag)
{
	struct mseg_ydocs docs = {0};
	struct parse_state st = {.set = set};
	struct mseg_policy *all;
	size_t diag_start;
	int r;

	if (!set || !diag || (!buf && len))
		return -EINVAL;
	if (!name)
		name = "<input>";
	diag_start = diag->n;
	mseg_pctx_init(&st.ctx, name, diag);
	docs.each = document_each;
	docs.userdata = &st;
	r = mseg_ydocs_read(name, buf, len, &docs, diag);
	mseg_ydocs_free(&docs);
	if (r == 0 && st.ctx.fatal)
		r = st.ctx.fatal;
	if (r == 0 && st.ctx.errors)
		r = -EINVAL;
	if (r == 0 && st.n_out) {
		all = realloc(set->policies, (set->n_policies + st.n_out) * sizeof(*all));
		if (!all)
			r = -ENOMEM;
		else
			set->policies = all;
	}
	if (r < 0) {
		for (size_t i = 0; i < st.n_out; i++)
			mseg_policy_free(&st.out[i]);
		free(st.out);
		free(st.names);
		mseg_diag_sort_from(diag, diag_start);
		return r;
	}
	for (size_t i = 0; i < st.n_out; i++) {
		st.out[i].id = (uint32_t)(set->n_policies + 1);
		set->policies[set->n_policies++] = st.out[i];
	}
	free(st.out);
	free(st.names);
	return 0;
}
