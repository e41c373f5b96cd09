// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler's table shape and its incremental updates: a hand-checked table for a small
 * case, and on random cases that an update after a change (endpoint added, relabelled or
 * removed; policy added, changed or removed) gives the same table as a fresh compile, and
 * that the reported diff applied to the old table yields the new one; the same through
 * mseg_compiler_update_hinted() with correct hints, and that verify mode catches wrong ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "lib/macro.h"
#include "policy/compile.h"
#include "test_compile_gen.h"

static int entry_cmp(const void *a, const void *b)
{
	const struct mseg_table_entry *x = a, *y = b;

	/* every field: a total order on entries */
	return memcmp(x, y, sizeof(*x));
}

static struct mseg_table_entry norm(const struct mseg_table_entry *e)
{
	struct mseg_table_entry n;

	memset(&n, 0, sizeof(n));
	n.endpoint = e->endpoint;
	n.dir = e->dir;
	n.proto = e->proto;
	n.port_lo = e->port_lo;
	n.port_hi = e->port_hi;
	n.remote = e->remote;
	n.verdict = e->verdict;
	n.audit = e->audit;
	n.decided_by.kind = e->decided_by.kind;
	n.decided_by.policy = e->decided_by.policy;
	n.decided_by.rule = e->decided_by.rule;
	n.decided_by.dir = e->decided_by.dir;
	n.audit_by.kind = e->audit_by.kind;
	n.audit_by.policy = e->audit_by.policy;
	n.audit_by.rule = e->audit_by.rule;
	n.audit_by.dir = e->audit_by.dir;
	return n;
}

/* The class number of a table (not stable across compilers) renamed to what it stands for:
 * the sorted list of ipcache prefixes mapping to it, here its smallest prefix as a number. */
static uint64_t class_name(const struct mseg_compiled *c, uint32_t cls)
{
	uint64_t best = UINT64_MAX;

	if (cls < MSEG_CLASS_CIDR_BASE)
		return cls;
	for (size_t i = 0; i < c->n_ipcache; i++)
		if (c->ipcache[i].class == cls) {
			uint64_t k = (uint64_t)mseg_cidr_v4(&c->ipcache[i].prefix) << 8 |
				     c->ipcache[i].prefix.prefixlen;

			if (k < best)
				best = k;
		}
	return (1ull << 40) + best;
}

struct named {
	uint64_t remote;
	struct mseg_table_entry e; /* remote zeroed */
};

static int named_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct named));
}

/* The entries with class numbers replaced by names, in a canonical order. */
static struct named *canon(const struct mseg_compiled *c)
{
	struct named *v = calloc(c->n_entries + 1, sizeof(*v));

	for (size_t i = 0; i < c->n_entries; i++) {
		v[i].remote = class_name(c, c->entries[i].remote);
		v[i].e = norm(&c->entries[i]);
		v[i].e.remote = 0;
	}
	qsort(v, c->n_entries, sizeof(*v), named_cmp);
	return v;
}

/* Two tables are equal up to the numbering of prefix classes. */
static void assert_tables_equal(const struct mseg_compiled *a, const struct mseg_compiled *b)
{
	assert_int_equal(a->n_entries, b->n_entries);
	assert_int_equal(a->n_ipcache, b->n_ipcache);
	assert_int_equal(a->n_defaults, b->n_defaults);
	for (size_t i = 0; i < a->n_ipcache; i++) {
		assert_int_equal(mseg_cidr_cmp(&a->ipcache[i].prefix, &b->ipcache[i].prefix), 0);
		assert_int_equal(a->ipcache[i].identity, b->ipcache[i].identity);
		assert_true(class_name(a, a->ipcache[i].class) ==
			    class_name(b, b->ipcache[i].class));
	}
	{
		struct named *x = canon(a), *y = canon(b);

		assert_memory_equal(x, y, a->n_entries * sizeof(*x));
		free(x);
		free(y);
	}
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < a->n_defaults; i++) {
			const struct mseg_endpoint_default *x = &a->defaults[d][i];
			const struct mseg_endpoint_default *y = &b->defaults[d][i];

			assert_int_equal(x->endpoint, y->endpoint);
			assert_int_equal(x->verdict, y->verdict);
			assert_int_equal(x->audit, y->audit);
			assert_int_equal(x->decided_by.kind, y->decided_by.kind);
			assert_int_equal(x->decided_by.policy, y->decided_by.policy);
		}
}

