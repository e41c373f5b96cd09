// SPDX-License-Identifier: Apache-2.0
/*
 * Benchmark of the policy compiler (issue 3): a cluster of 1,000 endpoints in 20 namespaces
 * (10 apps x 5 replicas each, named ports) and 10,000 rules (1,000 NetworkPolicies and
 * Policies of 10 rules, plus ClusterPolicies), compiled from scratch, then one endpoint added
 * incrementally (a replica of an existing app, and one with new labels), once with the compiler
 * finding the change itself and once with a hint naming it. Prints the median,
 * min and max of the runs, the table size and the peak memory. QUICK=1 runs fewer rounds;
 * --endpoints N --rules M scales the input (to check that memory grows with the output).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile.h"
#include "policy/labels.h"

#define N_NS 20
#define APPS 10

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		fprintf(stderr, "policy-compile: out of memory\n");
		exit(1);
	}
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "policy-compile: out of memory\n");
		exit(1);
	}
	return p;
}

/*
 * CPU time of this thread: the machines running the benchmark are shared, and wall-clock
 * figures then mostly measure the neighbours. The compiler is single-threaded and does no
 * I/O, so on an idle machine the two agree.
 */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((format(printf, 3, 4))) static void set_label(struct mseg_labels *l, const char *k,
							    const char *fmt, ...)
{
	char buf[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (mseg_labels_set(l, k, buf) < 0) {
		fprintf(stderr, "policy-compile: out of memory\n");
		exit(1);
	}
}

static void make_endpoint(struct mseg_endpoint *e, unsigned i, unsigned n_ep)
{
	unsigned per_ns = (n_ep + N_NS - 1) / N_NS;
	unsigned ns = i / per_ns, app = (i % per_ns) % APPS;
	char name[32];

	e->id = i + 1;
	snprintf(name, sizeof(name), "ns%u", ns);
	e->namespace = xstrdup(name);
	snprintf(name, sizeof(name), "pod%u", i);
	e->name = xstrdup(name);
	set_label(&e->labels, "app", "app%u", app);
	set_label(&e->labels, "tier", "t%u", app % 3);
	e->n_ports = 1;
	e->ports = xcalloc(1, sizeof(*e->ports));
	e->ports[0].name = xstrdup("http");
	e->ports[0].port = (uint16_t)(8000 + app);
	e->ports[0].proto = MSEG_PROTO_TCP;
	e->ip = mseg_cidr_from_v4(10u << 24 | 200u << 16 | (i + 1), 32);
}

static void make_topology(struct mseg_topology *t, unsigned n_ep)
{
	t->n_namespaces = N_NS;
	t->namespaces = xcalloc(N_NS, sizeof(*t->namespaces));
	for (unsigned i = 0; i < N_NS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "ns%u", i);
		t->namespaces[i].name = xstrdup(name);
		set_label(&t->namespaces[i].labels, "kubernetes.io/metadata.name", "ns%u", i);
		set_label(&t->namespaces[i].labels, "env", "%s", i % 2 ? "prod" : "dev");
		set_label(&t->namespaces[i].labels, "team", "team%u", i % 4);
	}
	t->n_endpoints = n_ep;
	t->endpoints = xcalloc(n_ep + 1, sizeof(*t->endpoints));
	for (unsigned i = 0; i < n_ep; i++)
		make_endpoint(&t->endpoints[i], i, n_ep);
}

static void port(struct mseg_port *q, unsigned k, unsigned seed)
{
	q->icmp_type = q->icmp_code = -1;
	q->proto = MSEG_PROTO_TCP;
	switch (k % 4) {
	case 0:
		q->has_port = true;
		q->port = q->end_port = (uint16_t)(80 + seed % 20);
		break;
	case 1:
		q->has_port = true;
		q->port = (uint16_t)(1000 + seed % 500);
		q->end_port = (uint16_t)(q->port + 100);
		break;
	case 2:
		q->named_port = xstrdup("http");
		break;
	default:
		q->proto = MSEG_PROTO_UDP;
		q->has_port = true;
		q->port = q->end_port = 53;
	}
}

