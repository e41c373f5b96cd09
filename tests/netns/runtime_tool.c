// SPDX-License-Identifier: Apache-2.0
/*
 * Drives the runtime API from the namespace tests (tests/netns/test_runtime.sh):
 *
 *   runtime-tool [-n NODE_NETNS] netns-create NAME | netns-delete NAME | netns-exists NAME
 *   runtime-tool [-n NODE_NETNS] setup NETNS HOSTIF ADDR [MTU]
 *   runtime-tool [-n NODE_NETNS] teardown HOSTIF [ADDR]
 *   runtime-tool [-n NODE_NETNS] lookup IFNAME
 *   runtime-tool [-n NODE_NETNS] bench COUNT NETNS_PREFIX POOL
 *
 * -n enters the node's network namespace with setns only: unlike `ip netns exec` it keeps
 * the host's mount namespace, so namespaces bound under /run/netns stay visible to everyone.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "policy/cidr.h"
#include "runtime/container_net.h"
#include "runtime/ipam.h"
#include "runtime/netns.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: runtime-tool [-n NODE_NETNS] netns-create|netns-delete|netns-exists "
		"NAME | setup NETNS HOSTIF ADDR [MTU] | teardown HOSTIF [ADDR] | lookup IFNAME "
		"| bench COUNT NETNS_PREFIX POOL\n");
	return 2;
}

static int fail(int r, const char *what, const char *obj)
{
	fprintf(stderr, "runtime-tool: %s '%s': %s\n", what, obj, strerror(-r));
	return 1;
}

static int parse_addr(const char *s, bool pool, struct mseg_cidr *c)
{
	const char *why = NULL;
	int r = mseg_cidr_parse(s, false, c, &why);

	if (r < 0) {
		fprintf(stderr, "runtime-tool: bad address '%s': %s\n", s, why ? why : "invalid");
		return r;
	}
	if (!pool && c->prefixlen != 32) {
		fprintf(stderr, "runtime-tool: bad address '%s': must be a single address\n", s);
		return -EINVAL;
	}
	return 0;
}

static void print_mac(const char *label, const uint8_t m[6])
{
	printf("%s=%02x:%02x:%02x:%02x:%02x:%02x", label, m[0], m[1], m[2], m[3], m[4], m[5]);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * COUNT rounds of: namespace create, network setup, network teardown, namespace delete.
 * Reports the medians of the setup alone, of setup+teardown (the network alone) and of the
 * whole round.
 */
static int bench(int count, const char *prefix, const char *pool_s)
{
	_cleanup_free_ double *net = NULL, *full = NULL, *up = NULL;
	struct mseg_ipam *ipam = NULL;
	struct mseg_cidr pool;
	int i, r = 0;

	if (count < 1 || count > 10000 || parse_addr(pool_s, true, &pool) < 0)
		return usage();
	net = calloc(count, sizeof(*net));
	full = calloc(count, sizeof(*full));
	up = calloc(count, sizeof(*up));
	if (!net || !full || !up)
		return fail(-ENOMEM, "bench", prefix);
	r = mseg_ipam_new(&pool, &ipam);
	if (r < 0)
		return fail(r, "ipam", pool_s);
	for (i = 0; i < count; i++) {
		struct mseg_container_net_config cfg = {0};
		char name[64], ifname[16];
		double t0, t1, tu, t2, t3;

		snprintf(name, sizeof(name), "%s%d", prefix, i);
		snprintf(ifname, sizeof(ifname), "mbench%d", i % 10000);
		r = mseg_ipam_allocate(ipam, &cfg.addr);
		if (r < 0) {
			fail(r, "ipam allocate", pool_s);
			break;
		}
		cfg.netns_name = name;
		cfg.host_ifname = ifname;
		t0 = now_us();
		r = mseg_netns_create(name, NULL);
		if (r < 0) {
			fail(r, "netns create", name);
			break;
		}
		t1 = now_us();
		r = mseg_container_net_setup(&cfg, NULL);
		if (r < 0) {
			fail(r, "setup", ifname);
			mseg_netns_delete(name);
			break;
		}
		tu = now_us();
		r = mseg_container_net_teardown(ifname, &cfg.addr);
		t2 = now_us();
		if (r < 0) {
			fail(r, "teardown", ifname);
			mseg_netns_delete(name);
			break;
		}
		r = mseg_netns_delete(name);
		t3 = now_us();
		if (r < 0) {
			fail(r, "netns delete", name);
			break;
		}
		(void)mseg_ipam_release(ipam, &cfg.addr);
		up[i] = tu - t1;
		net[i] = t2 - t1;
		full[i] = t3 - t0;
	}
	mseg_ipam_free(ipam);
	if (r < 0)
		return 1;
	printf("rounds=%d setup_median_us=%.0f setup_teardown_median_us=%.0f "
	       "with_netns_median_us=%.0f\n",
	       count, median(up, count), median(net, count), median(full, count));
	return 0;
}

int main(int argc, char **argv)
{
	struct mseg_container_net_info info;
	struct mseg_container_net_config cfg = {0};
	int opt, r, fd;

	while ((opt = getopt(argc, argv, "+n:")) != -1) {
		switch (opt) {
		case 'n':
			r = mseg_netns_open(optarg, &fd);
			if (r < 0)
				return fail(r, "open node namespace", optarg);
			if (setns(fd, CLONE_NEWNET) < 0)
				return fail(-errno, "enter node namespace", optarg);
			close(fd);
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		return usage();

	if (!strcmp(argv[0], "netns-create")) {
		r = mseg_netns_create(argv[1], NULL);
		return r < 0 ? fail(r, "create namespace", argv[1]) : 0;
	} else if (!strcmp(argv[0], "netns-delete")) {
		r = mseg_netns_delete(argv[1]);
		return r < 0 ? fail(r, "delete namespace", argv[1]) : 0;
	} else if (!strcmp(argv[0], "netns-exists")) {
		return mseg_netns_exists(argv[1]) ? 0 : 1;
	} else if (!strcmp(argv[0], "setup") && (argc == 4 || argc == 5)) {
		cfg.netns_name = argv[1];
		cfg.host_ifname = argv[2];
		if (parse_addr(argv[3], false, &cfg.addr) < 0)
			return 2;
		if (argc == 5)
			cfg.mtu = (uint32_t)strtoul(argv[4], NULL, 10);
		r = mseg_container_net_setup(&cfg, &info);
		if (r < 0)
			return fail(r, "set up container network on", argv[2]);
		printf("host_ifindex=%d ", info.host_ifindex);
		print_mac("host_mac", info.host_mac);
		putchar(' ');
		print_mac("container_mac", info.container_mac);
		putchar('\n');
		return 0;
	} else if (!strcmp(argv[0], "teardown") && (argc == 2 || argc == 3)) {
		if (argc == 3 && parse_addr(argv[2], false, &cfg.addr) < 0)
			return 2;
		r = mseg_container_net_teardown(argv[1], argc == 3 ? &cfg.addr : NULL);
		return r < 0 ? fail(r, "tear down container network on", argv[1]) : 0;
	} else if (!strcmp(argv[0], "lookup")) {
		uint8_t mac[6];
		int ifindex;

		r = mseg_link_lookup(argv[1], &ifindex, mac);
		if (r < 0)
			return fail(r, "look up link", argv[1]);
		printf("ifindex=%d ", ifindex);
		print_mac("mac", mac);
		putchar('\n');
		return 0;
	} else if (!strcmp(argv[0], "bench") && argc == 4) {
		return bench(atoi(argv[1]), argv[2], argv[3]);
	}
	return usage();
}
