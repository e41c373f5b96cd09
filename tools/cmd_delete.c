// SPDX-License-Identifier: Apache-2.0
/* `mseg delete policy [NS/]NAME [--kind K]`: removes one policy through msegd. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

static void delete_usage(FILE *f)
{
	fprintf(f, "Usage: mseg delete policy [NAMESPACE/]NAME [--kind KIND] [--socket PATH]\n"
		   "Removes a policy. NAMESPACE/NAME names a NetworkPolicy or Policy (namespace\n"
		   "\"default\" when left out); a bare NAME also matches a ClusterPolicy. When a\n"
		   "name is ambiguous, --kind NetworkPolicy|Policy|ClusterPolicy says which.\n");
}

int mseg_cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kind", required_argument, NULL, 'k'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *kind = NULL, *ref, *slash;
	json_t *args, *result = NULL;
	_cleanup_free_ char *kind_lc = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			kind = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			delete_usage(stdout);
			return 0;
		default:
			delete_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 ||
	    (strcmp(argv[optind], "policy") && strcmp(argv[optind], "policies") &&
	     strcmp(argv[optind], "networkpolicy") && strcmp(argv[optind], "clusterpolicy"))) {
		delete_usage(stderr);
		return 2;
	}
	if (!kind && !strcmp(argv[optind], "networkpolicy"))
		kind = "NetworkPolicy";
	if (!kind && !strcmp(argv[optind], "clusterpolicy"))
		kind = "ClusterPolicy";
	ref = argv[optind + 1];
	slash = strchr(ref, '/');
	if (!*ref || (slash && (slash == ref || !slash[1] || strchr(slash + 1, '/')))) {
		fprintf(stderr, "mseg delete: invalid policy reference '%s': [NAMESPACE/]NAME\n",
			ref);
		return 2;
	}
	if (slash)
		args = json_pack("{s:s%,s:s}", "namespace", ref, (size_t)(slash - ref), "name",
				 slash + 1);
	else
		args = json_pack("{s:s}", "name", ref);
	if (kind)
		json_object_set_new(args, "kind", json_string(kind));
	if (mseg_client_call(mseg_client_socket(sock), "policy.delete", args, &result) < 0)
		return 1;
	{
		const char *ns = json_string_value(json_object_get(result, "namespace"));

		kind_lc = strdup(json_string_value(json_object_get(result, "kind")) ?: "policy");
		for (char *p = kind_lc; p && *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		printf("%s %s%s%s deleted\n", kind_lc ?: "policy", ns ?: "", ns ? "/" : "",
		       json_string_value(json_object_get(result, "name")));
	}
	json_decref(result);
	return 0;
}