/* old table - removed + added == new table (as multisets of entries). */
static void assert_diff_applies(const struct mseg_compiled *old, const struct mseg_table_diff *d,
				const struct mseg_compiled *new)
{
	size_t n = old->n_entries + d->n_added, k = 0;
	struct mseg_table_entry *v = calloc(n + 1, sizeof(*v));
	struct mseg_table_entry *want = calloc(new->n_entries + 1, sizeof(*want));
	struct mseg_table_entry *rm = calloc(d->n_removed + 1, sizeof(*rm));

	for (size_t i = 0; i < old->n_entries; i++)
		v[k++] = norm(&old->entries[i]);
	for (size_t i = 0; i < d->n_removed; i++)
		rm[i] = norm(&d->removed[i]);
	qsort(v, k, sizeof(*v), entry_cmp);
	qsort(rm, d->n_removed, sizeof(*rm), entry_cmp);
	/* every removed entry was in the old table: drop it */
	for (size_t i = 0, w = 0, j = 0; i <= k; i++) {
		if (i == k) {
			assert_int_equal(j, d->n_removed);
			k = w;
			break;
		}
		if (j < d->n_removed && !entry_cmp(&v[i], &rm[j])) {
			j++;
			continue;
		}
		v[w++] = v[i];
	}
	for (size_t i = 0; i < d->n_added; i++)
		v[k++] = norm(&d->added[i]);
	qsort(v, k, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < new->n_entries; i++)
		want[i] = norm(&new->entries[i]);
	qsort(want, new->n_entries, sizeof(*want), entry_cmp);
	assert_int_equal(k, new->n_entries);
	assert_memory_equal(v, want, k * sizeof(*v));
	/* defaults: every endpoint whose default differs is reported */
	for (int dir = 0; dir < 2; dir++)
		for (size_t i = 0; i < new->n_defaults; i++) {
			const struct mseg_endpoint_default *nd = &new->defaults[dir][i];
			const struct mseg_endpoint_default *od = NULL;
			bool reported = false;

			for (size_t j = 0; j < old->n_defaults; j++)
				if (old->defaults[dir][j].endpoint == nd->endpoint)
					od = &old->defaults[dir][j];
			for (size_t j = 0; j < d->n_defaults_changed[dir]; j++)
				reported |= d->defaults_changed[dir][j].endpoint == nd->endpoint;
			if (!od || od->verdict != nd->verdict ||
			    od->decided_by.kind != nd->decided_by.kind ||
			    od->decided_by.policy != nd->decided_by.policy ||
			    od->audit != nd->audit)
				assert_true(reported);
		}
	/* ipcache: old - removed + added == new */
	assert_int_equal(old->n_ipcache - d->n_ipcache_removed + d->n_ipcache_added,
			 new->n_ipcache);
	free(v);
	free(want);
	free(rm);
}

/* What mutate() changed, as a caller of mseg_compiler_update_hinted() names it. */
struct change {
	uint32_t eps[2];
	size_t n_eps;
	uint32_t pols[64];
	size_t n_pols;
	const char *ns[1];
	size_t n_ns;
};

static void change_policy(struct change *ch, uint32_t id)
{
	assert_true(ch->n_pols < ARRAY_SIZE(ch->pols));
	ch->pols[ch->n_pols++] = id;
}