/* One rule: a peer by app in the namespace, by team namespaces, or an ipBlock; one port. */
static void rule(struct mseg_rule *r, unsigned k, unsigned seed, bool may_deny)
{
	struct mseg_peer *q;

	r->action = may_deny && k % 7 == 3 ? MSEG_ACTION_DENY : MSEG_ACTION_ALLOW;
	r->n_peers = 1;
	r->peers = xcalloc(1, sizeof(*r->peers));
	q = &r->peers[0];
	switch (k % 5) {
	case 0:
	case 1:
		q->has_ep_sel = true;
		set_label(&q->ep_sel.match_labels, "app", "app%u", (seed + k) % APPS);
		break;
	case 2:
		q->has_ns_sel = q->has_ep_sel = true;
		set_label(&q->ns_sel.match_labels, "team", "team%u", seed % 4);
		set_label(&q->ep_sel.match_labels, "tier", "t%u", k % 3);
		break;
	case 3:
		q->kind = MSEG_PEER_IPBLOCK;
		q->ipblock.cidr = mseg_cidr_from_v4(10u << 24 | (seed % 64) << 16, 16);
		q->ipblock.n_except = 1;
		q->ipblock.except = xcalloc(1, sizeof(*q->ipblock.except));
		q->ipblock.except[0] =
		    mseg_cidr_from_v4(10u << 24 | (seed % 64) << 16 | 1u << 8, 24);
		break;
	default:
		q->has_ns_sel = true;
		set_label(&q->ns_sel.match_labels, "kubernetes.io/metadata.name", "ns%u",
			  seed % N_NS);
	}
	r->n_ports = 1;
	r->ports = xcalloc(1, sizeof(*r->ports));
	port(&r->ports[0], k + seed, seed * 7 + k);
}

