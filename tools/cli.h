/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mseg CLI: one table of commands, each a function taking (argc, argv) with argv[0] the
 * command's own name, returning the process exit code (0 ok, 1 failure, 2 usage error).
 * Every command and subcommand answers --help.
 */
#ifndef MSEG_TOOLS_CLI_H
#define MSEG_TOOLS_CLI_H

struct mseg_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Dispatches argv[1] among cmds; prints the table for --help/-h/no argument. */
int mseg_cli_dispatch(const char *prog, const struct mseg_cmd *cmds, int argc, char **argv);

/* Command groups and commands, one file each (tools/cmd_*.c). */
int mseg_cmd_policy(int argc, char **argv);
/* Containers and namespaces, through msegd (tools/client.h). */
int mseg_cmd_namespace(int argc, char **argv); /* tools/cmd_namespace.c */
int mseg_cmd_run(int argc, char **argv);       /* tools/cmd_run.c */
int mseg_cmd_ps(int argc, char **argv);        /* tools/cmd_ps.c */
int mseg_cmd_exec(int argc, char **argv);      /* tools/cmd_exec.c */
int mseg_cmd_rm(int argc, char **argv);        /* tools/cmd_rm.c */
int mseg_cmd_label(int argc, char **argv);     /* tools/cmd_label.c */
int mseg_cmd_probe(int argc, char **argv);     /* tools/cmd_probe.c */
int mseg_cmd_apply(int argc, char **argv);     /* tools/cmd_apply.c */
int mseg_cmd_delete(int argc, char **argv);    /* tools/cmd_delete.c */
int mseg_cmd_get(int argc, char **argv);       /* tools/cmd_get.c */
int mseg_cmd_node(int argc, char **argv);      /* tools/cmd_node.c */
int mseg_cmd_status(int argc, char **argv);    /* tools/cmd_status.c */
int mseg_cmd_policy_check(int argc, char **argv);  /* tools/policy_check.c */
int mseg_cmd_policy_trace(int argc, char **argv);  /* tools/policy_trace.c */
int mseg_cmd_policy_matrix(int argc, char **argv); /* tools/policy_matrix.c */

/* Inspecting traffic (issue 6). */
int mseg_cmd_observe(int argc, char **argv);	      /* tools/cmd_observe.c */
int mseg_cmd_map(int argc, char **argv);	      /* tools/cmd_map.c */
int mseg_cmd_audit(int argc, char **argv);	      /* tools/cmd_audit.c */
int mseg_cmd_namespace_audit(int argc, char **argv); /* tools/cmd_audit.c */
int mseg_cmd_policy_suggest(int argc, char **argv);  /* tools/policy_suggest.c */
/* Shared by observe, map and suggest (tools/cmd_observe.c). */
#include <jansson.h>
int mseg_observe_duration_parse(const char *s, double *seconds); /* 30s, 5m, 2h, 1d */
/* events.list with args (stolen): the records and the stats (new references). Prints. */
int mseg_observe_fetch(const char *sock, json_t *args, json_t **events, json_t **stats);
char *mseg_observe_end_string(const json_t *end);	 /* "prod/web", "world(1.2.3.4)" */
char *mseg_observe_decider_string(const json_t *rec); /* "isolated by NetworkPolicy ..." */
char *mseg_map_service(const json_t *end); /* "prod/web" (app label, else name), "world" */
/* "saddr:sport>daddr:dport/PROTO" of a record; and the set (object) of those dropped. */
char *mseg_observe_tuple(const json_t *rec);
json_t *mseg_observe_dropped_tuples(const json_t *events);
/* `mseg get policies -o wide`: hits per policy and rule (tools/policy_hits.c). */
int mseg_get_policies_wide(const char *sock);

#endif
