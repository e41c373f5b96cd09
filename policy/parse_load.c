// SPDX-License-Identifier: Apache-2.0
/*
 * Loading policies from paths: files, directories (their *.yaml, *.yml and *.json, sorted by
 * name) and "-" for standard input. Everything is parsed into a scratch set first, so the
 * caller's set changes only when every path parsed cleanly.
 */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/macro.h"
#include "policy/parse.h"
#include "policy/parse_internal.h"

int mseg_parse_read_file(const char *path, char **buf, size_t *len)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *b = NULL;
	size_t n = 0, cap = 0;

	if (!strcmp(path, "-")) {
		f = fdopen(dup(STDIN_FILENO), "r");
	} else {
		f = fopen(path, "re");
	}
	if (!f)
		return -errno;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *nb;

			if (cap >= MSEG_PARSE_MAX_FILE)
				return -EFBIG;
			cap = cap ? cap * 2 : 16384;
			nb = realloc(b, cap + 1);
			if (!nb)
				return -ENOMEM;
			b = nb;
		}
		errno = 0;
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f))
				return errno ? -errno : -EIO; /* EISDIR says more than EIO */
			break;
		}
	}
	if (n > MSEG_PARSE_MAX_FILE)
		return -EFBIG;
	if (!b) {
		b = malloc(1);
		if (!b)
			return -ENOMEM;
	}
	b[n] = '\0';
	*buf = TAKE_PTR(b);
	*len = n;
	return 0;
}

static int has_policy_suffix(const char *name)
{
	static const char *const suffixes[] = {".yaml", ".yml", ".json"};
	size_t len = strlen(name);

	if (name[0] == '.')
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(name + len - sl, suffixes[i]))
			return 1;
	}
	return 0;
}

static int dirent_filter(const struct dirent *d)
{
	return has_policy_suffix(d->d_name);
}

/* Reports a file that could not be read; returns -ENOMEM or -EINVAL. */
static int read_error(struct mseg_diag *diag, const char *path, int err)
{
	int r;

	if (err == -EFBIG)
		r = mseg_diag_add(diag, path, 0, 0, NULL, "file is larger than %u MiB",
				  MSEG_PARSE_MAX_FILE >> 20);
	else
		r = mseg_diag_add(diag, path, 0, 0, NULL, "cannot read: %s", strerror(-err));
	return r < 0 ? r : -EINVAL;
}

static int load_file(const char *path, const char *display, struct mseg_policy_set *scratch,
		     struct mseg_diag *diag)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = mseg_parse_read_file(path, &buf, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return read_error(diag, display, r);
	return mseg_policy_parse_buffer(display, buf, len, scratch, diag);
}

static int load_dir(const char *path, struct mseg_policy_set *scratch, struct mseg_diag *diag)
{
	struct dirent **list = NULL;
	int n, r = 0;

	n = scandir(path, &list, dirent_filter, alphasort);
	if (n < 0)
		return read_error(diag, path, -errno);
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *full = NULL;
		struct stat st;
		int q;

		if (r != -ENOMEM &&
		    asprintf(&full, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
			     list[i]->d_name) < 0) {
			full = NULL;
			r = -ENOMEM;
		}
		/* Subdirectories that happen to be named *.yaml are not policy files. */
		if (r != -ENOMEM && stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			q = load_file(full, full, scratch, diag);
			if (q < 0 && r != -ENOMEM)
				r = q;
		}
		free(list[i]);
	}
	free(list);
	return r;
}

int mseg_policy_load(char *const *paths, size_t n_paths, struct mseg_policy_set *set,
		     struct mseg_diag *diag)
{
	struct mseg_policy_set scratch = {0};
	struct mseg_policy *all;
	bool dup_found = false;
	int r = 0;

	if (!set || !diag || (n_paths && !paths))
		return -EINVAL;

	for (size_t i = 0; i < n_paths && r != -ENOMEM; i++) {
		const char *p = paths[i];
		struct stat st;
		int q;

		if (!strcmp(p, "-"))
			q = load_file(p, "<stdin>", &scratch, diag);
		else if (stat(p, &st) < 0)
			q = read_error(diag, p, -errno);
		else if (S_ISDIR(st.st_mode))
			q = load_dir(p, &scratch, diag);
		else
			q = load_file(p, p, &scratch, diag);
		if (q < 0)
			r = q;
	}
	/* The scratch set only saw these paths: names already in the caller's set clash too. */
	for (size_t i = 0; r == 0 && i < scratch.n_policies; i++) {
		const struct mseg_policy *p = &scratch.policies[i];

		for (size_t j = 0; j < set->n_policies; j++) {
			const struct mseg_policy *q = &set->policies[j];
			int e;

			if (q->kind != p->kind || strcmp(q->name, p->name) ||
			    (q->namespace == NULL) != (p->namespace == NULL) ||
			    (q->namespace && strcmp(q->namespace, p->namespace)))
				continue;
			e = mseg_diag_add(diag, p->file, p->line, 1, "metadata.name",
					  "duplicate %s%s%s, already defined at %s:%u",
					  p->namespace ? p->namespace : "", p->namespace ? "/" : "",
					  p->name, q->file, q->line);
			dup_found = true;
			if (e < 0)
				r = e;
			break;
		}
	}
	if (r == 0 && dup_found)
		r = -EINVAL;
	if (r == 0 && scratch.n_policies) {
		all = realloc(set->policies, (set->n_policies + scratch.n_policies) * sizeof(*all));
		if (!all)
			r = -ENOMEM;
		else
			set->policies = all;
	}
	if (r < 0) {
		mseg_policy_set_free(&scratch);
		return r;
	}
	for (size_t i = 0; i < scratch.n_policies; i++) {
		scratch.policies[i].id = (uint32_t)(set->n_policies + 1);
		set->policies[set->n_policies++] = scratch.policies[i];
	}
	free(scratch.policies);
	return 0;
}
