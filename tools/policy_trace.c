// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg policy trace`: decides one hypothetical flow offline with the reference evaluator and
 * says, for each side, what decided it.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/evaluate.h"
#include "tools/cli.h"
#include "tools/policy_offline.h"

static void trace_usage(FILE *f)
{
	fprintf(f,
		"Usage: mseg policy trace --endpoints FILE [-f POLICY]... --from SRC --to DST\n"
		"                         --port PORT/PROTO [--default-deny] [-o text|json]\n"
		"       mseg policy trace --from SRC --to DST --port PORT/PROTO [--socket PATH]\n"
		"\n"
		"Without --endpoints and -f, the namespaces, endpoints, policies and --default-deny\n"
		"are msegd's (live state; policy ids are the agent's).\n"
		"\n"
		"Decides one flow offline: the egress side at the source, the ingress side at the\n"
		"destination, and the overall verdict (allowed only if both sides allow), naming\n"
		"the policy and rule, the isolation or the default that decided each side.\n"
		"\n"
		"  --endpoints FILE   namespaces and endpoints (YAML or JSON)\n"
		"  -f, --filename P   policy file, directory or - (stdin); repeatable, and any\n"
		"                     further arguments are policy paths too\n"
		"  --from SRC         NAMESPACE/NAME of an endpoint, or an IPv4 address (an\n"
		"                     endpoint's address means that endpoint; others are bare\n"
		"                     addresses, whose side is not enforced)\n"
		"  --to DST           likewise\n"
		"  --port PORT/PROTO  80/tcp, 53/udp, 3868/sctp; for ICMP TYPE/icmp or\n"
		"                     TYPE:CODE/icmp (code 0 if left out), e.g. 8/icmp (echo\n"
		"                     request), 3:4/icmp; protocol names in any case\n"
		"  --default-deny     endpoints no policy decides for deny (msegd --default-deny)\n"
		"  -o, --output FMT   text (default) or json\n"
		"  --socket PATH      msegd's control socket (live state)\n"
		"  -h, --help         this help\n"
		"\n"
		"Exit status: 0 done (whatever the verdict), 1 load error, 2 usage error.\n");
}

static const char *verdict_name(uint8_t v)
{
	return v == MSEG_VERDICT_ALLOW ? "allow" : "deny";
}

static const char *dir_name(uint8_t dir)
{
	return dir == MSEG_DIR_INGRESS ? "ingress" : "egress";
}

static char *end_name(const struct mseg_flow_end *e)
{
	char buf[MSEG_CIDR_STRLEN];
	char *s = NULL;

	if (e->ep) {
		if (asprintf(&s, "%s/%s", e->ep->namespace, e->ep->name) < 0)
			return NULL;
		return s;
	}
	return strdup(mseg_cidr_format(&e->ip, true, buf));
}

/* "Policy prod/deny-dev", "ClusterPolicy no-dev" */
static char *policy_name(const struct mseg_policy_set *set, uint32_t id)
{
	const struct mseg_policy *p = mseg_offline_policy(set, id);
	char *s = NULL;
	int r;

	if (!p)
		r = asprintf(&s, "policy #%u", id);
	else if (p->namespace)
		r = asprintf(&s, "%s %s/%s", mseg_offline_kind_name(p->kind), p->namespace,
			     p->name);
	else
		r = asprintf(&s, "%s %s", mseg_offline_kind_name(p->kind), p->name);
	return r < 0 ? NULL : s;
}

/* ---- text ---------------------------------------------------------------------------- */

static void print_decider(const struct mseg_policy_set *set, const struct mseg_decider *d,
			  uint8_t verdict, const char *ep, const struct mseg_side *side)
{
	_cleanup_free_ char *pn = NULL;

	switch (d->kind) {
	case MSEG_DECIDED_RULE:
		pn = policy_name(set, d->policy);
		printf("%s by %s rule %s[%u]", verdict == MSEG_VERDICT_ALLOW ? "allowed" : "denied",
		       pn ? pn : "?", dir_name(d->dir), d->rule);
		break;
	case MSEG_DECIDED_ISOLATION:
		pn = policy_name(set, d->policy);
		printf("denied: isolated by %s", pn ? pn : "?");
		for (size_t i = 0; side && i < side->n_isolated_by; i++) {
			_cleanup_free_ char *other = NULL;

			if (side->isolated_by[i] == d->policy)
				continue;
			other = policy_name(set, side->isolated_by[i]);
			printf(", %s", other ? other : "?");
		}
		printf(" (no rule allows it)");
		break;
	case MSEG_DECIDED_DEFAULT:
		printf("%s: no policy decides for %s (default %s)",
		       verdict == MSEG_VERDICT_ALLOW ? "allowed" : "denied", ep,
		       verdict_name(verdict));
		break;
	}
}

