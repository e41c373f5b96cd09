// SPDX-License-Identifier: Apache-2.0
/*
 * `mseg run`: asks msegd for a new endpoint (namespace, address, veth, routes), then either
 * leaves it running (-d; msegd starts the command, if any) or runs the command here, inside
 * the container's network namespace, in the foreground, returning its exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/client.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: mseg run [-d] [--rm] --name NAME [--namespace NS] [-l KEY=VALUE]...\n"
	    "                [--port NAME:PORT[/PROTO]]... [--socket PATH] [-- COMMAND "
	    "[ARGS...]]\n"
	    "Creates a container: its own network namespace with an address from the node's "
	    "pod CIDR.\n\n"
	    "  -d, --detach        leave it running; msegd runs COMMAND (if any) with output in\n"
	    "                      <state-dir>/logs/NS_NAME.log; without COMMAND the namespace\n"
	    "                      itself is the container\n"
	    "      --rm            remove the container when COMMAND exits (foreground only)\n"
	    "      --name NAME     container name (DNS-1123 label)\n"
	    "  -n, --namespace NS  namespace (default: default)\n"
	    "  -l, --label K=V     a label (repeatable)\n"
	    "  -p, --port N:P/PR   a named port, e.g. http:80/TCP (repeatable; PROTO TCP, UDP, "
	    "SCTP)\n");
}

static int port_arg(json_t *ports, const char *arg)
{
	const char *colon = strchr(arg, ':'), *slash;
	char *end, name[64];
	long port;

	if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(name))
		goto bad;
	memcpy(name, arg, (size_t)(colon - arg));
	name[colon - arg] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || errno || port < 1 || port > 65535)
		goto bad;
	slash = *end == '/' ? end + 1 : NULL;
	if (*end && (!slash || !*slash))
		goto bad;
	/* The name and protocol rules are msegd's to check, so they are the same everywhere. */
	json_array_append_new(ports, json_pack("{s:s,s:i,s:s}", "name", name, "port", (int)port,
					       "protocol", slash ? slash : "TCP"));
	return 0;
bad:
	fprintf(stderr,
		"mseg: invalid port '%s': expected NAME:PORT[/PROTOCOL] with PORT 1-65535\n", arg);
	return -EINVAL;
}

static json_t *argv_json(int argc, char **argv)
{
	json_t *a = json_array();

	for (int i = 0; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

/* Runs argv in netns as a child and returns its exit status (shell convention for signals). */
static int run_foreground(const char *netns, char **argv)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
	int status;
	pid_t pid;

	/* ^C goes to the command; we stay to report its status (and --rm afterwards). */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	pid = fork();
	if (pid < 0) {
		perror("mseg: fork");
		return 126;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		_exit(mseg_client_exec(netns, argv));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 126;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int mseg_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"rm", no_argument, NULL, 'R'},
	    {"name", required_argument, NULL, 'N'},
	    {"namespace", required_argument, NULL, 'n'},
	    {"label", required_argument, NULL, 'l'},
	    {"port", required_argument, NULL, 'p'},
	    {"socket", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *name = NULL, *ns = "default", *netns;
	json_t *labels = json_object(), *ports = json_array(), *args, *ep = NULL;
	bool detach = false, rm = false;
	int c, status;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+dn:l:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			detach = true;
			break;
		case 'R':
			rm = true;
			break;
		case 'N':
			name = optarg;
			break;
		case 'n':
			ns = optarg;
			break;
		case 'l':
			if (mseg_client_label_set_arg(labels, optarg) < 0)
				goto usage_err;
			break;
		case 'p':
			if (port_arg(ports, optarg) < 0)
				goto usage_err;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			json_decref(labels);
			json_decref(ports);
			return 0;
		default:
			goto usage_err;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (!name) {
		fprintf(stderr, "mseg: run needs --name NAME\n");
		goto usage_err;
	}
	if (rm && detach) {
		fprintf(stderr, "mseg: --rm works with a foreground command only, not with -d\n");
		goto usage_err;
	}
	if (!detach && optind >= argc) {
		fprintf(stderr, "mseg: run without -d needs a command after '--' (or use -d to "
				"keep an empty container running)\n");
		goto usage_err;
	}

	args = json_pack("{s:s,s:s,s:o,s:o}", "namespace", ns, "name", name, "labels", labels,
			 "ports", ports);
	if (detach && optind < argc)
		json_object_set_new(args, "command", argv_json(argc - optind, argv + optind));
	if (mseg_client_call(mseg_client_socket(sock), "endpoint.run", args, &ep) < 0)
		return 1;
	if (detach) {
		printf("%s/%s %s\n", ns, name, json_string_value(json_object_get(ep, "ip")) ?: "");
		json_decref(ep);
		return 0;
	}
	netns = json_string_value(json_object_get(ep, "netns"));
	status = netns ? run_foreground(netns, argv + optind) : 126;
	if (rm) {
		json_t *result = NULL;

		if (mseg_client_call(mseg_client_socket(sock), "endpoint.remove",
				     json_pack("{s:s,s:s}", "namespace", ns, "name", name),
				     &result) < 0 &&
		    status == 0)
			status = 1;
		json_decref(result);
	}
	json_decref(ep);
	return status;
usage_err:
	json_decref(labels);
	json_decref(ports);
	return 2;
}