/* One random change; with ch, also a namespace relabelled or an endpoint re-addressed, and
 * what changed is recorded in ch. */
static void mutate(struct gen *g, struct mseg_topology *t, struct mseg_policy_set *set,
		   struct change *ch)
{
	struct change none;

	if (!ch)
		ch = &none;
	*ch = (struct change){0};
	switch (gen_below(g, ch == &none ? 5 : 7)) {
	case 0: { /* relabel an endpoint */
		struct mseg_endpoint *e = &t->endpoints[gen_below(g, t->n_endpoints)];

		mseg_labels_set(&e->labels, gen_keys[gen_below(g, 3)], gen_vals[gen_below(g, 3)]);
		ch->eps[ch->n_eps++] = e->id;
		break;
	}
	case 1: /* remove the last endpoint */
		if (t->n_endpoints > 1) {
			ch->eps[ch->n_eps++] = t->endpoints[t->n_endpoints - 1].id;
			struct mseg_topology tail = {.endpoints = &t->endpoints[t->n_endpoints - 1],
						     .n_endpoints = 1};
			struct mseg_endpoint *keep = t->endpoints;

			/* free just the last one, through a one-endpoint view */
			tail.endpoints = malloc(sizeof(*tail.endpoints));
			*tail.endpoints = keep[t->n_endpoints - 1];
			mseg_topology_free(&tail);
			t->n_endpoints--;
		}
		break;
	case 2: { /* add an endpoint: a fresh random topology's first one, re-addressed */
		struct mseg_topology other = {0};
		struct mseg_endpoint *v;
		bool taken;

		gen_topology(g, &other);
		v = realloc(t->endpoints, (t->n_endpoints + 1) * sizeof(*v));
		assert_non_null(v);
		t->endpoints = v;
		v[t->n_endpoints] = other.endpoints[0];
		other.endpoints[0] = (struct mseg_endpoint){0};
		free(v[t->n_endpoints].namespace);
		v[t->n_endpoints].namespace =
		    gen_strdup(t->namespaces[gen_below(g, t->n_namespaces)].name);
		v[t->n_endpoints].id = 1000 + gen_below(g, 1000);
		do {
			taken = false;
			for (size_t i = 0; i < t->n_endpoints; i++)
				taken |=
				    !mseg_cidr_cmp(&t->endpoints[i].ip, &v[t->n_endpoints].ip) ||
				    t->endpoints[i].id == v[t->n_endpoints].id;
			if (taken) {
				v[t->n_endpoints].ip =
				    gen_v4(10, 200, 0, 1 + gen_below(g, 254), 32);
				v[t->n_endpoints].id = 1000 + gen_below(g, 1000);
			}
		} while (taken);
		ch->eps[ch->n_eps++] = v[t->n_endpoints].id;
		t->n_endpoints++;
		mseg_topology_free(&other);
		break;
	}
	case 5: { /* relabel a namespace */
		struct mseg_namespace *ns = &t->namespaces[gen_below(g, t->n_namespaces)];

		mseg_labels_set(&ns->labels, "team", gen_vals[gen_below(g, 3)]);
		ch->ns[ch->n_ns++] = ns->name;
		break;
	}
	case 6: { /* re-address an endpoint: needs no naming */
		struct mseg_endpoint *e = &t->endpoints[gen_below(g, t->n_endpoints)];
		struct mseg_cidr ip;
		bool taken;

		do {
			ip = gen_v4(10, 200, gen_below(g, 2), 1 + gen_below(g, 254), 32);
			taken = false;
			for (size_t i = 0; i < t->n_endpoints; i++)
				taken |= !mseg_cidr_cmp(&t->endpoints[i].ip, &ip);
		} while (taken);
		e->ip = ip;
		break;
	}
	default: { /* replace the policy set with a new random one sharing some policies */
		struct mseg_policy_set other = {0};

		gen_policies(g, t, &other);
		/* ids are positions + 1: a swapped-back policy is unchanged, the others are new,
		 * changed or gone */
		for (size_t i = 0; i < other.n_policies || i < set->n_policies; i++)
			if (i < other.n_policies && i < set->n_policies && gen_chance(g, 60)) {
				struct mseg_policy tmp = other.policies[i];

				other.policies[i] = set->policies[i];
				set->policies[i] = tmp;
			} else {
				change_policy(ch, (uint32_t)i + 1);
			}
		mseg_policy_set_free(set);
		*set = other;
		break;
	}
	}
}

