// SPDX-License-Identifier: Apache-2.0
#include "agent/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/macro.h"

int mseg_store_dir_ensure(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -EINVAL;
	memcpy(path, dir, len + 1);
	/* mkdir -p: each missing component, then the directory itself. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* vsnprintf, so a long path is cut rather than warned about: messages are best effort. */
static void why_set(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_set(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, MSEG_STORE_WHY_LEN, fmt, ap);
	va_end(ap);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int mseg_store_replace(const char *dir, const char *name, const char *text, size_t len,
		       enum mseg_store_sync sync)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	_cleanup_close_ int dfd = -1;
	int fd, r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, len);
	/* The data must be on disk before the rename makes it the file's content. */
	if (r == 0 && fdatasync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if (sync == MSEG_STORE_SYNC_DATA)
		return 0;
	/* And the rename itself must survive a power cut: sync the directory entry. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		return -errno;
	return 0;
}

int mseg_store_write_json(const char *dir, const char *name, const json_t *doc)
{
	_cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len;
	char *grown;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	grown = realloc(text, len + 2);
	if (!grown)
		return -ENOMEM;
	text = grown;
	memcpy(text + len, "\n", 2);
	return mseg_store_replace(dir, name, text, len + 1, MSEG_STORE_SYNC_ALL);
}

int mseg_store_read_json(const char *dir, const char *name, json_t **ret, char *why)
{
	char path[PATH_MAX];
	json_error_t jerr;
	struct stat st;
	json_t *doc;
	FILE *f;
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		why_set(why, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (r != -ENOENT)
			why_set(why, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fileno(f), &st) == 0 && st.st_size == 0) {
		fclose(f);
		why_set(why, "%s: empty file (torn write?)", path);
		return -EBADMSG;
	}
	doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!doc) {
		why_set(why, "%s: line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
		return -EBADMSG;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		why_set(why, "%s: not a JSON object", path);
		return -EBADMSG;
	}
	*ret = doc;
	return 0;
}

int mseg_store_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}
