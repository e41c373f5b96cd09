// SPDX-License-Identifier: Apache-2.0
/* `mseg get policies|endpoints|identities [-o json]`: what msegd enforces, as tables or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

static void get_usage(FILE *f)
{
	fprintf(f, "Usage: mseg get policies|endpoints|identities [-o table|json] [--socket PATH]\n"
		   "Lists what msegd enforces: the policies in force with their ids (the ids\n"
		   "datapath entries, events and `nft list table inet mseg` name), the endpoints\n"
		   "with their identity, and the identities with their labels and endpoints.\n"
		   "-o json prints the agent's JSON list.\n");
}

static char *num(json_int_t v)
{
	char *s = NULL;

	return asprintf(&s, "%lld", (long long)v) < 0 ? NULL : s;
}

static void print_policies(json_t *list)
{
	struct mseg_table t;
	size_t i;
	json_t *p;

	mseg_table_init(&t, 7, "ID", "KIND", "NAMESPACE", "NAME", "TYPES", "MODE", "SOURCE");
	json_array_foreach(list, i, p)
	{
		_cleanup_free_ char *id = num(json_integer_value(json_object_get(p, "id")));
		_cleanup_free_ char *src = NULL;
		bool in = json_is_true(json_object_get(p, "ingress"));
		bool eg = json_is_true(json_object_get(p, "egress"));
		const char *kind = json_string_value(json_object_get(p, "kind"));
		const char *types = in && eg ? "Ingress,Egress"
				    : in     ? "Ingress"
				    : eg     ? "Egress"
					     : "-";

		if (kind && !strcmp(kind, "ClusterPolicy"))
			types = json_string_value(json_object_get(p, "tier"));
		if (asprintf(&src, "%s:%lld", json_string_value(json_object_get(p, "file")),
			     (long long)json_integer_value(json_object_get(p, "line"))) < 0)
			src = NULL;
		mseg_table_add(&t, id, kind, json_string_value(json_object_get(p, "namespace")),
			       json_string_value(json_object_get(p, "name")), types,
			       json_string_value(json_object_get(p, "mode")), src);
	}
	mseg_table_print(&t, stdout);
}

static void print_endpoints(json_t *list)
{
	struct mseg_table t;
	size_t i;
	json_t *p;

	mseg_table_init(&t, 7, "NAMESPACE", "NAME", "ID", "IDENTITY", "IP", "INTERFACE", "LABELS");
	json_array_foreach(list, i, p)
	{
		_cleanup_free_ char *id = num(json_integer_value(json_object_get(p, "id")));
		_cleanup_free_ char *ident =
		    num(json_integer_value(json_object_get(p, "identity")));
		_cleanup_free_ char *labels =
		    mseg_client_labels_string(json_object_get(p, "labels"), false);

		mseg_table_add(&t, json_string_value(json_object_get(p, "namespace")),
			       json_string_value(json_object_get(p, "name")), id, ident,
			       json_string_value(json_object_get(p, "ip")),
			       json_string_value(json_object_get(p, "interface")), labels);
	}
	mseg_table_print(&t, stdout);
}

static void print_identities(json_t *list)
{
	struct mseg_table t;
	size_t i, k;
	json_t *p, *e;

	mseg_table_init(&t, 3, "ID", "ENDPOINTS", "LABELS");
	json_array_foreach(list, i, p)
	{
		_cleanup_free_ char *id = num(json_integer_value(json_object_get(p, "id")));
		_cleanup_free_ char *labels =
		    mseg_client_labels_string(json_object_get(p, "labels"), false);
		json_t *eps = json_object_get(p, "endpoints");
		char *s = calloc(1, 1 + json_array_size(eps) * 260);
		size_t off = 0;

		json_array_foreach(eps, k, e) if (s) off +=
		    (size_t)sprintf(s + off, "%s%.255s", k ? "," : "", json_string_value(e) ?: "?");
		mseg_table_add(&t, id, s && off ? s : "<none>", labels);
		free(s);
	}
	mseg_table_print(&t, stdout);
}

int mseg_cmd_get(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const struct {
		const char *names[3];
		const char *op;
		void (*print)(json_t *);
	} what[] = {
	    {{"policies", "policy", "pol"}, "policy.list", print_policies},
	    /* with the other nodes' endpoints in a cluster (agent/cluster_ops.c) */
	    {{"endpoints", "endpoint", "ep"}, "endpoint.cluster_list", print_endpoints},
	    {{"identities", "identity", "id"}, "identity.list", print_identities},
	};
	const char *sock = NULL;
	json_t *result = NULL;
	bool json = false, wide = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!strcmp(optarg, "wide")) { /* hits per rule: tools/policy_hits.c */
				wide = true;
				break;
			}
			if (mseg_client_output_format(optarg, &json) < 0)
				return 2;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			get_usage(stdout);
			return 0;
		default:
			get_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		get_usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < ARRAY_SIZE(what); i++)
		for (size_t j = 0; j < 3; j++) {
			if (strcmp(argv[optind], what[i].names[j]))
				continue;
			if (wide && i == 0)
				return mseg_get_policies_wide(sock);
			if (mseg_client_call(mseg_client_socket(sock), what[i].op, NULL, &result) <
			    0)
				return 1;
			if (json)
				mseg_client_print_json(result);
			else
				what[i].print(result);
			json_decref(result);
			return 0;
		}
	fprintf(stderr, "mseg get: unknown resource '%s': policies, endpoints or identities\n",
		argv[optind]);
	return 2;
}