static struct mseg_compile_hint hint_of(const struct change *ch, bool verify)
{
	return (struct mseg_compile_hint){.endpoints = ch->eps,
					  .n_endpoints = ch->n_eps,
					  .policies = ch->pols,
					  .n_policies = ch->n_pols,
					  .namespaces = ch->ns,
					  .n_namespaces = ch->n_ns,
					  .verify = verify};
}

/*
 * hinted: each step goes through mseg_compiler_update_hinted() with a correct hint (verified
 * by the compiler on odd seeds), so the compiler skips what the hint says is unchanged.
 */
static void run_history(bool hinted)
{
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct gen g = {.s = seed * 0x2545f4914f6cdd1dull | 1};
		struct mseg_topology t = {0};
		struct mseg_policy_set set = {0};
		struct mseg_compile_opts opts = {.default_deny = gen_chance(&g, 30)};
		struct mseg_identities *ids = NULL;
		struct mseg_compiler *c = NULL;
		struct mseg_table_diff d = {0};

		gen_topology(&g, &t);
		gen_policies(&g, &t, &set);
		assert_int_equal(mseg_identities_new(&ids), 0);
		assert_int_equal(mseg_compiler_new(&c, ids, &opts), 0);
		assert_int_equal(mseg_compiler_update(c, &t, &set, &d), 0);
		/* the first update reports everything as added */
		assert_int_equal(d.n_added, mseg_compiler_table(c)->n_entries);
		assert_int_equal(d.n_removed, 0);
		mseg_table_diff_free(&d);

		for (int step = 0; step < 4; step++) {
			struct mseg_compiled *old = NULL, *fresh = NULL;
			const struct mseg_compiled *cur = mseg_compiler_table(c);

			/* a private copy of the previous table: the compiler's is replaced */
			assert_int_equal(mseg_compile(&t, &set, &opts, ids, &old), 0);
			assert_tables_equal(cur, old);
			mseg_compiled_free(old);
			old = calloc(1, sizeof(*old));
			*old = *cur;
			old->entries = malloc((cur->n_entries + 1) * sizeof(*cur->entries));
			memcpy(old->entries, cur->entries, cur->n_entries * sizeof(*cur->entries));
			old->defaults[0] =
			    malloc((cur->n_defaults + 1) * sizeof(*cur->defaults[0]));
			old->defaults[1] =
			    malloc((cur->n_defaults + 1) * sizeof(*cur->defaults[1]));
			memcpy(old->defaults[0], cur->defaults[0],
			       cur->n_defaults * sizeof(*cur->defaults[0]));
			memcpy(old->defaults[1], cur->defaults[1],
			       cur->n_defaults * sizeof(*cur->defaults[1]));
			old->ipcache = NULL;
			old->endpoint_identity = NULL;

			if (hinted) {
				struct change ch;
				struct mseg_compile_hint h;

				mutate(&g, &t, &set, &ch);
				h = hint_of(&ch, seed % 2);
				assert_int_equal(mseg_compiler_update_hinted(c, &t, &set, &h, &d),
						 0);
			} else {
				mutate(&g, &t, &set, NULL);
				assert_int_equal(mseg_compiler_update(c, &t, &set, &d), 0);
			}
			cur = mseg_compiler_table(c);
			assert_non_null(cur);
			assert_int_equal(mseg_compile(&t, &set, &opts, ids, &fresh), 0);
			assert_tables_equal(cur, fresh);
			assert_diff_applies(old, &d, cur);
			mseg_table_diff_free(&d);
			mseg_compiled_free(fresh);
			mseg_compiled_free(old);
		}
		mseg_compiler_free(c);
		mseg_identities_free(ids);
		mseg_policy_set_free(&set);
		mseg_topology_free(&t);
	}
}

