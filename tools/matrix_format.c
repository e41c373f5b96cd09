// SPDX-License-Identifier: Apache-2.0
/* The reachability matrix's text grid and JSON; see matrix_format.h. */
#include "tools/matrix_format.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "policy/model.h"
#include "tools/policy_offline.h"

/* wider names than this get numbered columns with a key, to keep the grid narrow */
#define MATRIX_NAME_COLUMNS_MAX 8

int mseg_matrix_init(struct mseg_matrix *m, size_t n_rows, size_t n_cols)
{
	*m = (struct mseg_matrix){.n_rows = n_rows, .n_cols = n_cols};
	m->rows = calloc(n_rows ? n_rows : 1, sizeof(char *));
	m->cols = calloc(n_cols ? n_cols : 1, sizeof(char *));
	m->allowed = calloc(n_rows && n_cols ? n_rows * n_cols : 1, sizeof(bool));
	if (!m->rows || !m->cols || !m->allowed) {
		mseg_matrix_free(m);
		return -ENOMEM;
	}
	return 0;
}

void mseg_matrix_free(struct mseg_matrix *m)
{
	for (size_t i = 0; m->rows && i < m->n_rows; i++)
		free(m->rows[i]);
	for (size_t i = 0; m->cols && i < m->n_cols; i++)
		free(m->cols[i]);
	free(m->rows);
	free(m->cols);
	free(m->allowed);
	*m = (struct mseg_matrix){0};
}

static bool matrix_square(const struct mseg_matrix *m)
{
	if (m->n_rows != m->n_cols)
		return false;
	for (size_t i = 0; i < m->n_rows; i++)
		if (strcmp(m->rows[i], m->cols[i]) != 0)
			return false;
	return true;
}

void mseg_matrix_print_text(const struct mseg_matrix *m, uint8_t proto, uint16_t port, FILE *f)
{
	size_t w = 0, cw;
	bool numbered;
	char pbuf[32];

	for (size_t i = 0; i < m->n_rows; i++)
		if (strlen(m->rows[i]) > w)
			w = strlen(m->rows[i]);
	for (size_t i = 0; i < m->n_cols; i++)
		if (strlen(m->cols[i]) > w)
			w = strlen(m->cols[i]);
	numbered = w > MATRIX_NAME_COLUMNS_MAX;
	cw = numbered ? (size_t)snprintf(NULL, 0, "%zu", m->n_cols) : w;

	fprintf(f, "%s: rows from, columns to; '.' allowed, 'X' denied\n\n",
		mseg_offline_port_format(proto, port, pbuf, sizeof(pbuf)));
	fprintf(f, "%*s", (int)w, "");
	for (size_t d = 0; d < m->n_cols; d++) {
		if (numbered)
			fprintf(f, " %*zu", (int)cw, d + 1);
		else
			fprintf(f, " %*s", (int)cw, m->cols[d]);
	}
	fprintf(f, "\n");
	for (size_t s = 0; s < m->n_rows; s++) {
		fprintf(f, "%-*s", (int)w, m->rows[s]);
		for (size_t d = 0; d < m->n_cols; d++)
			fprintf(f, " %*s", (int)cw, m->allowed[s * m->n_cols + d] ? "." : "X");
		fprintf(f, "\n");
	}
	if (numbered) {
		fprintf(f, "\ncolumns:\n");
		for (size_t d = 0; d < m->n_cols; d++)
			fprintf(f, "  %*zu %s\n", (int)cw, d + 1, m->cols[d]);
	}
}

static json_t *names_json(char *const *names, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(names[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int mseg_matrix_print_json(const struct mseg_matrix *m, uint8_t proto, uint16_t port, FILE *f)
{
	json_t *j = json_object(), *eps = names_json(m->rows, m->n_rows), *allowed = json_object();
	bool square = matrix_square(m);
	int r = -ENOMEM;

	if (!j || !eps || !allowed)
		goto out;
	if (proto == MSEG_PROTO_ICMP) {
		json_object_set_new(j, "port", json_integer(port >> 8));
		json_object_set_new(j, "code", json_integer(port & 0xff));
	} else {
		json_object_set_new(j, "port", json_integer(port));
	}
	json_object_set_new(j, "protocol", json_string(mseg_offline_proto_name(proto)));
	for (size_t s = 0; s < m->n_rows; s++) {
		json_t *row = json_object();

		if (!row)
			goto out;
		for (size_t d = 0; d < m->n_cols; d++)
			json_object_set_new(row, m->cols[d],
					    json_boolean(m->allowed[s * m->n_cols + d]));
		json_object_set_new(allowed, m->rows[s], row);
	}
	if (!square) {
		/* every name once, sources first: a destination that is also a source is there */
		for (size_t d = 0; d < m->n_cols; d++) {
			bool seen = false;

			for (size_t s = 0; s < m->n_rows && !seen; s++)
				seen = !strcmp(m->rows[s], m->cols[d]);
			if (!seen)
				json_array_append_new(eps, json_string(m->cols[d]));
		}
		json_object_set_new(j, "sources", names_json(m->rows, m->n_rows));
		json_object_set_new(j, "destinations", names_json(m->cols, m->n_cols));
	}
	json_object_set_new(j, "endpoints", eps);
	json_object_set_new(j, "allowed", allowed);
	eps = allowed = NULL;
	r = json_dumpf(j, f, JSON_INDENT(2)) < 0 ? -EIO : 0;
	if (r == 0)
		fputc('\n', f);
out:
	json_decref(eps);
	json_decref(allowed);
	json_decref(j);
	return r;
}
