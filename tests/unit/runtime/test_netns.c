// SPDX-License-Identifier: Apache-2.0
/*
 * Named namespaces against the real kernel (root only; skipped otherwise). Every namespace
 * made here is named mseg-unit-<pid>-* and removed by the test, also on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/container_net.h"
#include "runtime/netns.h"

static char name[64], name2[64];

static ino_t ino_of_fd(int fd)
{
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return st.st_ino;
}

static ino_t current_ino(void)
{
	struct stat st;

	assert_int_equal(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static int setup(void **state)
{
	if (geteuid() != 0)
		return 0;
	snprintf(name, sizeof(name), "mseg-unit-%d-a", (int)getpid());
	snprintf(name2, sizeof(name2), "mseg-unit-%d-b", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() == 0) {
		mseg_netns_delete(name);
		mseg_netns_delete(name2);
	}
	return 0;
}

struct inside {
	ino_t ino;
	short lo_flags;
	int lookup_r;
};

static int look_inside(void *arg)
{
	struct inside *in = arg;
	struct ifreq ifr = {0};
	int fd;

	in->ino = current_ino();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	in->lo_flags = ifr.ifr_flags;
	/* Nothing but lo in a fresh namespace. */
	in->lookup_r = mseg_link_lookup("eth0", NULL, NULL);
	return 42;
}

static void test_create_run_delete(void **state)
{
	struct inside in = {0};
	int fd = -1, fd2 = -1;
	ino_t before;

	if (geteuid() != 0)
		skip();
	before = current_ino();
	assert_false(mseg_netns_exists(name));
	assert_int_equal(mseg_netns_create(name, &fd), 0);
	assert_true(fd >= 0);
	/* The caller stays where it was. */
	assert_int_equal(current_ino(), before);
	assert_true(mseg_netns_exists(name));
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	assert_int_equal(mseg_netns_open(name, &fd2), 0);
	assert_int_equal(ino_of_fd(fd2), ino_of_fd(fd));
	assert_int_not_equal(ino_of_fd(fd), before);

	/* run: inside the namespace for fn, back afterwards, fn's result passed through. */
	assert_int_equal(mseg_netns_run(fd, look_inside, &in), 42);
	assert_int_equal(in.ino, ino_of_fd(fd));
	assert_true(in.lo_flags & IFF_UP);
	assert_int_equal(in.lookup_r, -ENODEV);
	assert_int_equal(current_ino(), before);

	assert_int_equal(mseg_netns_create(name, NULL), -EEXIST);
	assert_int_equal(mseg_netns_delete(name), 0);
	assert_false(mseg_netns_exists(name));
	assert_int_equal(mseg_netns_open(name, &fd2 /* untouched */), -ENOENT);
	assert_int_equal(mseg_netns_delete(name), 0);
	/* The name can be used again at once. */
	assert_int_equal(mseg_netns_create(name, NULL), 0);
	assert_int_equal(mseg_netns_delete(name), 0);
	close(fd);
	close(fd2);
}

static void test_bad_names(void **state)
{
	int fd = -7;

	assert_int_equal(mseg_netns_create("", &fd), -EINVAL);
	assert_int_equal(mseg_netns_create("a/b", &fd), -EINVAL);
	assert_int_equal(mseg_netns_create("..", &fd), -EINVAL);
	assert_int_equal(mseg_netns_create(NULL, &fd), -EINVAL);
	assert_int_equal(mseg_netns_open("a/b", &fd), -EINVAL);
	assert_int_equal(mseg_netns_delete("."), -EINVAL);
	assert_int_equal(fd, -7);
	assert_false(mseg_netns_exists("a/b"));
	assert_int_equal(mseg_netns_run(-1, NULL, NULL), -EINVAL);
}

static void test_leftover_file_is_not_a_namespace(void **state)
{
	char path[128];
	int fd;

	if (geteuid() != 0)
		skip();
	/* What a crash between creating the file and binding the namespace leaves. */
	snprintf(path, sizeof(path), "%s/%s", MSEG_NETNS_RUN_DIR, name2);
	mkdir(MSEG_NETNS_RUN_DIR, 0755);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_false(mseg_netns_exists(name2));
	assert_int_equal(mseg_netns_open(name2, &fd), -ENOENT);
	assert_int_equal(mseg_netns_delete(name2), 0);
	assert_int_equal(access(path, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_run_delete, setup, teardown),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test_setup_teardown(test_leftover_file_is_not_a_namespace, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
