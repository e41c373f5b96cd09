// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg policy matrix`: the reachability matrix over every endpoint of an endpoints file for
 * one port and protocol, decided offline by the reference evaluator. Every ordered pair is
 * evaluated, a pod to itself included, with no special case (as the upstream e2e matrices do).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/evaluate.h"
#include "tools/cli.h"
#include "tools/matrix_format.h"
#include "tools/policy_offline.h"

static void matrix_usage(FILE *f)
{
	fprintf(f,
		"Usage: mseg policy matrix --endpoints FILE [-f POLICY]... --port PORT/PROTO\n"
		"                          [--default-deny] [-o text|json]\n"
		"       mseg policy matrix --port PORT/PROTO [--socket PATH] [-o text|json]\n"
		"\n"
		"Without --endpoints and -f, the endpoints, policies and --default-deny are\n"
		"msegd's (live state).\n"
		"\n"
		"Prints which endpoint may reach which on one port: rows are sources, columns\n"
		"destinations, '.' allowed and 'X' denied (both the source's egress and the\n"
		"destination's ingress must allow).\n"
		"\n"
		"  --endpoints FILE   namespaces and endpoints (YAML or JSON)\n"
		"  -f, --filename P   policy file, directory or - (stdin); repeatable, and any\n"
		"                     further arguments are policy paths too\n"
		"  --port PORT/PROTO  80/tcp, 53/udp, 3868/sctp; for ICMP TYPE/icmp or\n"
		"                     TYPE:CODE/icmp (code 0 if left out), e.g. 8/icmp\n"
		"  --default-deny     endpoints no policy decides for deny (msegd --default-deny)\n"
		"  -o, --output FMT   text (default) or json:\n"
		"                     {\"port\": 80, \"protocol\": \"TCP\", \"endpoints\": "
		"[\"x/a\", ...],\n"
		"                      \"allowed\": {\"x/a\": {\"x/b\": true, ...}, ...}}\n"
		"                     (source first, destination second; for ICMP \"port\" is\n"
		"                     the type and \"code\" is added)\n"
		"  --socket PATH      msegd's control socket (live state)\n"
		"  -h, --help         this help\n"
		"\n"
		"Exit status: 0 done, 1 load error, 2 usage error.\n");
}

static int matrix_fill(const struct mseg_offline *o, const struct mseg_compile_opts *opts,
		       uint8_t proto, uint16_t port, struct mseg_matrix *m)
{
	size_t n = o->topo.n_endpoints;
	int r;

	r = mseg_matrix_init(m, n, n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct mseg_endpoint *e = &o->topo.endpoints[i];

		if (asprintf(&m->rows[i], "%s/%s", e->namespace, e->name) < 0) {
			m->rows[i] = NULL;
			return -ENOMEM;
		}
		m->cols[i] = strdup(m->rows[i]);
		if (!m->cols[i])
			return -ENOMEM;
	}
	for (size_t s = 0; s < n; s++)
		for (size_t d = 0; d < n; d++) {
			struct mseg_flow f = {
			    .src = {.ep = &o->topo.endpoints[s], .ip = o->topo.endpoints[s].ip},
			    .dst = {.ep = &o->topo.endpoints[d], .ip = o->topo.endpoints[d].ip},
			    .proto = proto,
			    .port = port,
			};
			struct mseg_eval_result res;

			r = mseg_evaluate(&o->topo, &o->set, opts, &f, &res);
			if (r < 0)
				return r;
			m->allowed[s * n + d] = res.verdict == MSEG_VERDICT_ALLOW;
			mseg_eval_result_free(&res);
		}
	return 0;
}

int mseg_cmd_policy_matrix(int argc, char **argv)
{
	enum { OPT_ENDPOINTS = 256, OPT_PORT, OPT_DEFAULT_DENY, OPT_SOCKET };
	static const struct option options[] = {
	    {"endpoints", required_argument, NULL, OPT_ENDPOINTS},
	    {"filename", required_argument, NULL, 'f'},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"default-deny", no_argument, NULL, OPT_DEFAULT_DENY},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	_cleanup_free_ char **paths = calloc((size_t)argc + 1, sizeof(char *));
	size_t n_paths = 0;
	const char *endpoints = NULL, *port = NULL, *why = NULL, *sock = NULL;
	struct mseg_compile_opts opts = {0};
	struct mseg_offline o;
	struct mseg_matrix m = {0};
	uint8_t proto;
	uint16_t pnum;
	bool json = false;
	int c, r;

	if (!paths)
		return log_errno(-ENOMEM, "matrix"), 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_ENDPOINTS:
			endpoints = optarg;
			break;
		case 'f':
			paths[n_paths++] = optarg;
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
			matrix_usage(stdout);
			return 0;
		default:
			matrix_usage(stderr);
			return 2;
		}
	}
	while (optind < argc)
		paths[n_paths++] = argv[optind++];
	if ((!endpoints && n_paths) || !port) {
		log_err("matrix needs --port, and --endpoints with -f (or neither: msegd's live "
			"state)");
		matrix_usage(stderr);
		return 2;
	}
	if (mseg_offline_parse_port(port, &proto, &pnum, &why) < 0) {
		log_err("--port '%s': %s", port, why);
		return 2;
	}
	if (endpoints ? mseg_offline_load(&o, endpoints, paths, n_paths) < 0
		      : mseg_offline_load_live(&o, sock, &opts.default_deny) < 0)
		return 1;

	r = matrix_fill(&o, &opts, proto, pnum, &m);
	if (r < 0) {
		log_errno(r, "cannot evaluate the matrix");
	} else if (json) {
		r = mseg_matrix_print_json(&m, proto, pnum, stdout);
		if (r < 0)
			log_errno(r, "cannot print the matrix");
	} else {
		mseg_matrix_print_text(&m, proto, pnum, stdout);
	}
	mseg_matrix_free(&m);
	mseg_offline_free(&o);
	return r < 0 ? 1 : 0;
}
