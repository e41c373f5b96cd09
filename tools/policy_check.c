// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg policy check -f FILE|DIR|- [-f ...] [-o json]`: validates policy documents offline.
 * Valid input: silent, exit 0. Invalid: every error on stderr, one per line, exit 1 (with
 * -o json the same errors as one JSON object on stdout). Usage errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/parse.h"
#include "tools/cli.h"

static void check_usage(FILE *f)
{
	fprintf(
	    f, "Usage: mseg policy check -f FILE|DIR|- [-f ...] [-o text|json]\n"
	       "\n"
	       "Validates NetworkPolicy, Policy and ClusterPolicy documents (YAML or JSON)\n"
	       "without an agent. A directory contributes its *.yaml, *.yml and *.json files;\n"
	       "'-' reads standard input.\n"
	       "\n"
	       "  -f, --filename PATH   a file, directory or '-' (repeatable, at least one)\n"
	       "  -o, --output FORMAT   text (default: silent when valid, errors on stderr)\n"
	       "                        or json ({\"valid\", \"policies\", \"errors\"} on stdout)\n"
	       "  -h, --help            this text\n"
	       "\n"
	       "Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

static int print_json(const struct mseg_diag *diag, size_t n_policies, bool valid)
{
	json_t *root = json_object(), *errors = json_array();
	int r = 0;

	if (!root || !errors) {
		json_decref(root);
		json_decref(errors);
		return -ENOMEM;
	}
	for (size_t i = 0; i < diag->n; i++) {
		const struct mseg_diag_entry *e = &diag->items[i];
		json_t *o =
		    json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", e->file ? e->file : "", "line",
			      (json_int_t)e->line, "column", (json_int_t)e->col, "field",
			      e->field ? e->field : "", "message", e->message ? e->message : "");

		if (!o || json_array_append_new(errors, o) < 0)
			r = -ENOMEM;
	}
	json_object_set_new(root, "valid", json_boolean(valid));
	json_object_set_new(root, "policies", json_integer((json_int_t)n_policies));
	json_object_set_new(root, "errors", errors);
	if (r == 0 && json_dumpf(root, stdout, JSON_INDENT(2)) < 0)
		r = -EIO;
	if (r == 0)
		putchar('\n');
	json_decref(root);
	return r;
}

int mseg_cmd_policy_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filename", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_free_ char **paths = NULL;
	struct mseg_policy_set set = {0};
	struct mseg_diag diag = {0};
	size_t n_paths = 0;
	bool json = false;
	int c, r, rc;

	paths = calloc((size_t)argc + 1, sizeof(*paths));
	if (!paths)
		return log_errno(-ENOMEM, "policy check"), 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			paths[n_paths++] = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "json")) {
				json = true;
			} else if (!strcmp(optarg, "text")) {
				json = false;
			} else {
				fprintf(stderr,
					"mseg policy check: unknown output format '%s' "
					"(expected text or json)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			check_usage(stdout);
			return 0;
		default:
			check_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mseg policy check: unexpected argument '%s' (files go after -f)\n",
			argv[optind]);
		return 2;
	}
	if (n_paths == 0) {
		fprintf(stderr, "mseg policy check: no input, give at least one -f FILE|DIR|-\n");
		check_usage(stderr);
		return 2;
	}

	r = mseg_policy_load(paths, n_paths, &set, &diag);
	if (r < 0 && r != -EINVAL) {
		mseg_diag_free(&diag);
		mseg_policy_set_free(&set);
		return log_errno(r, "policy check"), 1;
	}
	rc = r < 0 ? 1 : 0;
	if (json) {
		if (print_json(&diag, set.n_policies, r == 0) < 0)
			rc = 1;
	} else {
		for (size_t i = 0; i < diag.n; i++) {
			_cleanup_free_ char *line = mseg_diag_entry_format(&diag.items[i]);

			fprintf(stderr, "%s\n", line ? line : diag.items[i].message);
		}
	}
	mseg_diag_free(&diag);
	mseg_policy_set_free(&set);
	return rc;
}
