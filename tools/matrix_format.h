/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reachability matrix that `mseg policy matrix` (decided by the evaluator) and `mseg probe`
 * (decided by real packets) print, in one text grid and one JSON shape, so their outputs can
 * be compared directly. Rows are sources, columns destinations.
 */
#ifndef MSEG_TOOLS_MATRIX_FORMAT_H
#define MSEG_TOOLS_MATRIX_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mseg_matrix {
	size_t n_rows, n_cols;
	char **rows;   /* "ns/name" of each source, owned */
	char **cols;   /* "ns/name" of each destination, owned */
	bool *allowed; /* [row * n_cols + col] */
};

/* Allocates the name arrays (all NULL) and the cells (all false); frees nothing on failure. */
int mseg_matrix_init(struct mseg_matrix *m, size_t n_rows, size_t n_cols);
/* NULL-safe on a zeroed or half-filled matrix. */
void mseg_matrix_free(struct mseg_matrix *m);

/*
 * The grid: a header naming PORT/PROTO, one line per source with '.' allowed and 'X' denied.
 * Names wider than a few characters get numbered columns and a key below the grid.
 */
void mseg_matrix_print_text(const struct mseg_matrix *m, uint8_t proto, uint16_t port, FILE *f);
/*
 * {"port": 80, "protocol": "TCP", "endpoints": [...], "allowed": {SRC: {DST: bool}}}; for ICMP
 * "port" is the type and "code" is added. When the rows and columns differ, "endpoints" lists
 * both (rows first) and "sources" and "destinations" are added.
 */
int mseg_matrix_print_json(const struct mseg_matrix *m, uint8_t proto, uint16_t port, FILE *f);

#endif
