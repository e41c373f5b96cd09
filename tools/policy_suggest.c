// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg policy suggest`: mseg.io/v1 Policy documents that allow exactly the flows msegd
 * observed (forwarded and audit events), one per service (namespace + `app` label, else the
 * endpoint), with Ingress and Egress both listed so that everything not observed is denied.
 * Every service of the chosen namespaces gets a policy, also one that saw no traffic (it is
 * then fully isolated), so applying the output yields a reachability matrix equal to what
 * was observed.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

struct svc {
	char *key; /* "ns/app-or-name" */
	char *ns;
	json_t *selector; /* matchLabels */
};

struct flow {
	char *src, *dst; /* service keys, or "cidr:A.B.C.D" for addresses outside */
	char *proto;
	int port; /* -1: none (ICMP) */
	int icmp_type, icmp_code;
};

struct suggest {
	struct svc *svcs;
	size_t n_svcs;
	struct flow *flows;
	size_t n_flows;
};

static struct svc *svc_find(struct suggest *s, const char *key)
{
	for (size_t i = 0; i < s->n_svcs; i++)
		if (!strcmp(s->svcs[i].key, key))
			return &s->svcs[i];
	return NULL;
}

/* The service of an endpoint (from endpoint.list or an event end); NULL key: not one. */
static int svc_add(struct suggest *s, const json_t *ep, char **key_ret)
{
	const char *ns = json_string_value(json_object_get(ep, "namespace"));
	const char *name = json_string_value(json_object_get(ep, "name"));
	json_t *labels = json_object_get(ep, "labels");
	const char *app = json_string_value(json_object_get(labels, "app"));
	struct svc *v;
	char *key = NULL;

	*key_ret = NULL;
	if (!ns || !name)
		return 0;
	if (asprintf(&key, "%s/%s", ns, app ? app : name) < 0)
		return -ENOMEM;
	*key_ret = key;
	if (svc_find(s, key))
		return 0;
	v = realloc(s->svcs, (s->n_svcs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->svcs = v;
	v = &s->svcs[s->n_svcs];
	v->key = strdup(key);
	v->ns = strdup(ns);
	/* app=X selects the whole service; without it, the endpoint's own labels */
	v->selector =
	    app ? json_pack("{s:s}", "app", app) : json_deep_copy(labels ? labels : json_object());
	if (!v->key || !v->ns || !v->selector)
		return -ENOMEM;
	s->n_svcs++;
	return 0;
}

static int end_key(struct suggest *s, const json_t *end, char **ret)
{
	const char *ip = json_string_value(json_object_get(end, "ip"));
	int r = svc_add(s, end, ret);

	if (r < 0 || *ret)
		return r;
	if (!ip)
		return -EINVAL;
	return asprintf(ret, "cidr:%s", ip) < 0 ? -ENOMEM : 0;
}

static bool flow_equal(const struct flow *a, const struct flow *b)
{
	return !strcmp(a->src, b->src) && !strcmp(a->dst, b->dst) && !strcmp(a->proto, b->proto) &&
	       a->port == b->port && a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code;
}

static int flow_add(struct suggest *s, const json_t *rec)
{
	const char *proto = json_string_value(json_object_get(rec, "protocol"));
	json_t *dport = json_object_get(json_object_get(rec, "destination"), "port");
	json_t *icmp = json_object_get(rec, "icmp");
	struct flow f = {.port = -1, .icmp_type = -1, .icmp_code = -1}, *v;
	int r;

	if (!proto)
		return 0; /* not IPv4 */
	r = end_key(s, json_object_get(rec, "source"), &f.src);
	if (r == 0)
		r = end_key(s, json_object_get(rec, "destination"), &f.dst);
	f.proto = strdup(proto);
	if (r < 0 || !f.proto) {
		free(f.src);
		free(f.dst);
		free(f.proto);
		return r < 0 ? r : -ENOMEM;
	}
	if (json_is_integer(dport))
		f.port = (int)json_integer_value(dport);
	if (icmp) {
		f.icmp_type = (int)json_integer_value(json_object_get(icmp, "type"));
		f.icmp_code = (int)json_integer_value(json_object_get(icmp, "code"));
	}
	for (size_t i = 0; i < s->n_flows; i++)
		if (flow_equal(&s->flows[i], &f)) {
			free(f.src);
			free(f.dst);
			free(f.proto);
			return 0;
		}
	v = realloc(s->flows, (s->n_flows + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->flows = v;
	s->flows[s->n_flows++] = f;
	return 0;
}

static void suggest_free(struct suggest *s)
{
	for (size_t i = 0; i < s->n_svcs; i++) {
		free(s->svcs[i].key);
		free(s->svcs[i].ns);
		json_decref(s->svcs[i].selector);
	}
	for (size_t i = 0; i < s->n_flows; i++) {
		free(s->flows[i].src);
		free(s->flows[i].dst);
		free(s->flows[i].proto);
	}
	free(s->svcs);
	free(s->flows);
}

/* A YAML double-quoted scalar (label keys and values are plain ASCII by the k8s rules). */
static void q(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void match_labels(FILE *f, const json_t *sel)
{
	const char *k;
	json_t *v;
	bool first = true;

	fputs("{matchLabels: {", f);
	json_object_foreach((json_t *)sel, k, v)
	{
		if (!first)
			fputs(", ", f);
		first = false;
		q(f, k);
		fputs(": ", f);
		q(f, json_string_value(v) ?: "");
	}
	fputs("}}", f);
}

static void peer(FILE *f, struct suggest *s, const char *key, const char *policy_ns)
{
	const struct svc *p;

	if (!strncmp(key, "cidr:", 5)) {
		fprintf(f, "{ipBlock: {cidr: %s/32}}", key + 5);
		return;
	}
	p = svc_find(s, key);
	fputs("{", f);
	if (strcmp(p->ns, policy_ns)) {
		fputs("namespaceSelector: {matchLabels: {\"kubernetes.io/metadata.name\": ", f);
		q(f, p->ns);
		fputs("}}, ", f);
	}
	fputs("podSelector: ", f);
	match_labels(f, p->selector);
	fputs("}", f);
}

static void port(FILE *f, const struct flow *fl)
{
	if (!strcmp(fl->proto, "ICMP")) {
		fputs("{protocol: ICMP", f);
		if (fl->icmp_type >= 0)
			fprintf(f, ", icmp: {type: %d, code: %d}", fl->icmp_type, fl->icmp_code);
		fputs("}", f);
	} else if (fl->port >= 0) {
		fprintf(f, "{protocol: %s, port: %d}", fl->proto, fl->port);
	} else {
		fprintf(f, "{protocol: %s}", fl->proto);
	}
}

/* One rule per peer, listing the ports observed with it. */
static void rules(FILE *f, struct suggest *s, const struct svc *v, bool ingress)
{
	bool *done = calloc(s->n_flows + 1, sizeof(*done));
	size_t n = 0;

	fprintf(f, "  %s:", ingress ? "ingress" : "egress");
	for (size_t i = 0; done && i < s->n_flows; i++) {
		const struct flow *a = &s->flows[i];
		const char *me = ingress ? a->dst : a->src, *other = ingress ? a->src : a->dst;

		if (done[i] || strcmp(me, v->key))
			continue;
		fprintf(f, "\n    - %s: [", ingress ? "from" : "to");
		peer(f, s, other, v->ns);
		fputs("]\n      ports: [", f);
		for (size_t j = i, k = 0; j < s->n_flows; j++) {
			const struct flow *b = &s->flows[j];

			if (done[j] || strcmp(ingress ? b->dst : b->src, v->key) ||
			    strcmp(ingress ? b->src : b->dst, other))
				continue;
			done[j] = true;
			if (k++)
				fputs(", ", f);
			port(f, b);
		}
		fputs("]", f);
		n++;
	}
	fputs(n ? "\n" : " []\n", f);
	free(done);
}

static void dns_name(const char *key, char out[64])
{
	size_t n = 0;
	const char *id = strchr(key, '/') ? strchr(key, '/') + 1 : key;
	const char *prefix = "allow-observed-";

	n = (size_t)snprintf(out, 64, "%s", prefix);
	for (; *id && n < 62; id++) {
		char c = (char)tolower((unsigned char)*id);

		out[n++] = isalnum((unsigned char)c) ? c : '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

static bool in_scope(char **nss, size_t n, const char *ns)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(nss[i], ns))
			return true;
	return false;
}

static int svc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct svc *)a)->key, ((const struct svc *)b)->key);
}

int mseg_cmd_policy_suggest(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"namespace", required_argument, NULL, 'n'},
	    {"since", required_argument, NULL, 's'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	char *nss[32];
	size_t n_nss = 0, i;
	/* every verdict: drops tell which forwarded halves never arrived */
	json_t *args = json_object(), *dropped;
	json_t *events = NULL, *eps = NULL, *x;
	struct suggest s = {0};
	double since = 0;
	int c, r = 0, n_pol = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (n_nss == ARRAY_SIZE(nss)) {
				fprintf(stderr, "mseg: at most %zu --namespace options\n",
					ARRAY_SIZE(nss));
				goto usage;
			}
			nss[n_nss++] = optarg;
			break;
		case 's':
			if (mseg_observe_duration_parse(optarg, &since) < 0) {
				fprintf(stderr,
					"mseg: invalid --since '%s': e.g. 30s, 5m, 2h, 1d\n",
					optarg);
				goto usage;
			}
			json_object_set_new(args, "since", json_real(since));
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: mseg policy suggest [--namespace NS]... [--since DURATION] "
			       "[--socket PATH]\n"
			       "Writes mseg.io/v1 Policy YAML allowing exactly the flows msegd "
			       "observed\n"
			       "(forwarded and audit events; run msegd with --flows new), one "
			       "policy per\n"
			       "service (app label, else endpoint) of the namespaces, isolating "
			       "the rest.\n"
			       "Check with 'mseg policy check', apply with 'mseg apply -f'.\n");
			json_decref(args);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: policy suggest takes no arguments ('%s')\n", argv[optind]);
		goto usage;
	}
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.list", NULL, &eps) < 0) {
		json_decref(args);
		return 1;
	}
	if (mseg_observe_fetch(sock, args, &events, NULL) < 0) {
		json_decref(eps);
		return 1;
	}
	json_array_foreach(eps, i, x)
	{
		char *key;

		if ((r = svc_add(&s, x, &key)) < 0)
			break;
		free(key);
	}
	/* a flow one side let out and the other side dropped was not allowed */
	dropped = mseg_observe_dropped_tuples(events);
	json_array_foreach(events, i, x)
	{
		_cleanup_free_ char *key = mseg_observe_tuple(x);
		const char *v = json_string_value(json_object_get(x, "verdict"));

		if (r < 0 || !dropped || (v && !strcmp(v, "dropped")) ||
		    (key && json_object_get(dropped, key)))
			continue;
		r = flow_add(&s, x);
	}
	if (!dropped)
		r = -ENOMEM;
	json_decref(dropped);
	json_decref(eps);
	json_decref(events);
	if (r < 0) {
		fprintf(stderr, "mseg: cannot build the suggestion: %s\n", strerror(-r));
		suggest_free(&s);
		return 1;
	}
	qsort(s.svcs, s.n_svcs, sizeof(*s.svcs), svc_cmp);
	printf("# SPDX-License-Identifier: Apache-2.0\n"
	       "# Written by mseg policy suggest from %zu distinct observed flow(s)",
	       s.n_flows);
	if (since > 0)
		printf(" of the last %g s", since);
	printf(".\n# Each service may reach, and be reached by, exactly what was observed.\n");
	for (i = 0; i < s.n_svcs; i++) {
		const struct svc *v = &s.svcs[i];
		char name[64];

		if (!in_scope(nss, n_nss, v->ns))
			continue;
		if (!json_object_size(v->selector)) {
			fprintf(stderr, "mseg: skipping '%s': no labels to select it by\n", v->key);
			continue;
		}
		dns_name(v->key, name);
		printf(
		    "---\napiVersion: mseg.io/v1\nkind: Policy\nmetadata: {name: %s, namespace: ",
		    name);
		q(stdout, v->ns);
		printf("}\nspec:\n  podSelector: ");
		match_labels(stdout, v->selector);
		printf("\n  policyTypes: [Ingress, Egress]\n");
		rules(stdout, &s, v, true);
		rules(stdout, &s, v, false);
		n_pol++;
	}
	if (!n_pol)
		fprintf(stderr, "mseg: no services in %s\n",
			n_nss ? "those namespaces" : "the node");
	suggest_free(&s);
	return 0;
usage:
	json_decref(args);
	return 2;
}
