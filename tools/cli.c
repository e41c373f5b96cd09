// SPDX-License-Identifier: Apache-2.0
#include "tools/cli.h"

#include <stdio.h>
#include <string.h>

#include "lib/version.h"

static void cli_usage(FILE *f, const char *prog, const struct mseg_cmd *cmds)
{
	fprintf(f, "Usage: %s COMMAND [ARGS...]\n\nCommands:\n", prog);
	for (const struct mseg_cmd *c = cmds; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", prog);
	if (!strchr(prog, ' '))
		fprintf(f, "'%s --version' prints the version.\n", prog);
}

int mseg_cli_dispatch(const char *prog, const struct mseg_cmd *cmds, int argc, char **argv)
{
	if (argc < 2) {
		cli_usage(stderr, prog, cmds);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		cli_usage(stdout, prog, cmds);
		return 0;
	}
	if (!strcmp(argv[1], "--version") && !strchr(prog, ' ')) {
		printf("%s %s\n", prog, MSEG_VERSION);
		return 0;
	}
	for (const struct mseg_cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	cli_usage(stderr, prog, cmds);
	return 2;
}