static void test_incremental_equals_fresh(void **state)
{
	run_history(false);
}

static void test_hinted_equals_fresh(void **state)
{
	run_history(true);
}

/* Copies what a compiler's table says, to compare after a failed update. */
static struct mseg_compiled *table_copy(const struct mseg_compiled *cur)
{
	struct mseg_compiled *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->n_entries = cur->n_entries;
	t->entries = malloc((cur->n_entries + 1) * sizeof(*t->entries));
	t->n_defaults = cur->n_defaults;
	t->n_ipcache = cur->n_ipcache;
	t->n_endpoints = cur->n_endpoints;
	for (int d = 0; d < 2; d++) {
		t->defaults[d] = malloc((cur->n_defaults + 1) * sizeof(*t->defaults[d]));
		memcpy(t->defaults[d], cur->defaults[d], cur->n_defaults * sizeof(*t->defaults[d]));
	}
	t->ipcache = malloc((cur->n_ipcache + 1) * sizeof(*t->ipcache));
	t->endpoint_identity = malloc((cur->n_endpoints + 1) * sizeof(*t->endpoint_identity));
	memcpy(t->entries, cur->entries, cur->n_entries * sizeof(*t->entries));
	memcpy(t->ipcache, cur->ipcache, cur->n_ipcache * sizeof(*t->ipcache));
	memcpy(t->endpoint_identity, cur->endpoint_identity,
	       cur->n_endpoints * sizeof(*t->endpoint_identity));
	return t;
}

/*
 * A hint that misses a change (an endpoint relabelled, added or removed, a namespace
 * relabelled, a policy changed, added or removed) fails the update in verify mode with
 * -EBADMSG and leaves the compiler as it was; the right hint then succeeds.
 */
