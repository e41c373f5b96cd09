// SPDX-License-Identifier: Apache-2.0
/* mseg: the command-line interface. Offline policy tools work alone; the rest talk to msegd. */
#include "lib/log.h"
#include "tools/cli.h"

#include <stddef.h>

static const struct mseg_cmd mseg_commands[] = {
	{"namespace", "create, label and list namespaces", mseg_cmd_namespace},
	{"run", "start a container (an endpoint with its own network namespace)", mseg_cmd_run},
	{"ps", "list containers with IPs, labels and state", mseg_cmd_ps},
	{"exec", "run a command in a container's network namespace", mseg_cmd_exec},
	{"rm", "remove containers", mseg_cmd_rm},
	{"label", "set or remove labels of a container", mseg_cmd_label},
	{"apply", "apply policy files through msegd (all or nothing)", mseg_cmd_apply},
	{"get", "list policies, endpoints or identities msegd enforces", mseg_cmd_get},
	{"delete", "delete a policy", mseg_cmd_delete},
	{"policy", "check, trace and tabulate policies", mseg_cmd_policy},
	{"probe", "send real traffic between containers, print who reaches whom", mseg_cmd_probe},
	{"observe", "show flow events: drops, audits, allowed flows, and what decided", mseg_cmd_observe},
	{"audit", "audit mode for one container (report instead of drop)", mseg_cmd_audit},
	{"map", "draw the service map of observed flows (dot, svg, html)", mseg_cmd_map},
	{"node", "list the cluster's nodes", mseg_cmd_node},
	{"status", "this node's health: store, datapath, endpoints, last reconcile", mseg_cmd_status},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	mseg_log_init("mseg", MSEG_LOG_INFO);
	return mseg_cli_dispatch("mseg", mseg_commands, argc, argv);
}
