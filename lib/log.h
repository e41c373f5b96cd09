/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for the programs (agent and CLI) only: library code in policy/ and runtime/ returns
 * errors and never logs; the boundary where an error meets the user logs it once.
 */
#ifndef MSEG_LOG_H
#define MSEG_LOG_H

#include <stdbool.h>

enum mseg_log_level {
	MSEG_LOG_ERR,
	MSEG_LOG_WARN,
	MSEG_LOG_INFO,
	MSEG_LOG_DEBUG,
};

/* Program name shown as the prefix of every line ("msegd", "mseg"). */
void mseg_log_init(const char *prog, enum mseg_log_level max_level);
void mseg_log(enum mseg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Logs fmt plus ": strerror(-err)" and returns err, so callers can `return log_errno(r, ...)`. */
int mseg_log_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) mseg_log(MSEG_LOG_ERR, __VA_ARGS__)
#define log_warn(...) mseg_log(MSEG_LOG_WARN, __VA_ARGS__)
#define log_info(...) mseg_log(MSEG_LOG_INFO, __VA_ARGS__)
#define log_debug(...) mseg_log(MSEG_LOG_DEBUG, __VA_ARGS__)
#define log_errno(err, ...) mseg_log_errno(err, __VA_ARGS__)

#endif
