// SPDX-License-Identifier: Apache-2.0
/* Diagnostics: an append-only list of located error messages. */
#include "policy/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"

int mseg_diag_add(struct mseg_diag *d, const char *file, unsigned line, unsigned col,
		  const char *field, const char *fmt, ...)
{
	_cleanup_free_ char *f = NULL;
	_cleanup_free_ char *fld = NULL;
	_cleanup_free_ char *msg = NULL;
	struct mseg_diag_entry *items;
	va_list ap;
	int r;

	if (!d || !fmt)
		return -EINVAL;
	if (file) {
		f = strdup(file);
		if (!f)
			return -ENOMEM;
	}
	if (field) {
		fld = strdup(field);
		if (!fld)
			return -ENOMEM;
	}
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		msg = NULL;
		return -ENOMEM;
	}
	/* Capacity doubles at powers of two (the struct has no capacity field). */
	if (d->n == 0 || (d->n & (d->n - 1)) == 0) {
		items = realloc(d->items, (d->n ? d->n * 2 : 1) * sizeof(*items));
		if (!items)
			return -ENOMEM;
		d->items = items;
	}
	items = d->items;
	items[d->n++] = (struct mseg_diag_entry){
	    .file = TAKE_PTR(f),
	    .line = line,
	    .col = col,
	    .field = TAKE_PTR(fld),
	    .message = TAKE_PTR(msg),
	};
	return 0;
}

void mseg_diag_free(struct mseg_diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->items[i].file);
		free(d->items[i].field);
		free(d->items[i].message);
	}
	free(d->items);
	d->items = NULL;
	d->n = 0;
}

char *mseg_diag_entry_format(const struct mseg_diag_entry *e)
{
	char *s = NULL;
	char loc[64] = "";
	int r;

	if (e->line && e->col)
		snprintf(loc, sizeof(loc), ":%u:%u", e->line, e->col);
	else if (e->line)
		snprintf(loc, sizeof(loc), ":%u", e->line);
	r = asprintf(&s, "%s%s%s%s%s%s", e->file ? e->file : "", e->file ? loc : "",
		     e->file ? ": " : "", e->field && e->field[0] ? e->field : "",
		     e->field && e->field[0] ? ": " : "", e->message ? e->message : "");
	return r < 0 ? NULL : s;
}