static void print_side(const struct mseg_policy_set *set, const char *label,
		       const struct mseg_side *side, const char *ep)
{
	printf("%-8s %s: ", label, ep);
	if (!side->applies) {
		printf("allowed: not a managed endpoint, nothing enforced here\n");
		return;
	}
	print_decider(set, &side->decided_by, side->verdict, ep, side);
	printf("\n");
	if (side->audit) {
		printf("%-8s %s: audit: would be ", "", ep);
		print_decider(set, &side->audit_by, MSEG_VERDICT_DENY, ep, NULL);
		printf(" if audit-mode policies were enforced\n");
	}
}

static int print_text(const struct mseg_offline *o, const struct mseg_flow *f,
		      const struct mseg_eval_result *res)
{
	_cleanup_free_ char *src = end_name(&f->src);
	_cleanup_free_ char *dst = end_name(&f->dst);
	char port[32];

	if (!src || !dst)
		return -ENOMEM;
	printf("flow:    %s -> %s %s\n", src, dst,
	       mseg_offline_port_format(f->proto, f->port, port, sizeof(port)));
	print_side(&o->set, "egress", &res->egress, src);
	print_side(&o->set, "ingress", &res->ingress, dst);
	printf("verdict: %s%s\n", res->verdict == MSEG_VERDICT_ALLOW ? "allowed" : "denied",
	       res->audit ? " (audit: an audit-mode policy would deny it)" : "");
	return 0;
}

/* ---- json ---------------------------------------------------------------------------- */

static json_t *policy_json(const struct mseg_policy_set *set, uint32_t id)
{
	const struct mseg_policy *p = mseg_offline_policy(set, id);
	json_t *j = json_object();

	if (!j || !p)
		return j;
	json_object_set_new(j, "kind", json_string(mseg_offline_kind_name(p->kind)));
	if (p->namespace)
		json_object_set_new(j, "namespace", json_string(p->namespace));
	json_object_set_new(j, "name", json_string(p->name));
	return j;
}

static json_t *decider_json(const struct mseg_policy_set *set, const struct mseg_decider *d,
			    const struct mseg_side *side)
{
	static const char *const kinds[] = {
	    [MSEG_DECIDED_RULE] = "rule",
	    [MSEG_DECIDED_ISOLATION] = "isolation",
	    [MSEG_DECIDED_DEFAULT] = "default",
	};
	json_t *j = json_object();

	if (!j)
		return NULL;
	json_object_set_new(j, "kind", json_string(kinds[d->kind]));
	if (d->kind != MSEG_DECIDED_DEFAULT)
		json_object_set_new(j, "policy", policy_json(set, d->policy));
	json_object_set_new(j, "direction", json_string(dir_name(d->dir)));
	if (d->kind == MSEG_DECIDED_RULE)
		json_object_set_new(j, "rule", json_integer(d->rule));
	if (side && side->n_isolated_by) {
		json_t *a = json_array();

		for (size_t i = 0; i < side->n_isolated_by; i++)
			json_array_append_new(a, policy_json(set, side->isolated_by[i]));
		json_object_set_new(j, "isolated_by", a);
	}
	return j;
}

static json_t *side_json(const struct mseg_policy_set *set, const struct mseg_side *side)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	json_object_set_new(j, "verdict", json_string(verdict_name(side->verdict)));
	if (!side->applies) {
		json_object_set_new(j, "decided_by", json_pack("{s:s}", "kind", "unmanaged"));
		return j;
	}
	json_object_set_new(j, "decided_by", decider_json(set, &side->decided_by, side));
	json_object_set_new(j, "audit", json_boolean(side->audit));
	if (side->audit)
		json_object_set_new(j, "audit_by", decider_json(set, &side->audit_by, NULL));
	return j;
}

