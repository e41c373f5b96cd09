// SPDX-License-Identifier: Apache-2.0
/* mseg: the command-line interface. Offline policy tools work alone; the rest talk to msegd. */
#include "lib/log.h"
#include "tools/cli.h"

#include <stddef.h>

static const struct mseg_cmd mseg_commands[] = {
	{"policy", "check, trace and tabulate policies", mseg_cmd_policy},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	mseg_log_init("mseg", MSEG_LOG_INFO);
	return mseg_cli_dispatch("mseg", mseg_commands, argc, argv);
}
