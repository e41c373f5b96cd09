// SPDX-License-Identifier: Apache-2.0
/* `mseg ps`: the endpoints (containers) of this node. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

/* "http:80/TCP,dns:53/UDP", or "-" */
static char *ports_string(const json_t *ports)
{
	char *s = calloc(1, json_array_size(ports) * 40 + 2);
	size_t i, off = 0;
	json_t *p;

	if (!s)
		return NULL;
	json_array_foreach(ports, i, p) off +=
	    (size_t)sprintf(s + off, "%s%.15s:%d/%.4s", i ? "," : "",
			    json_string_value(json_object_get(p, "name")) ?: "?",
			    (int)json_integer_value(json_object_get(p, "port")),
			    json_string_value(json_object_get(p, "protocol")) ?: "?");
	if (!off)
		strcpy(s, "-");
	return s;
}

int mseg_cmd_ps(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *only_ns = NULL;
	json_t *result = NULL, *ep, *shown;
	struct mseg_table t;
	bool json = false;
	size_t i;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (mseg_client_output_format(optarg, &json) < 0)
				return 2;
			break;
		case 'n':
			only_ns = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf(
			    "Usage: mseg ps [-n NAMESPACE] [-o json|table] [--socket PATH]\n"
			    "Lists the endpoints (containers) of this node: namespace, name, IP, "
			    "labels,\nports, host interface and state.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: ps takes no arguments\n");
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.list", NULL, &result) < 0)
		return 1;
	shown = json_array();
	json_array_foreach(
	    result, i,
	    ep) if (!only_ns || !strcmp(json_string_value(json_object_get(ep, "namespace")) ?: "",
					only_ns)) json_array_append(shown, ep);
	json_decref(result);
	if (json) {
		mseg_client_print_json(shown);
		json_decref(shown);
		return 0;
	}
	mseg_table_init(&t, 7, "NAMESPACE", "NAME", "IP", "LABELS", "PORTS", "INTERFACE", "STATE");
	json_array_foreach(shown, i, ep)
	{
		char *labels = mseg_client_labels_string(json_object_get(ep, "labels"), false);
		char *ports = ports_string(json_object_get(ep, "ports"));

		mseg_table_add(&t, json_string_value(json_object_get(ep, "namespace")),
			       json_string_value(json_object_get(ep, "name")),
			       json_string_value(json_object_get(ep, "ip")), labels, ports,
			       json_string_value(json_object_get(ep, "interface")),
			       json_string_value(json_object_get(ep, "state")));
		free(labels);
		free(ports);
	}
	mseg_table_print(&t, stdout);
	json_decref(shown);
	return 0;
}