static void test_wrong_hint_caught(void **state)
{
	for (int what = 0; what < 7; what++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			struct gen g = {.s = seed * 0x9e3779b97f4a7c15ull | 1};
			struct mseg_topology t = {0};
			struct mseg_policy_set set = {0};
			struct mseg_identities *ids = NULL;
			struct mseg_compiler *c = NULL;
			struct mseg_compiled *before, *fresh = NULL;
			struct mseg_compile_hint h = {.verify = true};
			uint32_t named = 0;
			const char *ns_named = NULL;
			int r;

			gen_topology(&g, &t);
			gen_policies(&g, &t, &set);
			if (t.n_endpoints < 2 || !set.n_policies) {
				mseg_policy_set_free(&set);
				mseg_topology_free(&t);
				continue;
			}
			assert_int_equal(mseg_identities_new(&ids), 0);
			assert_int_equal(mseg_compiler_new(&c, ids, NULL), 0);
			assert_int_equal(mseg_compiler_update(c, &t, &set, NULL), 0);
			before = table_copy(mseg_compiler_table(c));

			switch (what) {
			case 0: /* an endpoint relabelled */
				mseg_labels_set(&t.endpoints[0].labels, "wrong", "hint");
				named = t.endpoints[0].id;
				break;
			case 1: /* an endpoint removed: the last one (kept allocated) */
				named = t.endpoints[--t.n_endpoints].id;
				break;
			case 2: /* an endpoint added: the last one removed first, then back */
				named = t.endpoints[t.n_endpoints - 1].id;
				t.n_endpoints--;
				assert_int_equal(mseg_compiler_update(c, &t, &set, NULL), 0);
				mseg_compiled_free(before);
				before = table_copy(mseg_compiler_table(c));
				t.n_endpoints++;
				break;
			case 3: /* a namespace relabelled */
				mseg_labels_set(&t.namespaces[0].labels, "wrong", "hint");
				ns_named = t.namespaces[0].name;
				break;
			case 4: { /* a policy changed */
				struct mseg_policy *p = &set.policies[0];

				p->mode = p->mode == MSEG_MODE_AUDIT ? MSEG_MODE_ENFORCE
								     : MSEG_MODE_AUDIT;
				named = p->id;
				break;
			}
			case 5: /* a policy removed: the last one (kept allocated) */
				named = set.policies[--set.n_policies].id;
				break;
			default: /* a policy added: the last one removed first, then back */
				named = set.policies[set.n_policies - 1].id;
				set.n_policies--;
				assert_int_equal(mseg_compiler_update(c, &t, &set, NULL), 0);
				mseg_compiled_free(before);
				before = table_copy(mseg_compiler_table(c));
				set.n_policies++;
			}
			r = mseg_compiler_update_hinted(c, &t, &set, &h, NULL);
			if (what == 3 && r == 0) {
				/* a namespace without endpoints: nothing the compiler uses */
				bool used = false;

				for (size_t i = 0; i < t.n_endpoints; i++)
					used |= !strcmp(t.endpoints[i].namespace, ns_named);
				assert_false(used);
			} else {
				assert_int_equal(r, -EBADMSG);
				assert_tables_equal(mseg_compiler_table(c), before);
			}
			/* the right hint */
			if (what < 3) {
				h.endpoints = &named;
				h.n_endpoints = 1;
			} else if (what == 3) {
				h.namespaces = &ns_named;
				h.n_namespaces = 1;
			} else {
				h.policies = &named;
				h.n_policies = 1;
			}
			assert_int_equal(mseg_compiler_update_hinted(c, &t, &set, &h, NULL), 0);
			assert_int_equal(mseg_compile(&t, &set, NULL, ids, &fresh), 0);
			assert_tables_equal(mseg_compiler_table(c), fresh);
			if (what == 1)
				t.n_endpoints++;
			if (what == 5)
				set.n_policies++;
			mseg_compiled_free(fresh);
			mseg_compiled_free(before);
			mseg_compiler_free(c);
			mseg_identities_free(ids);
			mseg_policy_set_free(&set);
			mseg_topology_free(&t);
		}
}

/* x/a (app=web) allows ingress from app=db on TCP 80-90, denies 85 (Policy), ipBlock 10.0.0.0/8
 * except 10.9.0.0/16 on UDP 53. Checks the exact rows. */
