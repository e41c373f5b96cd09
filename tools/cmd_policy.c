// SPDX-License-Identifier: Apache-2.0
/* `mseg policy ...`: the policy tools. Each subcommand lives in its own tools/policy_*.c. */
#include "tools/cli.h"

#include <stddef.h>

static const struct mseg_cmd policy_commands[] = {
	{"check", "validate policy files offline, list every error", mseg_cmd_policy_check},
	{"trace", "decide one flow offline and say what decided it", mseg_cmd_policy_trace},
	{"matrix", "reachability matrix of all endpoints for one port", mseg_cmd_policy_matrix},
	{"suggest", "write policies allowing exactly the observed flows", mseg_cmd_policy_suggest},
	{NULL, NULL, NULL},
};

int mseg_cmd_policy(int argc, char **argv)
{
	return mseg_cli_dispatch("mseg policy", policy_commands, argc, argv);
}
