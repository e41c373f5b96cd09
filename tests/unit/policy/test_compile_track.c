// SPDX-License-Identifier: Apache-2.0
/*
 * The hinted update as msegd's reconciler drives it: the tracker (policy/compile_track.h)
 * works out each hint from the whole state, the compiler checks it in verify mode (a hint that
 * misses a change fails with -EBADMSG), and the table equals a fresh compile after every step.
 * Each step hands the compiler a deep copy of the state, as the agent does (same values, other
 * addresses). Policies carry serials as msegd's records do: new or changed content, new serial.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "lib/macro.h"
#include "policy/compile.h"
#include "policy/compile_track.h"
#include "test_compile_gen.h"

/* Entries compared on what does not depend on CIDR class numbering (not stable by design). */
static void assert_same_table(const struct mseg_compiled *a, const struct mseg_compiled *b)
{
	assert_int_equal(a->n_entries, b->n_entries);
	assert_int_equal(a->n_ipcache, b->n_ipcache);
	assert_int_equal(a->n_defaults, b->n_defaults);
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct mseg_table_entry *x = &a->entries[i], *y = &b->entries[i];

		assert_int_equal(x->endpoint, y->endpoint);
		assert_int_equal(x->dir, y->dir);
		if (x->remote < MSEG_CLASS_CIDR_BASE || y->remote < MSEG_CLASS_CIDR_BASE)
			assert_int_equal(x->remote, y->remote);
	}
	for (size_t i = 0; i < a->n_ipcache; i++)
		assert_int_equal(a->ipcache[i].identity, b->ipcache[i].identity);
	for (int d = 0; d < 2; d++)
		for (size_t i = 0; i < a->n_defaults; i++) {
			assert_int_equal(a->defaults[d][i].endpoint, b->defaults[d][i].endpoint);
			assert_int_equal(a->defaults[d][i].verdict, b->defaults[d][i].verdict);
			assert_int_equal(a->defaults[d][i].decided_by.kind,
					 b->defaults[d][i].decided_by.kind);
			assert_int_equal(a->defaults[d][i].decided_by.policy,
					 b->defaults[d][i].decided_by.policy);
		}
}

static void endpoint_copy(struct mseg_endpoint *d, const struct mseg_endpoint *s)
{
	*d = *s;
	d->namespace = gen_strdup(s->namespace);
	d->name = gen_strdup(s->name);
	d->labels = (struct mseg_labels){0};
	assert_int_equal(mseg_labels_copy(&d->labels, &s->labels), 0);
	d->ports = calloc(s->n_ports + 1, sizeof(*d->ports));
	assert_non_null(d->ports);
	for (size_t k = 0; k < s->n_ports; k++) {
		d->ports[k] = s->ports[k];
		d->ports[k].name = gen_strdup(s->ports[k].name);
	}
}

/* A deep copy of the topology, endpoints in another order (the agent's order is its own). */
static void topology_copy(struct gen *g, struct mseg_topology *d, const struct mseg_topology *s)
{
	size_t rot = s->n_endpoints ? gen_below(g, (uint32_t)s->n_endpoints) : 0;

	*d = (struct mseg_topology){0};
	d->namespaces = calloc(s->n_namespaces + 1, sizeof(*d->namespaces));
	d->endpoints = calloc(s->n_endpoints + 1, sizeof(*d->endpoints));
	assert_true(d->namespaces && d->endpoints);
	for (size_t i = 0; i < s->n_namespaces; i++) {
		d->namespaces[i].name = gen_strdup(s->namespaces[i].name);
		assert_int_equal(mseg_labels_copy(&d->namespaces[i].labels, &s->namespaces[i].labels),
				 0);
	}
	d->n_namespaces = s->n_namespaces;
	for (size_t i = 0; i < s->n_endpoints; i++)
		endpoint_copy(&d->endpoints[i], &s->endpoints[(i + rot) % s->n_endpoints]);
	d->n_endpoints = s->n_endpoints;
}

static uint64_t next_serial = 1;

static void endpoint_drop(struct mseg_topology *t, size_t i)
{
	struct mseg_topology one = {.endpoints = malloc(sizeof(*one.endpoints)), .n_endpoints = 1};

	assert_non_null(one.endpoints);
	one.endpoints[0] = t->endpoints[i];
	mseg_topology_free(&one);
	memmove(&t->endpoints[i], &t->endpoints[i + 1],
		(t->n_endpoints - i - 1) * sizeof(*t->endpoints));
	t->n_endpoints--;
}