static void test_small_table(void **state)
{
	struct mseg_topology t = {0};
	struct mseg_policy_set set = {0};
	struct mseg_identities *ids = NULL;
	struct mseg_compiled *c = NULL;
	struct mseg_policy *np, *pol;
	struct mseg_rule *r;
	uint8_t v, a;
	struct mseg_decider by;
	struct mseg_cidr addr;
	uint32_t cls_db = 0;

	t.n_namespaces = 1;
	t.namespaces = calloc(1, sizeof(*t.namespaces));
	t.namespaces[0].name = gen_strdup("x");
	mseg_labels_set(&t.namespaces[0].labels, "kubernetes.io/metadata.name", "x");
	t.n_endpoints = 2;
	t.endpoints = calloc(2, sizeof(*t.endpoints));
	for (int i = 0; i < 2; i++) {
		t.endpoints[i].id = (uint32_t)i + 1;
		t.endpoints[i].namespace = gen_strdup("x");
		t.endpoints[i].name = gen_strdup(i ? "b" : "a");
		mseg_labels_set(&t.endpoints[i].labels, "app", i ? "db" : "web");
		t.endpoints[i].ip = gen_v4(10, 200, 0, 10 + (unsigned)i, 32);
	}
	set.n_policies = 2;
	set.policies = calloc(2, sizeof(*set.policies));
	np = &set.policies[0];
	np->id = 1;
	np->kind = MSEG_KIND_NETWORK_POLICY;
	np->tier = MSEG_TIER_NAMESPACE;
	np->namespace = gen_strdup("x");
	np->has_subject_ep = true;
	mseg_labels_set(&np->subject_ep.match_labels, "app", "web");
	np->ingress = true;
	np->n_ingress_rules = 2;
	np->ingress_rules = calloc(2, sizeof(*r));
	r = &np->ingress_rules[0];
	r->n_peers = 1;
	r->peers = calloc(1, sizeof(*r->peers));
	r->peers[0].has_ep_sel = true;
	mseg_labels_set(&r->peers[0].ep_sel.match_labels, "app", "db");
	r->n_ports = 1;
	r->ports = calloc(1, sizeof(*r->ports));
	r->ports[0] = (struct mseg_port){.proto = MSEG_PROTO_TCP,
					 .has_port = true,
					 .port = 80,
					 .end_port = 90,
					 .icmp_type = -1,
					 .icmp_code = -1};
	r = &np->ingress_rules[1];
	r->n_peers = 1;
	r->peers = calloc(1, sizeof(*r->peers));
	r->peers[0].kind = MSEG_PEER_IPBLOCK;
	r->peers[0].ipblock.cidr = gen_v4(10, 0, 0, 0, 8);
	r->peers[0].ipblock.n_except = 1;
	r->peers[0].ipblock.except = calloc(1, sizeof(struct mseg_cidr));
	r->peers[0].ipblock.except[0] = gen_v4(10, 9, 0, 0, 16);
	r->n_ports = 1;
	r->ports = calloc(1, sizeof(*r->ports));
	r->ports[0] = (struct mseg_port){.proto = MSEG_PROTO_UDP,
					 .has_port = true,
					 .port = 53,
					 .end_port = 53,
					 .icmp_type = -1,
					 .icmp_code = -1};
	pol = &set.policies[1];
	pol->id = 2;
	pol->kind = MSEG_KIND_POLICY;
	pol->tier = MSEG_TIER_NAMESPACE;
	pol->namespace = gen_strdup("x");
	pol->has_subject_ep = true;
	mseg_labels_set(&pol->subject_ep.match_labels, "app", "web");
	pol->ingress = true;
	pol->n_ingress_rules = 1;
	pol->ingress_rules = calloc(1, sizeof(*r));
	r = &pol->ingress_rules[0];
	r->action = MSEG_ACTION_DENY;
	r->n_ports = 1;
	r->ports = calloc(1, sizeof(*r->ports));
	r->ports[0] = (struct mseg_port){.proto = MSEG_PROTO_TCP,
					 .has_port = true,
					 .port = 85,
					 .end_port = 85,
					 .icmp_type = -1,
					 .icmp_code = -1};

	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_compile(&t, &set, NULL, ids, &c), 0);
	/* identities from 256, one per distinct label set */
	assert_int_equal(c->n_endpoints, 2);
	assert_true(c->endpoint_identity[0] >= MSEG_ID_FIRST_ALLOCATED);
	assert_true(c->endpoint_identity[0] != c->endpoint_identity[1]);
	/* ipcache: both endpoints (inside 10.0.0.0/8: prefix classes), the two prefixes */
	assert_int_equal(c->n_ipcache, 4);
	for (size_t i = 0; i < c->n_ipcache; i++) {
		assert_true(c->ipcache[i].class >= MSEG_CLASS_CIDR_BASE);
		if (c->ipcache[i].prefix.prefixlen == 32 &&
		    mseg_cidr_v4(&c->ipcache[i].prefix) == mseg_cidr_v4(&t.endpoints[1].ip)) {
			assert_int_equal(c->ipcache[i].identity, c->endpoint_identity[1]);
			cls_db = c->ipcache[i].class;
		}
		if (c->ipcache[i].prefix.prefixlen < 32)
			assert_int_equal(c->ipcache[i].identity, MSEG_ID_WORLD);
	}
	/* a's ingress from b: TCP 80-84 allow, 85 deny, 86-90 allow; default isolation */
	for (size_t i = 0; i < c->n_entries; i++) {
		const struct mseg_table_entry *e = &c->entries[i];

		if (i)
			assert_true(c->entries[i - 1].endpoint < e->endpoint ||
				    (c->entries[i - 1].endpoint == e->endpoint &&
				     (c->entries[i - 1].dir < e->dir ||
				      (c->entries[i - 1].dir == e->dir &&
				       (c->entries[i - 1].remote < e->remote ||
					(c->entries[i - 1].remote == e->remote &&
					 (c->entries[i - 1].proto < e->proto ||
					  (c->entries[i - 1].proto == e->proto &&
					   c->entries[i - 1].port_hi < e->port_lo))))))));
		if (e->endpoint != 1 || e->remote != cls_db || e->proto != MSEG_PROTO_TCP)
			continue;
		if (e->port_lo == 80) {
			assert_int_equal(e->port_hi, 84);
			assert_int_equal(e->verdict, MSEG_VERDICT_ALLOW);
		} else if (e->port_lo == 86) {
			assert_int_equal(e->port_hi, 90);
			assert_int_equal(e->verdict, MSEG_VERDICT_ALLOW);
		}
	}
	assert_int_equal(c->defaults[MSEG_DIR_INGRESS][0].decided_by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(c->defaults[MSEG_DIR_INGRESS][0].decided_by.policy, 1);
	assert_int_equal(c->defaults[MSEG_DIR_INGRESS][1].decided_by.kind, MSEG_DECIDED_DEFAULT);

	assert_int_equal(mseg_compiled_lookup(c, 1, MSEG_DIR_INGRESS, &t.endpoints[1].ip,
					      MSEG_PROTO_TCP, 85, &v, &a, &by),
			 0);
	assert_int_equal(v, MSEG_VERDICT_DENY);
	assert_int_equal(by.policy, 2);
	assert_int_equal(mseg_compiled_lookup(c, 1, MSEG_DIR_INGRESS, &t.endpoints[1].ip,
					      MSEG_PROTO_TCP, 90, &v, &a, &by),
			 0);
	assert_int_equal(v, MSEG_VERDICT_ALLOW);
	assert_int_equal(by.policy, 1);
	addr = gen_v4(10, 1, 2, 3, 32);
	assert_int_equal(
	    mseg_compiled_lookup(c, 1, MSEG_DIR_INGRESS, &addr, MSEG_PROTO_UDP, 53, &v, &a, &by),
	    0);
	assert_int_equal(v, MSEG_VERDICT_ALLOW);
	assert_int_equal(by.rule, 1);
	addr = gen_v4(10, 9, 2, 3, 32);
	assert_int_equal(
	    mseg_compiled_lookup(c, 1, MSEG_DIR_INGRESS, &addr, MSEG_PROTO_UDP, 53, &v, &a, &by),
	    0);
	assert_int_equal(v, MSEG_VERDICT_DENY);
	assert_int_equal(by.kind, MSEG_DECIDED_ISOLATION);
	assert_int_equal(
	    mseg_compiled_lookup(c, 99, MSEG_DIR_INGRESS, &addr, MSEG_PROTO_UDP, 53, &v, &a, &by),
	    -ENOENT);

	mseg_compiled_free(c);
	mseg_identities_free(ids);
	mseg_policy_set_free(&set);
	mseg_topology_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small_table),
	    cmocka_unit_test(test_incremental_equals_fresh),
	    cmocka_unit_test(test_hinted_equals_fresh),
	    cmocka_unit_test(test_wrong_hint_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
