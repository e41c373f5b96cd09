// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *log_prog = "mseg";
static enum mseg_log_level log_max = MSEG_LOG_INFO;

void mseg_log_init(const char *prog, enum mseg_log_level max_level)
{
	log_prog = prog;
	log_max = max_level;
}

static void log_vwrite(enum mseg_log_level level, int err, const char *fmt, va_list ap)
{
	static const char *const prefix[] = {
		[MSEG_LOG_ERR] = "error: ",
		[MSEG_LOG_WARN] = "warning: ",
		[MSEG_LOG_INFO] = "",
		[MSEG_LOG_DEBUG] = "debug: ",
	};

	if (level > log_max)
		return;
	fprintf(stderr, "%s: %s", log_prog, prefix[level]);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err < 0 ? -err : err));
	fputc('\n', stderr);
}

void mseg_log(enum mseg_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, 0, fmt, ap);
	va_end(ap);
}

int mseg_log_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(MSEG_LOG_ERR, err, fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}
