// SPDX-License-Identifier: Apache-2.0
/* `mseg rm NS/NAME...`: stop containers and remove their network and address. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

int mseg_cmd_rm(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	int c, status = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: mseg rm NAMESPACE/NAME... [--socket PATH]\n"
			       "Kills the container's processes, removes its network namespace, "
			       "veth and route,\nand frees its IP address.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: mseg rm NAMESPACE/NAME...\n");
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		char *ns = NULL, *name = NULL;
		json_t *result = NULL;

		if (mseg_client_parse_ref(argv[i], &ns, &name) < 0) {
			status = 1;
			continue;
		}
		if (mseg_client_call(mseg_client_socket(sock), "endpoint.remove",
				     json_pack("{s:s,s:s}", "namespace", ns, "name", name),
				     &result) < 0)
			status = 1;
		else
			printf("%s/%s removed\n", ns, name);
		json_decref(result);
		free(ns);
		free(name);
	}
	return status;
}