/* One random change of the kinds the agent sees; serials follow policy content. */
static void mutate(struct gen *g, struct mseg_topology *t, struct mseg_policy_set *set,
		   uint64_t **serials)
{
	switch (gen_below(g, 10)) {
	case 0: { /* relabel an endpoint */
		struct mseg_endpoint *e = &t->endpoints[gen_below(g, (uint32_t)t->n_endpoints)];

		mseg_labels_set(&e->labels, gen_keys[gen_below(g, 3)], gen_vals[gen_below(g, 3)]);
		break;
	}
	case 1: /* remove an endpoint (mseg rm) */
		if (t->n_endpoints > 1)
			endpoint_drop(t, gen_below(g, (uint32_t)t->n_endpoints));
		break;
	case 2: { /* add an endpoint (mseg run): a copy of one with a new id and address */
		struct mseg_endpoint *v = realloc(t->endpoints, (t->n_endpoints + 1) * sizeof(*v));
		struct mseg_endpoint *n;
		uint32_t id = 0;
		bool taken;

		assert_non_null(v);
		t->endpoints = v;
		n = &v[t->n_endpoints];
		endpoint_copy(n, &v[gen_below(g, (uint32_t)t->n_endpoints)]);
		for (size_t i = 0; i < t->n_endpoints; i++)
			id = v[i].id > id ? v[i].id : id;
		n->id = id + 1;
		do {
			n->ip = gen_v4(10, 200, 0, 1 + gen_below(g, 254), 32);
			taken = false;
			for (size_t i = 0; i < t->n_endpoints; i++)
				taken |= !mseg_cidr_cmp(&v[i].ip, &n->ip);
		} while (taken);
		if (gen_chance(g, 50))
			mseg_labels_set(&n->labels, "app", gen_vals[gen_below(g, 3)]);
		t->n_endpoints++;
		break;
	}
	case 3: { /* a named port renumbered */
		struct mseg_endpoint *e = &t->endpoints[gen_below(g, (uint32_t)t->n_endpoints)];

		if (e->n_ports)
			e->ports[0].port = e->ports[0].port == 80 ? 8080 : 80;
		break;
	}
	case 4: { /* relabel a namespace */
		struct mseg_namespace *ns = &t->namespaces[gen_below(g, (uint32_t)t->n_namespaces)];

		mseg_labels_set(&ns->labels, "team", gen_vals[gen_below(g, 3)]);
		break;
	}
	case 5: { /* re-address an endpoint: needs no naming */
		struct mseg_endpoint *e = &t->endpoints[gen_below(g, (uint32_t)t->n_endpoints)];
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
	case 6: { /* mseg apply: a new policy set, some policies kept (same serial) */
		struct mseg_policy_set other = {0};
		uint64_t *s;

		gen_policies(g, t, &other);
		s = calloc(other.n_policies + 1, sizeof(*s));
		assert_non_null(s);
		for (size_t i = 0; i < other.n_policies; i++)
			if (i < set->n_policies && gen_chance(g, 60)) {
				struct mseg_policy tmp = other.policies[i];

				other.policies[i] = set->policies[i];
				set->policies[i] = tmp;
				s[i] = (*serials)[i];
			} else {
				s[i] = next_serial++;
			}
		mseg_policy_set_free(set);
		*set = other;
		free(*serials);
		*serials = s;
		break;
	}
	case 7: { /* one policy reconfigured: new content, new serial */
		size_t i = gen_below(g, (uint32_t)set->n_policies);
		struct mseg_policy_set other = {0};

		gen_policies(g, t, &other);
		if (other.n_policies) {
			struct mseg_policy tmp = set->policies[i];

			set->policies[i] = other.policies[0];
			set->policies[i].id = tmp.id;
			other.policies[0] = tmp;
			(*serials)[i] = next_serial++;
		}
		mseg_policy_set_free(&other);
		break;
	}
	default: /* nothing changed (an unchanged apply, a no-op label) */
		break;
	}
}

static void test_tracker_hints_as_reconciler(void **state)
{
	unsigned long named = 0, steps = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 150; seed++) {
		struct gen g = {.s = seed * 0x9e3779b97f4a7c15ull | 1};
		struct mseg_topology t = {0};
		struct mseg_policy_set set = {0};
		struct mseg_compile_opts opts = {.default_deny = gen_chance(&g, 30)};
		struct mseg_identities *ids = NULL;
		struct mseg_compiler *c = NULL;
		struct mseg_compile_tracker *tr = NULL;
		uint64_t *serials;

		gen_topology(&g, &t);
		gen_policies(&g, &t, &set);
		serials = calloc(set.n_policies + 1, sizeof(*serials));
		assert_non_null(serials);
		for (size_t i = 0; i < set.n_policies; i++)
			serials[i] = next_serial++;
		assert_int_equal(mseg_identities_new(&ids), 0);
		assert_int_equal(mseg_compiler_new(&c, ids, &opts), 0);
		assert_int_equal(mseg_compile_tracker_new(&tr), 0);

		for (int step = 0; step < 8; step++) {
			struct mseg_topology view;
			struct mseg_compile_hint h;
			struct mseg_table_diff d = {0};
			struct mseg_compiled *fresh = NULL;
			bool use;

			if (step)
				mutate(&g, &t, &set, &serials);
			if (step == 5 && seed % 3 == 0)
				mseg_compile_tracker_forget(tr); /* as after a failed update */
			topology_copy(&g, &view, &t);
			assert_int_equal(
			    mseg_compile_tracker_hint(tr, &view, &set, serials, &h, &use), 0);
			/* only the first update, and the one after forget, go without a hint */
			assert_true(use == (step != 0 && !(step == 5 && seed % 3 == 0)));
			h.verify = true;
			assert_int_equal(
			    mseg_compiler_update_hinted(c, &view, &set, use ? &h : NULL, &d), 0);
			named += h.n_endpoints + h.n_policies + h.n_namespaces;
			steps++;
			assert_int_equal(mseg_compile_tracker_commit(tr, &view, &set, serials), 0);
			assert_int_equal(mseg_compile(&view, &set, &opts, ids, &fresh), 0);
			assert_same_table(mseg_compiler_table(c), fresh);
			mseg_compiled_free(fresh);
			mseg_table_diff_free(&d);
			mseg_topology_free(&view);
		}
		mseg_compile_tracker_free(tr);
		mseg_compiler_free(c);
		mseg_identities_free(ids);
		mseg_policy_set_free(&set);
		mseg_topology_free(&t);
		free(serials);
	}
	/* the hints are small: a generator that named everything would prove nothing */
	print_message("%lu steps, %.2f objects named per step\n", steps, (double)named / steps);
	assert_true(named < steps * 4);
}

