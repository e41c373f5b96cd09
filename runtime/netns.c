// SPDX-License-Identifier: Apache-2.0
/*
 * Named network namespaces, done the way iproute2's `ip netns add/del` does them so both tools
 * see the same namespaces: /run/netns is a shared mount point, each namespace is an nsfs bind
 * mount on an empty file there.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>
#include <linux/rtnetlink.h>

#include "macro.h"
#include "runtime/netlink.h"
#include "runtime/netns.h"
#include "runtime/nlmsg.h"

#define NETNS_PATH_MAX (sizeof(MSEG_NETNS_RUN_DIR) + NAME_MAX + 1)

static int netns_path(const char *name, char buf[static NETNS_PATH_MAX])
{
	size_t len;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len > NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	snprintf(buf, NETNS_PATH_MAX, "%s/%s", MSEG_NETNS_RUN_DIR, name);
	return 0;
}

/*
 * /run/netns must be a shared mount so a namespace mounted there shows in every mount
 * namespace (ip netns exec runs commands in a private one); make it so, as ip does.
 */
static int run_dir_prepare(void)
{
	if (mkdir(MSEG_NETNS_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount("", MSEG_NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* Not a mount point yet: bind it onto itself, then mark it shared. */
	if (mount(MSEG_NETNS_RUN_DIR, MSEG_NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (mount("", MSEG_NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

static int open_current(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int lo_up(void *arg)
{
	uint8_t buf[MSEG_NLMSG_BUFSIZE] __attribute__((aligned(8)));
	struct mseg_nl *nl = NULL;
	int r;

	r = mseg_nl_open(&nl);
	if (r < 0)
		return r;
	/* Loopback is always ifindex 1 in a fresh namespace. */
	r = mseg_nlmsg_link_set_up(buf, sizeof(buf), 1, true);
	if (r == 0)
		r = mseg_nl_request(nl, (struct nlmsghdr *)buf, NULL, NULL);
	mseg_nl_close(nl);
	return r;
}

int mseg_netns_run(int netns_fd, int (*fn)(void *arg), void *arg)
{
	_cleanup_close_ int orig = -1;
	int r;

	if (netns_fd < 0 || !fn)
		return -EINVAL;
	orig = open_current();
	if (orig < 0)
		return orig;
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return -errno;
	r = fn(arg);
	/* Returning can only fail if the original namespace vanished, which an open fd prevents. */
	if (setns(orig, CLONE_NEWNET) < 0)
		return -errno;
	return r;
}

/* Unshares a new namespace on this thread, binds it at path, brings lo up, and comes back. */
static int create_bound(const char *path, int orig, int *ret_fd)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0) {
		r = -errno;
		goto back;
	}
	fd = open_current();
	if (fd < 0) {
		r = fd;
		goto back;
	}
	r = lo_up(NULL);
back:
	if (setns(orig, CLONE_NEWNET) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && ret_fd)
		*ret_fd = TAKE_FD(fd);
	return r;
}

int mseg_netns_create(const char *name, int *ret_fd)
{
	char path[NETNS_PATH_MAX];
	_cleanup_close_ int orig = -1;
	int fd, r;

	r = netns_path(name, path);
	if (r < 0)
		return r;
	r = run_dir_prepare();
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	orig = open_current();
	if (orig < 0) {
		r = orig;
		goto unlink;
	}
	r = create_bound(path, orig, ret_fd);
	if (r < 0)
		goto unlink;
	return 0;
unlink:
	(void)umount2(path, MNT_DETACH);
	(void)unlink(path);
	return r;
}

int mseg_netns_open(const char *name, int *ret_fd)
{
	char path[NETNS_PATH_MAX];
	struct statfs sfs;
	int fd, r;

	r = netns_path(name, path);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A leftover empty file (a crash between create and bind) is not a namespace. */
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC) {
		close(fd);
		return -ENOENT;
	}
	*ret_fd = fd;
	return 0;
}

int mseg_netns_delete(const char *name)
{
	char path[NETNS_PATH_MAX];
	int r;

	r = netns_path(name, path);
	if (r < 0)
		return r;
	/* Detach: processes still inside keep the namespace alive; the name goes at once. */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool mseg_netns_exists(const char *name)
{
	int fd;

	if (mseg_netns_open(name, &fd) < 0)
		return false;
	close(fd);
	return true;
}
