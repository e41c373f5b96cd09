// SPDX-License-Identifier: Apache-2.0
#include "agent/launch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/macro.h"
#include "runtime/netns.h"

/* Runs in the child after fork: only async-signal-safe calls until exec. */
static void __attribute__((noreturn)) child_exec(int nsfd, int logfd, int errfd, char *const argv[])
{
	sigset_t none;
	int devnull, err;

	sigemptyset(&none);
	/* The agent blocks signals for its signalfd; a container must start with defaults. */
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setns(nsfd, CLONE_NEWNET) < 0 || setsid() < 0)
		goto fail;
	devnull = open("/dev/null", O_RDONLY);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0 ||
	    (errfd != 3 && dup3(errfd, 3, O_CLOEXEC) < 0))
		goto fail;
	/* Nothing of the agent's (control socket, state files) may leak into the container. */
	close_range(4, ~0U, 0);
	errfd = 3;
	execvp(argv[0], argv);
fail:
	err = errno;
	if (write(errfd, &err, sizeof(err)) < 0) {
		/* nothing left to report to */
	}
	_exit(127);
}

int mseg_launch(const char *netns, char *const argv[], const char *log_path, pid_t *ret_pid,
		char *msg, size_t msglen)
{
	_cleanup_close_ int nsfd = -1, logfd = -1;
	int pfd[2], err = 0, r;
	ssize_t n;
	pid_t pid;

	r = mseg_netns_open(netns, &nsfd);
	if (r < 0) {
		snprintf(msg, msglen, "cannot open network namespace '%s': %s", netns,
			 strerror(-r));
		return r;
	}
	logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open log '%s': %s", log_path, strerror(-r));
		return r;
	}
	/* exec closes the write end on success, so EOF means "running" and data means errno. */
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(msg, msglen, "pipe: %s", strerror(-r));
		return r;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(msg, msglen, "fork: %s", strerror(-r));
		return r;
	}
	if (pid == 0)
		child_exec(nsfd, logfd, pfd[1], argv);
	close(pfd[1]);
	do
		n = read(pfd[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(err)) {
		waitpid(pid, NULL, 0);
		snprintf(msg, msglen, "cannot run '%s' in the container: %s", argv[0],
			 strerror(err));
		return err == ENOENT ? -ENOENT : -err;
	}
	*ret_pid = pid;
	return 0;
}

int mseg_netns_kill_all(const char *netns)
{
	char path[PATH_MAX];
	struct stat ns_st, st;
	struct dirent *d;
	DIR *proc;
	int killed = 0;

	snprintf(path, sizeof(path), "%s/%s", MSEG_NETNS_RUN_DIR, netns);
	if (stat(path, &ns_st) < 0)
		return errno == ENOENT ? 0 : -errno;
	proc = opendir("/proc");
	if (!proc)
		return -errno;
	while ((d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
		/* The namespace file's device and inode identify the namespace. */
		if (stat(path, &st) < 0 || st.st_ino != ns_st.st_ino || st.st_dev != ns_st.st_dev)
			continue;
		if (kill((pid_t)pid, SIGKILL) == 0)
			killed++;
	}
	closedir(proc);
	return killed;
}

bool mseg_netns_has_pid(const char *netns, pid_t pid)
{
	char path[PATH_MAX];
	struct stat ns_st, st;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "%s/%s", MSEG_NETNS_RUN_DIR, netns);
	if (stat(path, &ns_st) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &st) < 0)
		return false;
	return st.st_ino == ns_st.st_ino && st.st_dev == ns_st.st_dev;
}
