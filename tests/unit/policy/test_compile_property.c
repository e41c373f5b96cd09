// SPDX-License-Identifier: Apache-2.0
/*
 * Property test: for random topologies, policy sets and flows, the compiled table looked up
 * as the datapath does (mseg_compiled_lookup) gives the reference evaluator's verdict, audit
 * flag and decider on both sides. MSEG_PROPERTY_SAMPLES sets the number of (policies, flow)
 * samples (default 10000), MSEG_PROPERTY_SEED the seed. A failure prints the seed and a
 * shrunk case: policies and rules dropped one by one while it still fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "policy/compile.h"
#include "test_compile_gen.h"

#define FLOWS_PER_SET 25

/* what the samples exercised, so a generator gone trivial shows in the output */
static unsigned long stat_verdict[2], stat_kind[3], stat_audit;

static bool decider_eq(const struct mseg_decider *a, const struct mseg_decider *b)
{
	return a->kind == b->kind && a->policy == b->policy && a->rule == b->rule &&
	       a->dir == b->dir;
}

/* 1: agree, 0: disagree (why filled), <0: error */
static int check_flow_in(const struct mseg_compiled *c, const struct mseg_topology *t,
			 const struct mseg_policy_set *set, const struct mseg_compile_opts *opts,
			 const struct mseg_flow *f, char *why, size_t why_len)
{
	struct mseg_eval_result res = {0};
	int r = 0, ok = 1;

	r = mseg_evaluate(t, set, opts, f, &res);
	for (int d = 0; r >= 0 && ok && d < 2; d++) {
		const struct mseg_side *side = d == MSEG_DIR_EGRESS ? &res.egress : &res.ingress;
		const struct mseg_flow_end *self = d == MSEG_DIR_EGRESS ? &f->src : &f->dst;
		const struct mseg_flow_end *remote = d == MSEG_DIR_EGRESS ? &f->dst : &f->src;
		struct mseg_decider by;
		uint8_t v, a;

		if (!self->ep)
			continue;
		r = mseg_compiled_lookup(c, self->ep->id, (enum mseg_dir)d, &remote->ip, f->proto,
					 f->port, &v, &a, &by);
		if (r < 0)
			break;
		stat_verdict[v & 1]++;
		stat_kind[by.kind % 3]++;
		stat_audit += a;
		if (v != side->verdict || a != side->audit || !decider_eq(&by, &side->decided_by)) {
			snprintf(why, why_len,
				 "%s: table verdict=%u audit=%u by={%d,%u,%u,%u}, evaluator "
				 "verdict=%u audit=%u by={%d,%u,%u,%u}",
				 d ? "egress" : "ingress", v, a, by.kind, by.policy, by.rule,
				 by.dir, side->verdict, side->audit, side->decided_by.kind,
				 side->decided_by.policy, side->decided_by.rule,
				 side->decided_by.dir);
			ok = 0;
		}
	}
	mseg_eval_result_free(&res);
	return r < 0 ? r : ok;
}

/* The same, compiling the table first (for shrinking, where the policies change). */
static int check_flow(const struct mseg_topology *t, const struct mseg_policy_set *set,
		      const struct mseg_compile_opts *opts, const struct mseg_flow *f, char *why,
		      size_t why_len)
{
	struct mseg_identities *ids = NULL;
	struct mseg_compiled *c = NULL;
	int r;

	r = mseg_identities_new(&ids);
	if (r >= 0)
		r = mseg_compile(t, set, opts, ids, &c);
	if (r >= 0)
		r = check_flow_in(c, t, set, opts, f, why, why_len);
	mseg_compiled_free(c);
	mseg_identities_free(ids);
	return r;
}

static void print_selector(const char *what, const struct mseg_selector *s)
{
	char *l = mseg_labels_format(&s->match_labels);

	printf(" %s{%s", what, l ? l : "?");
	free(l);
	for (size_t i = 0; i < s->n_exprs; i++) {
		static const char *const ops[] = {"In", "NotIn", "Exists", "DoesNotExist"};

		printf(" %s %s(", s->exprs[i].key, ops[s->exprs[i].op]);
		for (size_t k = 0; k < s->exprs[i].n_values; k++)
			printf("%s%s", k ? "," : "", s->exprs[i].values[k]);
		printf(")");
	}
	printf("}");
}

