/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container processes: starting a detached command inside an endpoint's network namespace,
 * and stopping every process that lives in one (what `mseg rm` and the reaper do).
 */
#ifndef MSEG_AGENT_LAUNCH_H
#define MSEG_AGENT_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Forks argv inside netns (a name under /run/netns) as a new session, stdin from /dev/null,
 * stdout and stderr appended to log_path. Returns once exec succeeded (*ret_pid set) or
 * failed (negative errno, msg says why, the child reaped). The child is the caller's: reap it
 * on SIGCHLD.
 */
int mseg_launch(const char *netns, char *const argv[], const char *log_path, pid_t *ret_pid,
		char *msg, size_t msglen);
/*
 * SIGKILLs every process whose network namespace is netns (as `ip netns pids` finds them) and
 * returns how many; 0 when the namespace does not exist.
 */
int mseg_netns_kill_all(const char *netns);
/* true when process pid exists and lives in netns (guards against a reused pid). */
bool mseg_netns_has_pid(const char *netns, pid_t pid);

#endif
