// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg audit NS/NAME on|off` and `mseg namespace audit NS on|off`: audit mode at endpoint
 * and namespace scope (agent/audit_scope.h). Traffic a policy would drop there passes and is
 * reported as `audit` naming that policy (`mseg observe --verdict audit`).
 */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/client.h"

static int on_off(const char *s, bool *on)
{
	if (!strcmp(s, "on"))
		*on = true;
	else if (!strcmp(s, "off"))
		*on = false;
	else {
		fprintf(stderr, "mseg: expected 'on' or 'off', not '%s'\n", s);
		return -1;
	}
	return 0;
}

static int audit_set(const char *sock, const char *ns, const char *name, bool on)
{
	json_t *result = NULL, *args = json_pack("{s:s,s:b}", "namespace", ns, "on", on);

	if (name)
		json_object_set_new(args, "name", json_string(name));
	if (mseg_client_call(mseg_client_socket(sock), "audit.set", args, &result) < 0)
		return 1;
	printf("%s %s%s%s: audit %s%s\n", name ? "container" : "namespace", ns, name ? "/" : "",
	       name ? name : "", on ? "on" : "off",
	       json_is_true(json_object_get(result, "changed")) ? "" : " (unchanged)");
	json_decref(result);
	return 0;
}

static int audit_list(const char *sock)
{
	json_t *result = NULL, *x;
	size_t i;

	if (mseg_client_call(mseg_client_socket(sock), "audit.list", NULL, &result) < 0)
		return 1;
	json_array_foreach(json_object_get(result, "namespaces"), i, x)
	    printf("namespace %s\n", json_string_value(x));
	json_array_foreach(json_object_get(result, "endpoints"), i, x)
	    printf("container %s/%s\n", json_string_value(json_object_get(x, "namespace")),
		   json_string_value(json_object_get(x, "name")));
	json_decref(result);
	return 0;
}

/* Parses [--socket PATH] around positionals; returns the count of positionals in pos. */
static int args_parse(int argc, char **argv, const char **sock, char **pos, int max, bool *help)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			*sock = argv[++i];
		else if (!strncmp(argv[i], "--socket=", 9))
			*sock = argv[i] + 9;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			*help = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "mseg: unknown option '%s'\n", argv[i]);
			return -1;
		} else if (n < max)
			pos[n++] = argv[i];
		else {
			fprintf(stderr, "mseg: unexpected argument '%s'\n", argv[i]);
			return -1;
		}
	}
	return n;
}

int mseg_cmd_audit(int argc, char **argv)
{
	const char *sock = NULL;
	char *pos[2], *ns = NULL, *name = NULL;
	bool help = false, on;
	int n = args_parse(argc, argv, &sock, pos, 2, &help), r;

	if (help) {
		printf(
		    "Usage: mseg audit NS/NAME on|off [--socket PATH]\n"
		    "       mseg audit ls\n"
		    "Audit mode for one container: what policies would drop there passes and is\n"
		    "reported as an audit event naming the policy (see mseg observe).\n");
		return 0;
	}
	if (n == 1 && !strcmp(pos[0], "ls"))
		return audit_list(sock);
	if (n != 2) {
		fprintf(stderr, "Usage: mseg audit NS/NAME on|off\n");
		return 2;
	}
	if (on_off(pos[1], &on) < 0 || mseg_client_parse_ref(pos[0], &ns, &name) < 0)
		return 2;
	r = audit_set(sock, ns, name, on);
	free(ns);
	free(name);
	return r;
}

int mseg_cmd_namespace_audit(int argc, char **argv)
{
	const char *sock = NULL;
	char *pos[2];
	bool help = false, on;
	int n = args_parse(argc, argv, &sock, pos, 2, &help);

	if (help) {
		printf("Usage: mseg namespace audit NAMESPACE on|off [--socket PATH]\n"
		       "Audit mode for every container of a namespace: what policies would drop\n"
		       "passes and is reported as an audit event naming the policy.\n");
		return 0;
	}
	if (n != 2) {
		fprintf(stderr, "Usage: mseg namespace audit NAMESPACE on|off\n");
		return 2;
	}
	if (on_off(pos[1], &on) < 0)
		return 2;
	return audit_set(sock, pos[0], NULL, on);
}