static void print_case(const struct mseg_topology *t, const struct mseg_policy_set *set,
		       const struct mseg_flow *f)
{
	char buf[MSEG_CIDR_STRLEN];

	for (size_t i = 0; i < t->n_namespaces; i++) {
		char *l = mseg_labels_format(&t->namespaces[i].labels);

		printf("  namespace %s {%s}\n", t->namespaces[i].name, l ? l : "?");
		free(l);
	}
	for (size_t i = 0; i < t->n_endpoints; i++) {
		const struct mseg_endpoint *e = &t->endpoints[i];
		char *l = mseg_labels_format(&e->labels);

		printf("  endpoint %u %s/%s %s {%s}", e->id, e->namespace, e->name,
		       mseg_cidr_format(&e->ip, true, buf), l ? l : "?");
		free(l);
		for (size_t k = 0; k < e->n_ports; k++)
			printf(" %s=%u/%u", e->ports[k].name, e->ports[k].port, e->ports[k].proto);
		printf("\n");
	}
	for (size_t i = 0; i < set->n_policies; i++) {
		const struct mseg_policy *p = &set->policies[i];

		printf("  policy id=%u kind=%d ns=%s tier=%d prio=%d mode=%d in=%d eg=%d", p->id,
		       p->kind, p->namespace ? p->namespace : "-", p->tier, p->priority, p->mode,
		       p->ingress, p->egress);
		if (p->has_subject_ns)
			print_selector("subject_ns", &p->subject_ns);
		if (p->has_subject_ep)
			print_selector("subject_ep", &p->subject_ep);
		printf("\n");
		for (int d = 0; d < 2; d++) {
			const struct mseg_rule *rules = d ? p->egress_rules : p->ingress_rules;
			size_t nr = d ? p->n_egress_rules : p->n_ingress_rules;

			for (size_t k = 0; k < nr; k++) {
				const struct mseg_rule *r = &rules[k];

				printf("    %s[%zu] action=%d peers:", d ? "egress" : "ingress", k,
				       r->action);
				for (size_t j = 0; j < r->n_peers; j++) {
					const struct mseg_peer *q = &r->peers[j];

					if (q->kind == MSEG_PEER_IPBLOCK) {
						printf(
						    " ipblock %s",
						    mseg_cidr_format(&q->ipblock.cidr, false, buf));
						for (size_t e = 0; e < q->ipblock.n_except; e++)
							printf(
							    " except %s",
							    mseg_cidr_format(&q->ipblock.except[e],
									     false, buf));
						continue;
					}
					printf(" [");
					if (q->has_ns_sel)
						print_selector("ns", &q->ns_sel);
					if (q->has_ep_sel)
						print_selector("ep", &q->ep_sel);
					printf(" ]");
				}
				printf(" ports:");
				for (size_t j = 0; j < r->n_ports; j++) {
					const struct mseg_port *q = &r->ports[j];

					printf(" %u/", q->proto);
					if (q->named_port)
						printf("%s", q->named_port);
					else if (q->has_port)
						printf("%u-%u", q->port, q->end_port);
					else
						printf("icmp(%d,%d)", q->icmp_type, q->icmp_code);
				}
				printf("\n");
			}
		}
	}
	printf("  flow %s", f->src.ep ? f->src.ep->name : mseg_cidr_format(&f->src.ip, true, buf));
	printf(" -> %s proto %u port %u\n",
	       f->dst.ep ? f->dst.ep->name : mseg_cidr_format(&f->dst.ip, true, buf), f->proto,
	       f->port);
}