static int print_json(const struct mseg_offline *o, const struct mseg_eval_result *res)
{
	json_t *j = json_object();
	int r;

	if (!j)
		return -ENOMEM;
	json_object_set_new(j, "verdict", json_string(verdict_name(res->verdict)));
	json_object_set_new(j, "audit", json_boolean(res->audit));
	json_object_set_new(j, "egress", side_json(&o->set, &res->egress));
	json_object_set_new(j, "ingress", side_json(&o->set, &res->ingress));
	r = json_dumpf(j, stdout, JSON_INDENT(2));
	json_decref(j);
	if (r < 0)
		return -EIO;
	fputc('\n', stdout);
	return 0;
}

/* ---- the command --------------------------------------------------------------------- */

int mseg_cmd_policy_trace(int argc, char **argv)
{
	enum { OPT_ENDPOINTS = 256, OPT_FROM, OPT_TO, OPT_PORT, OPT_DEFAULT_DENY, OPT_SOCKET };
	static const struct option options[] = {
	    {"endpoints", required_argument, NULL, OPT_ENDPOINTS},
	    {"filename", required_argument, NULL, 'f'},
	    {"from", required_argument, NULL, OPT_FROM},
	    {"to", required_argument, NULL, OPT_TO},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"default-deny", no_argument, NULL, OPT_DEFAULT_DENY},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char **paths = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_paths = 0;
	const char *endpoints = NULL, *from = NULL, *to = NULL, *port = NULL, *why = NULL;
	const char *sock = NULL;
	struct mseg_compile_opts opts = {0};
	struct mseg_offline o;
	struct mseg_flow flow = {0};
	struct mseg_eval_result res;
	bool json = false;
	int c, r;

	if (!paths)
		return log_errno(-ENOMEM, "trace"), 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINTS:
			endpoints = optarg;
			break;
		case 'f':
			paths[n_paths++] = optarg;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_PORT:
			port = optarg;
			break;
		case OPT_DEFAULT_DENY:
			opts.default_deny = true;
			break;
		case OPT_SOCKET:
			sock = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (strcmp(optarg, "text") != 0) {
				log_err("--output '%s': expected text or json", optarg);
				return 2;
			}
			break;
		case 'h':
			trace_usage(stdout);
			return 0;
		default:
			trace_usage(stderr);
			return 2;
		}
	}
	while (optind < argc)
		paths[n_paths++] = argv[optind++];
	if ((!endpoints && n_paths) || !from || !to || !port) {
		log_err("trace needs --from, --to and --port, and --endpoints with -f (or neither: "
			"msegd's live state)");
		trace_usage(stderr);
		return 2;
	}
	if (mseg_offline_parse_port(port, &flow.proto, &flow.port, &why) < 0) {
		log_err("--port '%s': %s", port, why);
		return 2;
	}

	if (endpoints ? mseg_offline_load(&o, endpoints, paths, n_paths) < 0
		      : mseg_offline_load_live(&o, sock, &opts.default_deny) < 0)
		return 1;
	r = mseg_offline_flow_end(&o.topo, from, &flow.src, &why);
	if (r == 0)
		r = mseg_offline_flow_end(&o.topo, to, &flow.dst, &why);
	if (r < 0) {
		log_err("%s '%s': %s", flow.src.ep || flow.src.ip.family ? "--to" : "--from",
			flow.src.ep || flow.src.ip.family ? to : from, why);
		mseg_offline_free(&o);
		return 2;
	}

	r = mseg_evaluate(&o.topo, &o.set, &opts, &flow, &res);
	if (r < 0) {
		log_errno(r, "cannot evaluate the flow");
		mseg_offline_free(&o);
		return 1;
	}
	r = json ? print_json(&o, &res) : print_text(&o, &flow, &res);
	mseg_eval_result_free(&res);
	mseg_offline_free(&o);
	if (r < 0)
		return log_errno(r, "cannot print the trace"), 1;
	return 0;
}
