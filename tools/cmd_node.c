// SPDX-License-Identifier: Apache-2.0
/* `mseg node ls`: the cluster's nodes as this node's agent sees them; `mseg node rm`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

static int node_ls(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_t *result = NULL, *n;
	struct mseg_table t;
	bool json = false;
	size_t i;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (mseg_client_output_format(optarg, &json) < 0)
				return 2;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf(
			    "Usage: mseg node ls [-o json|table] [--socket PATH]\n"
			    "Lists the nodes of the cluster: name, underlay address, pod CIDR, "
			    "liveness\n(its lease in etcd is renewed) and endpoints. A node whose "
			    "lease expired\nstays listed as not alive until it rejoins.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: node ls takes no arguments\n");
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "node.list", NULL, &result) < 0)
		return 1;
	if (json) {
		mseg_client_print_json(result);
		json_decref(result);
		return 0;
	}
	if (mseg_table_init(&t, 6, "NAME", "ADDRESS", "POD CIDR", "ALIVE", "ENDPOINTS", "") < 0) {
		json_decref(result);
		return 1;
	}
	json_array_foreach(result, i, n)
	{
		char eps[32];

		snprintf(eps, sizeof(eps), "%lld",
			 (long long)json_integer_value(json_object_get(n, "endpoints")));
		mseg_table_add(&t, json_string_value(json_object_get(n, "name")),
			       json_string_value(json_object_get(n, "ip")),
			       json_string_value(json_object_get(n, "pod_cidr")),
			       json_is_true(json_object_get(n, "alive")) ? "yes" : "no", eps,
			       json_is_true(json_object_get(n, "self")) ? "(this node)" : "");
	}
	mseg_table_print(&t, stdout);
	json_decref(result);
	return 0;
}

static int node_rm(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_t *result = NULL, *args;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf(
			    "Usage: mseg node rm NAME [--socket PATH]\n"
			    "Removes a node gone for good: releases its pod CIDR for a new node "
			    "and\nforgets it on every node. Refused while the node is alive (its "
			    "agent\nrenews its lease): a node that only restarts keeps its pod "
			    "CIDR.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "mseg: node rm takes one node name\n");
		return 2;
	}
	args = json_pack("{s:s}", "name", argv[optind]);
	if (!args)
		return 1;
	r = mseg_client_call(mseg_client_socket(sock), "node.remove", args, &result);
	if (r < 0)
		return 1;
	printf("node '%s' removed\n", argv[optind]);
	json_decref(result);
	return 0;
}

int mseg_cmd_node(int argc, char **argv)
{
	static const struct mseg_cmd cmds[] = {
	    {"ls", "list the cluster's nodes (address, pod CIDR, liveness)", node_ls},
	    {"rm", "remove a node gone for good (releases its pod CIDR)", node_rm},
	    {NULL, NULL, NULL},
	};

	return mseg_cli_dispatch("mseg node", cmds, argc, argv);
}
