// SPDX-License-Identifier: Apache-2.0
/* `mseg exec NS/NAME -- CMD...`: a command in a running container's network namespace. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

int mseg_cmd_exec(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ char *ns = NULL, *name = NULL;
	const char *sock = NULL, *netns;
	json_t *ep = NULL;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf(
			    "Usage: mseg exec NAMESPACE/NAME [--socket PATH] -- COMMAND [ARGS...]\n"
			    "Runs COMMAND in the container's network namespace and returns its "
			    "exit status.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		fprintf(stderr, "Usage: mseg exec NAMESPACE/NAME -- COMMAND [ARGS...]\n");
		return 2;
	}
	if (mseg_client_parse_ref(argv[optind], &ns, &name) < 0)
		return 2;
	optind++;
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc) {
		fprintf(stderr, "mseg: exec needs a command after '--'\n");
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.get",
			     json_pack("{s:s,s:s}", "namespace", ns, "name", name), &ep) < 0)
		return 1;
	netns = json_string_value(json_object_get(ep, "netns"));
	if (!netns) {
		fprintf(stderr, "mseg: msegd did not name the namespace of '%s/%s'\n", ns, name);
		json_decref(ep);
		return 1;
	}
	r = mseg_client_exec(netns, argv + optind);
	json_decref(ep);
	return r;
}
