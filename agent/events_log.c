// SPDX-License-Identifier: Apache-2.0
/*
 * The flow log: JSON lines appended to <dir>/flows.jsonl. Past max bytes the file rotates
 * (flows.jsonl -> .1 -> .2 ...; the oldest beyond files-1 is removed), so history is bounded
 * on disk as the ring is in memory. Lines are buffered and flushed once per event batch.
 */
#include "agent/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mseg_flow_log {
	char *dir;
	uint64_t max;
	unsigned files;
	FILE *f;
	uint64_t size; /* bytes in the current file, including buffered ones */
};

static int log_path(const struct mseg_flow_log *l, unsigned n, char *buf, size_t len)
{
	int k = n ? snprintf(buf, len, "%s/flows.jsonl.%u", l->dir, n)
		  : snprintf(buf, len, "%s/flows.jsonl", l->dir);

	return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}

static int log_reopen(struct mseg_flow_log *l)
{
	char path[4096];
	struct stat st;
	int fd, r;

	r = log_path(l, 0, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	l->f = fdopen(fd, "a");
	if (!l->f) {
		r = -errno;
		close(fd);
		return r;
	}
	l->size = (uint64_t)st.st_size;
	return 0;
}

int mseg_flow_log_open(struct mseg_flow_log **ret, const char *dir, uint64_t max, unsigned files)
{
	struct mseg_flow_log *l;
	int r;

	if (!dir || !files || max == 0)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->dir = strdup(dir);
	l->max = max;
	l->files = files;
	if (!l->dir) {
		free(l);
		return -ENOMEM;
	}
	r = log_reopen(l);
	if (r < 0) {
		free(l->dir);
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

void mseg_flow_log_close(struct mseg_flow_log *l)
{
	if (!l)
		return;
	if (l->f)
		fclose(l->f);
	free(l->dir);
	free(l);
}

static int log_rotate(struct mseg_flow_log *l)
{
	char from[4096], to[4096];
	int r;

	if (l->f && fclose(l->f) != 0) {
		l->f = NULL;
		return -errno;
	}
	l->f = NULL;
	if (l->files == 1) {
		/* nothing kept besides the current file: start it over */
		r = log_path(l, 0, from, sizeof(from));
		if (r == 0 && truncate(from, 0) < 0 && errno != ENOENT)
			r = -errno;
		return r < 0 ? r : log_reopen(l);
	}
	for (unsigned n = l->files - 1; n > 0; n--) {
		r = log_path(l, n - 1, from, sizeof(from));
		if (r == 0)
			r = log_path(l, n, to, sizeof(to));
		if (r < 0)
			return r;
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	return log_reopen(l);
}

int mseg_flow_log_write(struct mseg_flow_log *l, const char *line, size_t len)
{
	int r;

	if (!l->f || (l->size > 0 && l->size + len + 1 > l->max)) {
		r = log_rotate(l);
		if (r < 0)
			return r;
	}
	if (fwrite(line, 1, len, l->f) != len || fputc('\n', l->f) == EOF)
		return -EIO;
	l->size += len + 1;
	return 0;
}

int mseg_flow_log_flush(struct mseg_flow_log *l)
{
	if (l->f && fflush(l->f) != 0)
		return -errno;
	return 0;
}
