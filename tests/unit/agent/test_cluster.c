// SPDX-License-Identifier: Apache-2.0
/*
 * agent/cluster*.c without etcd or a kernel: the sorted map that mirrors etcd, msegd's
 * cluster options, and the filter that keeps remote endpoints' entries out of the datapath.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cluster_internal.h"
#include "lib/log.h"

static void test_kvmap(void **state)
{
	struct mseg_kvmap m = {0};
	char key[32];

	(void)state;
	assert_null(mseg_kvmap_get(&m, "a"));
	/* inserted out of order, kept sorted, replaced in place */
	for (int i = 99; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%02d", (i * 37) % 100);
		assert_int_equal(mseg_kvmap_set(&m, key, "v"), 0);
	}
	assert_int_equal(m.n, 100);
	for (size_t i = 1; i < m.n; i++)
		assert_true(strcmp(m.v[i - 1].key, m.v[i].key) < 0);
	assert_int_equal(mseg_kvmap_set(&m, "k42", "new"), 0);
	assert_int_equal(m.n, 100);
	assert_string_equal(mseg_kvmap_get(&m, "k42"), "new");
	mseg_kvmap_del(&m, "k42");
	mseg_kvmap_del(&m, "absent");
	assert_int_equal(m.n, 99);
	assert_null(mseg_kvmap_get(&m, "k42"));
	assert_string_equal(mseg_kvmap_get(&m, "k43"), "v");
	mseg_kvmap_clear(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.v);
}

static void test_options(void **state)
{
	struct mseg_cluster_options o = {0};

	(void)state;
	/* local store: nothing else needed, etcd endpoints refused */
	assert_int_equal(mseg_cluster_options_check(&o), 0);
	assert_int_equal(mseg_cluster_option(&o, 1, "http://10.0.0.1:2379"), 0);
	assert_int_equal(mseg_cluster_options_check(&o), -EINVAL);
	o = (struct mseg_cluster_options){0};
	assert_int_equal(mseg_cluster_option(&o, 0, "etcd"), 0);
	assert_int_equal(mseg_cluster_options_check(&o), -EINVAL); /* no endpoints */
	assert_int_equal(mseg_cluster_option(&o, 1, "http://10.0.0.1:2379"), 0);
	assert_int_equal(mseg_cluster_options_check(&o), 0);
	/* defaults filled in */
	assert_string_equal(o.prefix, "/mseg");
	assert_int_equal(o.vxlan_port, 4789);
	assert_int_equal(o.vni, 1);
	assert_int_equal(o.node_ttl, 10);
	assert_int_equal(o.cidr.prefixlen, 16);
	assert_int_equal(o.cidr.addr[1], 200);
	/* bad values name themselves and are refused */
	assert_int_equal(mseg_cluster_option(&o, 0, "consul"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 2, "mseg"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 2, "/mseg/"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 2, "/prod/mseg"), 0);
	assert_int_equal(mseg_cluster_option(&o, 4, "10.200.0.0/24"), -EINVAL); /* no /24 room */
	assert_int_equal(mseg_cluster_option(&o, 4, "fd00::/64"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 4, "10.0.0.0/12"), 0);
	assert_int_equal(mseg_cluster_option(&o, 5, "0"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 5, "65536"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 5, "8472"), 0);
	assert_int_equal(mseg_cluster_option(&o, 6, "16777216"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 6, "-1"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 6, "42"), 0);
	assert_int_equal(mseg_cluster_option(&o, 7, "1"), -EINVAL);
	assert_int_equal(mseg_cluster_option(&o, 7, "3"), 0);
	assert_int_equal(mseg_cluster_options_check(&o), 0);
	assert_string_equal(o.prefix, "/prod/mseg");
	assert_int_equal(o.vxlan_port, 8472);
	assert_int_equal(o.vni, 42);
	assert_int_equal(o.node_ttl, 3);
	assert_int_equal(o.cidr.prefixlen, 12);
}

static void test_diff_local(void **state)
{
	struct mseg_cluster c = {0};
	struct mseg_agent a = {0};
	struct mseg_table_entry added[4] = {{.endpoint = 1},
					    {.endpoint = MSEG_CLUSTER_REMOTE_ID_BASE},
					    {.endpoint = 7},
					    {.endpoint = MSEG_CLUSTER_REMOTE_ID_BASE + 5}};
	struct mseg_table_entry removed[1] = {{.endpoint = MSEG_CLUSTER_REMOTE_ID_BASE + 1}};
	struct mseg_endpoint_default d0[2] = {{.endpoint = MSEG_CLUSTER_REMOTE_ID_BASE},
					      {.endpoint = 3}};
	struct mseg_table_diff diff = {.added = added,
				       .n_added = 4,
				       .removed = removed,
				       .n_removed = 1,
				       .defaults_changed = {d0, NULL},
				       .n_defaults_changed = {2, 0}};

	(void)state;
	/* no cluster: untouched */
	mseg_cluster_diff_local(&a, &diff);
	assert_int_equal(diff.n_added, 4);
	a.cluster = &c;
	mseg_cluster_diff_local(&a, &diff);
	assert_int_equal(diff.n_added, 2);
	assert_int_equal(added[0].endpoint, 1);
	assert_int_equal(added[1].endpoint, 7);
	assert_int_equal(diff.n_removed, 0);
	assert_int_equal(diff.n_defaults_changed[0], 1);
	assert_int_equal(d0[0].endpoint, 3);
	assert_true(mseg_cluster_endpoint_remote(MSEG_CLUSTER_REMOTE_ID_BASE));
	assert_false(mseg_cluster_endpoint_remote(MSEG_CLUSTER_REMOTE_ID_BASE - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kvmap),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_diff_local),
	};

	mseg_log_init("test_cluster", MSEG_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
