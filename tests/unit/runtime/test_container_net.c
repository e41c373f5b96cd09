// SPDX-License-Identifier: Apache-2.0
/*
 * Removing a container's network the fast way (mseg_container_net_unroute, then deleting the
 * namespace) against the real kernel (root only; skipped otherwise). Everything happens in a
 * "node" namespace made here (mseg-unit-<pid>-node), never in the caller's own, and both
 * namespaces are removed by the test, also on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "runtime/container_net.h"
#include "runtime/netns.h"

#define HOST_IF "mseguvt0"
#define ADDR "10.250.0.9"

static char node[64], ctr[64];

static int setup(void **state)
{
	snprintf(node, sizeof(node), "mseg-unit-%d-node", (int)getpid());
	snprintf(ctr, sizeof(ctr), "mseg-unit-%d-ctr", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() == 0) {
		mseg_netns_delete(ctr);
		mseg_netns_delete(node);
	}
	return 0;
}

/* Runs in the node namespace: the calls under test, with their results for the test. */
struct step {
	struct mseg_cidr addr;
	int setup_r, unroute_r, unroute_again_r, lookup_r;
};

static int in_node_setup(void *arg)
{
	struct step *s = arg;
	struct mseg_container_net_config cfg = {
	    .netns_name = ctr, .host_ifname = HOST_IF, .addr = s->addr};

	s->setup_r = mseg_container_net_setup(&cfg, NULL);
	return 0;
}

static int in_node_unroute(void *arg)
{
	struct step *s = arg;

	s->unroute_r = mseg_container_net_unroute(HOST_IF, &s->addr);
	/* Nothing left to remove is not an error. */
	s->unroute_again_r = mseg_container_net_unroute(HOST_IF, &s->addr);
	s->lookup_r = mseg_link_lookup(HOST_IF, NULL, NULL);
	return 0;
}

static int in_node_lookup(void *arg)
{
	struct step *s = arg;

	s->lookup_r = mseg_link_lookup(HOST_IF, NULL, NULL);
	return 0;
}

static bool node_has_route(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip -n %s route show %s | grep -q .", node, ADDR);
	return system(cmd) == 0;
}

static void test_unroute_then_namespace_delete_removes_all(void **state)
{
	struct step s = {0};
	const char *why;
	int node_fd = -1;

	if (geteuid() != 0)
		skip();
	assert_int_equal(mseg_cidr_parse(ADDR, false, &s.addr, &why), 0);
	assert_int_equal(mseg_netns_create(node, &node_fd), 0);
	assert_int_equal(mseg_netns_create(ctr, NULL), 0);

	assert_int_equal(mseg_netns_run(node_fd, in_node_setup, &s), 0);
	assert_int_equal(s.setup_r, 0);
	assert_true(node_has_route());

	/* The route goes at once, the veth stays until its namespace goes. */
	assert_int_equal(mseg_netns_run(node_fd, in_node_unroute, &s), 0);
	assert_int_equal(s.unroute_r, 0);
	assert_int_equal(s.unroute_again_r, 0);
	assert_false(node_has_route());
	assert_int_equal(s.lookup_r, 0);

	/* Deleting the container's namespace takes the pair with it (kernel cleanup work). */
	assert_int_equal(mseg_netns_delete(ctr), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(mseg_netns_run(node_fd, in_node_lookup, &s), 0);
		if (s.lookup_r == -ENODEV)
			break;
		usleep(10000);
	}
	assert_int_equal(s.lookup_r, -ENODEV);
	/* And a gone link is not an error either. */
	assert_int_equal(mseg_netns_run(node_fd, in_node_unroute, &s), 0);
	assert_int_equal(s.unroute_r, 0);
	close(node_fd);
}

static void test_unroute_bad_input(void **state)
{
	struct mseg_cidr addr;
	const char *why;

	assert_int_equal(mseg_cidr_parse(ADDR, false, &addr, &why), 0);
	assert_int_equal(mseg_container_net_unroute(HOST_IF, NULL), -EINVAL);
	assert_int_equal(mseg_container_net_unroute("name-longer-than-15", &addr), -EINVAL);
	assert_int_equal(mseg_container_net_unroute(NULL, &addr), -EINVAL);
	assert_int_equal(mseg_cidr_parse("10.250.0.0/24", false, &addr, &why), 0);
	assert_int_equal(mseg_container_net_unroute(HOST_IF, &addr), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_unroute_then_namespace_delete_removes_all, setup,
					    teardown),
	    cmocka_unit_test(test_unroute_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
