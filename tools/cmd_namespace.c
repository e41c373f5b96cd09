// SPDX-License-Identifier: Apache-2.0
/* `mseg namespace create|label|ls`: namespaces and their labels, kept by msegd. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

static int ns_create(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"label", required_argument, NULL, 'l'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL;
	json_t *labels = json_object(), *result = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (mseg_client_label_set_arg(labels, optarg) < 0)
				goto usage_err;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: mseg namespace create NAMESPACE [-l KEY=VALUE]... [--socket "
			       "PATH]\n"
			       "Creates a namespace; it always carries "
			       "kubernetes.io/metadata.name=NAMESPACE.\n");
			json_decref(labels);
			return 0;
		default:
			goto usage_err;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "Usage: mseg namespace create NAMESPACE [-l KEY=VALUE]...\n");
		goto usage_err;
	}
	if (mseg_client_call(mseg_client_socket(sock), "namespace.create",
			     json_pack("{s:s,s:o}", "name", argv[optind], "labels", labels),
			     &result) < 0)
		return 1;
	printf("namespace/%s created\n", argv[optind]);
	json_decref(result);
	return 0;
usage_err:
	json_decref(labels);
	return 2;
}

static int ns_label(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
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
			printf("Usage: mseg namespace label NAMESPACE KEY=VALUE... | KEY-... "
			       "[--socket PATH]\n"
			       "Sets (KEY=VALUE) or removes (KEY-) labels of a namespace.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "Usage: mseg namespace label NAMESPACE KEY=VALUE... | KEY-...\n");
		return 2;
	}
	args = json_pack("{s:s}", "name", argv[optind]);
	if (mseg_client_label_edits(args, argc - optind - 1, argv + optind + 1) < 0) {
		json_decref(args);
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "namespace.label", args, &result) < 0)
		return 1;
	printf("namespace/%s labeled\n", argv[optind]);
	json_decref(result);
	return 0;
}

static int ns_ls(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct mseg_table t;
	const char *sock = NULL;
	json_t *result = NULL, *ns;
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
			printf("Usage: mseg namespace ls [-o json|table] [--socket PATH]\n"
			       "Lists namespaces and their labels.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mseg: namespace ls takes no arguments\n");
		return 2;
	}
	if (mseg_client_call(mseg_client_socket(sock), "namespace.list", NULL, &result) < 0)
		return 1;
	if (json) {
		mseg_client_print_json(result);
		json_decref(result);
		return 0;
	}
	mseg_table_init(&t, 2, "NAME", "LABELS");
	json_array_foreach(result, i, ns)
	{
		char *labels = mseg_client_labels_string(json_object_get(ns, "labels"), false);

		mseg_table_add(&t, json_string_value(json_object_get(ns, "name")), labels);
		free(labels);
	}
	mseg_table_print(&t, stdout);
	json_decref(result);
	return 0;
}

static const struct mseg_cmd namespace_commands[] = {
    {"create", "create a namespace with labels", ns_create},
    {"label", "set or remove labels of a namespace", ns_label},
    {"ls", "list namespaces", ns_ls},
    {"audit", "audit mode for a namespace (report instead of drop)", mseg_cmd_namespace_audit},
    {NULL, NULL, NULL},
};

int mseg_cmd_namespace(int argc, char **argv)
{
	return mseg_cli_dispatch("mseg namespace", namespace_commands, argc, argv);
}
