/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the agent commands of the CLI share: finding and calling msegd over its control socket
 * (agent/request.h describes the protocol), parsing NS/NAME and label arguments, and printing
 * results as tables or JSON. This is the boundary where agent errors meet the user: the
 * functions here print them ("mseg: ...") and return a negative errno.
 */
#ifndef MSEG_TOOLS_CLIENT_H
#define MSEG_TOOLS_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define MSEG_CLIENT_DEFAULT_SOCKET "/run/mseg/msegd.sock"

/* The socket to use: opt (--socket) if set, else $MSEG_SOCKET, else the default. */
const char *mseg_client_socket(const char *opt);
/*
 * Sends {"op": op, "args": args} (args is stolen; NULL for none) and waits for the reply.
 * 0 and *result (a new reference, may be JSON null) on success; on failure prints why
 * (unreachable agent, error reply) and returns a negative errno.
 */
int mseg_client_call(const char *socket, const char *op, json_t *args, json_t **result);

/* "NS/NAME", or "NAME" in namespace "default"; both parts non-empty. Prints on error. */
int mseg_client_parse_ref(const char *arg, char **ns, char **name);
/* -l/positional "k=v" into obj (checked by the Kubernetes rules). Prints on error. */
int mseg_client_label_set_arg(json_t *obj, const char *arg);
/*
 * Positional label edits "k=v" (set) and "k-" (remove) into {"set": {...}, "unset": [...]}
 * added to args. Prints on error.
 */
int mseg_client_label_edits(json_t *args, int argc, char **argv);
/* "-o json" / "-o table": true for json; prints on an unknown format. */
int mseg_client_output_format(const char *arg, bool *json);

/* Moves the calling process into the named network namespace (/run/netns). Prints on error. */
int mseg_client_enter_netns(const char *netns);
/* execvp(argv) after mseg_client_enter_netns; only returns on failure (exit code 126/127). */
int mseg_client_exec(const char *netns, char **argv);

int mseg_client_print_json(const json_t *v);
/* "a=b,c=d" of a labels object; "<none>" when empty. malloc'd. */
char *mseg_client_labels_string(const json_t *labels, bool skip_auto);

/* A text table: rows of ncols strings, columns as wide as their widest cell. */
struct mseg_table {
	size_t ncols, nrows;
	char **cells;
};
int mseg_table_init(struct mseg_table *t, size_t ncols, ...);
/* Appends one row of ncols strings (copied; NULL prints as "-"). */
int mseg_table_add(struct mseg_table *t, ...);
/* Prints and frees the table. */
void mseg_table_print(struct mseg_table *t, FILE *f);

#endif
