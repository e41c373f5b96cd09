// SPDX-License-Identifier: Apache-2.0
/* `mseg label NS/NAME KEY=VALUE... | KEY-...`: a container's labels. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "tools/cli.h"
#include "tools/client.h"

int mseg_cmd_label(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ char *ns = NULL, *name = NULL;
	const char *sock = NULL;
	json_t *args, *result = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: mseg label NAMESPACE/NAME KEY=VALUE... | KEY-... [--socket "
			       "PATH]\n"
			       "Sets (KEY=VALUE) or removes (KEY-) labels of a container.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: mseg label NAMESPACE/NAME KEY=VALUE... | KEY-...\n");
		return 2;
	}
	if (mseg_client_parse_ref(argv[optind], &ns, &name) < 0)
		return 2;
	args = json_pack("{s:s,s:s}", "namespace", ns, "name", name);
	if (mseg_client_label_edits(args, argc - optind - 1, argv + optind + 1) < 0) {
		json_decref(args);
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.label", args, &result) < 0)
		return 1;
	printf("%s/%s labeled\n", ns, name);
	json_decref(result);
	return 0;
}