/* A hint that would miss a change is impossible: with a stale serial the compiler says so. */
static void test_stale_serial_caught(void **state)
{
	struct gen g = {.s = 7};
	struct mseg_topology t = {0};
	struct mseg_policy_set set = {0}, other = {0};
	struct mseg_compile_opts opts = {0};
	struct mseg_identities *ids = NULL;
	struct mseg_compiler *c = NULL;
	struct mseg_compile_tracker *tr = NULL;
	struct mseg_compile_hint h;
	struct mseg_table_diff d = {0};
	uint64_t serials[16] = {0};
	bool use;

	(void)state;
	gen_topology(&g, &t);
	do {
		mseg_policy_set_free(&set);
		gen_policies(&g, &t, &set);
	} while (set.n_policies < 2 || !set.policies[0].n_ingress_rules);
	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_compiler_new(&c, ids, &opts), 0);
	assert_int_equal(mseg_compile_tracker_new(&tr), 0);
	assert_int_equal(mseg_compile_tracker_hint(tr, &t, &set, serials, &h, &use), 0);
	assert_false(use);
	assert_int_equal(mseg_compiler_update_hinted(c, &t, &set, NULL, &d), 0);
	mseg_table_diff_free(&d);
	assert_int_equal(mseg_compile_tracker_commit(tr, &t, &set, serials), 0);
	/* the content changes but the caller keeps the serial: the hint names nothing */
	set.policies[0].ingress_rules[0].action =
	    set.policies[0].ingress_rules[0].action == MSEG_ACTION_ALLOW ? MSEG_ACTION_DENY
									  : MSEG_ACTION_ALLOW;
	assert_int_equal(mseg_compile_tracker_hint(tr, &t, &set, serials, &h, &use), 0);
	assert_true(use);
	assert_int_equal(h.n_policies + h.n_endpoints + h.n_namespaces, 0);
	h.verify = true;
	assert_int_equal(mseg_compiler_update_hinted(c, &t, &set, &h, &d), -EBADMSG);
	/* with a new serial it is named, and the update goes through */
	serials[0] = 1;
	assert_int_equal(mseg_compile_tracker_hint(tr, &t, &set, serials, &h, &use), 0);
	assert_int_equal(h.n_policies, 1);
	assert_int_equal(h.policies[0], set.policies[0].id);
	h.verify = true;
	assert_int_equal(mseg_compiler_update_hinted(c, &t, &set, &h, &d), 0);
	mseg_table_diff_free(&d);
	mseg_compile_tracker_free(tr);
	mseg_compiler_free(c);
	mseg_identities_free(ids);
	mseg_policy_set_free(&set);
	mseg_policy_set_free(&other);
	mseg_topology_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tracker_hints_as_reconciler),
	    cmocka_unit_test(test_stale_serial_caught),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
