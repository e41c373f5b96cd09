/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics: the list of errors a parse found, each with its file, 1-based line and column,
 * field path and message. Library code fills one; the CLI prints it.
 */
#ifndef MSEG_POLICY_DIAG_H
#define MSEG_POLICY_DIAG_H

#include <stddef.h>

struct mseg_diag_entry {
	char *file;
	unsigned line, col;
	char *field;   /* "spec.ingress[0].ports[1].endPort"; may be NULL or "" */
	char *message; /* "70000 is out of range 1-65535" */
};

struct mseg_diag {
	struct mseg_diag_entry *items;
	size_t n;
};

/* Appends one entry (copies file and field, formats the message); -ENOMEM on failure. */
int mseg_diag_add(struct mseg_diag *d, const char *file, unsigned line, unsigned col,
		  const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Frees every entry and leaves d empty (reusable). NULL-safe. */
void mseg_diag_free(struct mseg_diag *d);
/* "file:line:col: field: message" (parts that are unknown are left out); malloc'd. */
char *mseg_diag_entry_format(const struct mseg_diag_entry *e);

#endif