/* Shrinks a failing case on shallow copies: drops whole policies, then single rules. */
static void shrink_and_report(uint64_t seed, const struct mseg_topology *t,
			      const struct mseg_policy_set *set,
			      const struct mseg_compile_opts *opts, const struct mseg_flow *f)
{
	struct mseg_policy *pols = calloc(set->n_policies + 1, sizeof(*pols));
	struct mseg_rule *rule_store[64][2] = {{NULL}};
	struct mseg_policy_set cur = {.policies = pols, .n_policies = set->n_policies};
	char why[512] = "";
	bool progress = true;

	memcpy(pols, set->policies, set->n_policies * sizeof(*pols));
	for (size_t i = 0; i < cur.n_policies && i < 64; i++)
		for (int d = 0; d < 2; d++) {
			size_t nr = d ? pols[i].n_egress_rules : pols[i].n_ingress_rules;
			struct mseg_rule **rules =
			    d ? &pols[i].egress_rules : &pols[i].ingress_rules;

			rule_store[i][d] = calloc(nr + 1, sizeof(struct mseg_rule));
			memcpy(rule_store[i][d], *rules, nr * sizeof(struct mseg_rule));
			*rules = rule_store[i][d];
		}
	while (progress) {
		progress = false;
		for (size_t i = 0; i < cur.n_policies; i++) {
			struct mseg_policy saved = pols[i];

			memmove(&pols[i], &pols[i + 1], (cur.n_policies - i - 1) * sizeof(*pols));
			cur.n_policies--;
			if (check_flow(t, &cur, opts, f, why, sizeof(why)) == 0) {
				progress = true;
				break;
			}
			cur.n_policies++;
			memmove(&pols[i + 1], &pols[i], (cur.n_policies - i - 1) * sizeof(*pols));
			pols[i] = saved;
		}
		for (size_t i = 0; !progress && i < cur.n_policies; i++)
			for (int d = 0; !progress && d < 2; d++) {
				struct mseg_rule *rules =
				    d ? pols[i].egress_rules : pols[i].ingress_rules;
				size_t *nr = d ? &pols[i].n_egress_rules : &pols[i].n_ingress_rules;

				/* only the last rule: earlier ones keep their indices */
				if (!*nr)
					continue;
				(*nr)--;
				if (check_flow(t, &cur, opts, f, why, sizeof(why)) == 0) {
					progress = true;
					break;
				}
				(*nr)++;
				(void)rules;
			}
	}
	check_flow(t, &cur, opts, f, why, sizeof(why));
	printf("property failure, seed %llu (MSEG_PROPERTY_SEED=%llu), default_deny=%d:\n  %s\n",
	       (unsigned long long)seed, (unsigned long long)seed, opts->default_deny, why);
	print_case(t, &cur, f);
	for (size_t i = 0; i < 64; i++)
		for (int d = 0; d < 2; d++)
			free(rule_store[i][d]);
	free(pols);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static void test_compiled_table_agrees_with_evaluator(void **state)
{
	uint64_t samples = env_u64("MSEG_PROPERTY_SAMPLES", 10000);
	uint64_t seed0 = env_u64("MSEG_PROPERTY_SEED", 20261130);
	uint64_t done = 0, failures = 0;

	for (uint64_t k = 0; done < samples && failures < 3; k++) {
		uint64_t seed = seed0 + k;
		struct gen g = {.s = seed * 0x9e3779b97f4a7c15ull | 1};
		struct mseg_topology t = {0};
		struct mseg_policy_set set = {0};
		struct mseg_compile_opts opts = {.default_deny = gen_chance(&g, 25)};
		struct mseg_identities *ids = NULL;
		struct mseg_compiled *c = NULL;

		gen_topology(&g, &t);
		gen_policies(&g, &t, &set);
		assert_int_equal(mseg_identities_new(&ids), 0);
		assert_int_equal(mseg_compile(&t, &set, &opts, ids, &c), 0);
		for (int i = 0; i < FLOWS_PER_SET && done < samples; i++, done++) {
			struct mseg_flow f;
			char why[512];
			int r;

			gen_flow(&g, &t, &f);
			r = check_flow_in(c, &t, &set, &opts, &f, why, sizeof(why));
			assert_true(r >= 0);
			if (!r) {
				shrink_and_report(seed, &t, &set, &opts, &f);
				failures++;
				break;
			}
		}
		mseg_compiled_free(c);
		mseg_identities_free(ids);
		mseg_policy_set_free(&set);
		mseg_topology_free(&t);
	}
	printf(
	    "property: %llu samples; sides: %lu allow, %lu deny, %lu audit; decided by rule %lu, "
	    "isolation %lu, default %lu\n",
	    (unsigned long long)done, stat_verdict[1], stat_verdict[0], stat_audit,
	    stat_kind[MSEG_DECIDED_RULE], stat_kind[MSEG_DECIDED_ISOLATION],
	    stat_kind[MSEG_DECIDED_DEFAULT]);
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compiled_table_agrees_with_evaluator),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