static void make_policies(struct mseg_policy_set *set, unsigned n_rules)
{
	unsigned n_ns_pol = n_rules / 10, n = n_ns_pol + 4, id = 1;

	set->policies = xcalloc(n, sizeof(*set->policies));
	set->n_policies = n;
	for (unsigned i = 0; i < n_ns_pol; i++) {
		struct mseg_policy *p = &set->policies[i];
		char name[32];

		p->id = id++;
		p->kind = i % 4 == 3 ? MSEG_KIND_POLICY : MSEG_KIND_NETWORK_POLICY;
		p->tier = MSEG_TIER_NAMESPACE;
		snprintf(name, sizeof(name), "ns%u", i % N_NS);
		p->namespace = xstrdup(name);
		snprintf(name, sizeof(name), "pol%u", i);
		p->name = xstrdup(name);
		p->has_subject_ep = true;
		set_label(&p->subject_ep.match_labels, "app", "app%u", (i / N_NS) % APPS);
		p->ingress = p->egress = true;
		p->n_ingress_rules = 7;
		p->n_egress_rules = 3;
		p->ingress_rules = xcalloc(7, sizeof(struct mseg_rule));
		p->egress_rules = xcalloc(3, sizeof(struct mseg_rule));
		for (unsigned k = 0; k < 7; k++)
			rule(&p->ingress_rules[k], k, i, p->kind == MSEG_KIND_POLICY);
		for (unsigned k = 0; k < 3; k++)
			rule(&p->egress_rules[k], k + 7, i, p->kind == MSEG_KIND_POLICY);
	}
	/* ClusterPolicies: dev never reaches prod (admin), a pass, and two baselines */
	for (unsigned i = 0; i < 4; i++) {
		struct mseg_policy *p = &set->policies[n_ns_pol + i];
		struct mseg_rule *r;

		p->id = id++;
		p->kind = MSEG_KIND_CLUSTER_POLICY;
		p->tier = i < 2 ? MSEG_TIER_ADMIN : MSEG_TIER_BASELINE;
		p->priority = (int)i * 10;
		p->name = xstrdup("cluster");
		p->has_subject_ns = true;
		set_label(&p->subject_ns.match_labels, "env", "%s", i % 2 ? "dev" : "prod");
		p->ingress = true;
		p->n_ingress_rules = 1;
		p->ingress_rules = r = xcalloc(1, sizeof(*r));
		r->action = i == 0   ? MSEG_ACTION_DENY
			    : i == 1 ? MSEG_ACTION_PASS
				     : MSEG_ACTION_ALLOW;
		r->n_peers = 1;
		r->peers = xcalloc(1, sizeof(*r->peers));
		r->peers[0].has_ns_sel = true;
		set_label(&r->peers[0].ns_sel.match_labels, "env", "%s", i % 2 ? "prod" : "dev");
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	printf("%-38s median %8.3f ms  min %8.3f  max %8.3f  (CPU time, %d runs)\n", what, v[n / 2],
	       v[0], v[n - 1], n);
}

int main(int argc, char **argv)
{
	unsigned n_ep = 1000, n_rules = 10000;
	int runs = getenv("QUICK") && *getenv("QUICK") == '1' ? 5 : 11;
	struct mseg_topology t = {0};
	struct mseg_policy_set set = {0};
	struct mseg_compiled *table = NULL;
	struct mseg_identities *ids = NULL;
	struct mseg_compiler *c = NULL;
	double full[32], inc_same[32], inc_new[32];
	size_t n_entries = 0, n_ipcache = 0;
	struct rusage ru;
	int r;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--endpoints"))
			n_ep = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--rules"))
			n_rules = (unsigned)strtoul(argv[i + 1], NULL, 10);
	}
	if (n_ep < N_NS || n_ep > 60000 || n_rules < 10) {
		fprintf(stderr, "policy-compile: --endpoints %u / --rules %u out of range\n", n_ep,
			n_rules);
		return 1;
	}
	make_topology(&t, n_ep);
	make_policies(&set, n_rules);
	printf("policy compiler: %u endpoints, %u namespaces, %u rules in %zu policies\n", n_ep,
	       N_NS, n_rules + 4, set.n_policies);

	for (int i = 0; i < runs; i++) {
		double t0;

		mseg_identities_free(ids);
		ids = NULL;
		if (mseg_identities_new(&ids) < 0)
			return 1;
		mseg_compiled_free(table);
		table = NULL;
		t0 = now_ms();
		r = mseg_compile(&t, &set, NULL, ids, &table);
		full[i] = now_ms() - t0;
		if (r < 0) {
			fprintf(stderr, "policy-compile: compile failed: %s\n", strerror(-r));
			return 1;
		}
	}
	n_entries = table->n_entries;
	n_ipcache = table->n_ipcache;
	report("full compile", full, runs);

	/*
	 * incremental: one endpoint added (and removed again between runs), through
	 * mseg_compiler_update() (the compiler digests every input to find the change) and through
	 * mseg_compiler_update_hinted() naming the endpoint, as the agent's reconciler does
	 */
	if (mseg_compiler_new(&c, ids, NULL) < 0 || mseg_compiler_update(c, &t, &set, NULL) < 0)
		return 1;
	for (int hinted = 0; hinted < 2; hinted++) {
		for (int kind = 0; kind < 2; kind++)
			for (int i = 0; i < runs; i++) {
				struct mseg_endpoint *e = &t.endpoints[n_ep];
				struct mseg_table_diff d = {0};
				uint32_t new_id = n_ep + 1;
				const struct mseg_compile_hint hint = {.endpoints = &new_id,
								       .n_endpoints = 1};
				const struct mseg_compile_hint *h = hinted ? &hint : NULL;
				double t0;

				*e = (struct mseg_endpoint){0};
				make_endpoint(e, n_ep - 1, n_ep);
				e->id = new_id;
				e->ip = mseg_cidr_from_v4(10u << 24 | 201u << 16 | 7, 32);
				if (kind) /* labels no endpoint had: a new identity */
					set_label(&e->labels, "canary", "c%u", (unsigned)i);
				t.n_endpoints = n_ep + 1;
				t0 = now_ms();
				r = mseg_compiler_update_hinted(c, &t, &set, h, &d);
				(kind ? inc_new : inc_same)[i] = now_ms() - t0;
				if (r < 0) {
					fprintf(stderr, "policy-compile: update failed: %s\n",
						strerror(-r));
					return 1;
				}
				if (i == 0)
					printf("  diff: +%zu -%zu entries, +%zu ipcache\n",
					       d.n_added, d.n_removed, d.n_ipcache_added);
				mseg_table_diff_free(&d);
				t.n_endpoints = n_ep;
				if (mseg_compiler_update_hinted(c, &t, &set, h, NULL) < 0)
					return 1;
				t.n_endpoints = n_ep + 1;
				mseg_topology_free(&(struct mseg_topology){
				    .endpoints = memcpy(xcalloc(1, sizeof(*e)), e, sizeof(*e)),
				    .n_endpoints = 1});
				t.n_endpoints = n_ep;
			}
		report(hinted ? "add 1 endpoint, hinted (same labels)"
			      : "add 1 endpoint (existing labels)",
		       inc_same, runs);
		report(hinted ? "add 1 endpoint, hinted (new identity)"
			      : "add 1 endpoint (new identity)",
		       inc_new, runs);
	}

	getrusage(RUSAGE_SELF, &ru);
	printf("table: %zu entries (%zu bytes), %zu ipcache entries; peak RSS %ld KiB\n", n_entries,
	       n_entries * sizeof(struct mseg_table_entry), n_ipcache, ru.ru_maxrss);
	mseg_compiler_free(c);
	mseg_compiled_free(table);
	mseg_identities_free(ids);
	mseg_policy_set_free(&set);
	mseg_topology_free(&t);
	return 0;
}
