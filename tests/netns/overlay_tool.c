// SPDX-License-Identifier: Apache-2.0
/*
 * Drives runtime/vxlan.h from the namespace tests (tests/netns/test_overlay.sh):
 *
 *   overlay-tool [-n NODE_NETNS] up IFNAME VNI LOCAL_IP CLUSTER_CIDR INDEX MTU [PORT]
 *   overlay-tool [-n NODE_NETNS] down IFNAME
 *   overlay-tool [-n NODE_NETNS] peer-add|peer-del IFNAME UNDERLAY_IP POD_CIDR
 *   overlay-tool [-n NODE_NETNS] filter PORT [NODE_IP...]
 *   overlay-tool [-n NODE_NETNS] filter-counter     (prints "packets N bytes M")
 *   overlay-tool [-n NODE_NETNS] filter-remove
 *   overlay-tool pod-cidr CLUSTER_CIDR INDEX          (prints "POD_CIDR GATEWAY MAC")
 *
 * `up` gives the device the node's gateway address (.0 of pod CIDR number INDEX, /24 each) and
 * the MAC derived from it, as the agent will. -n enters the node with setns only.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/cidr.h"
#include "runtime/container_net.h"
#include "runtime/netlink.h"
#include "runtime/netns.h"
#include "runtime/vxlan.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: overlay-tool [-n NODE_NETNS] up IFNAME VNI LOCAL CLUSTER INDEX MTU "
		"[PORT] | down IFNAME | peer-add|peer-del IFNAME UNDERLAY POD_CIDR | filter "
		"PORT [NODE_IP...] | filter-counter | filter-remove | pod-cidr CLUSTER "
		"INDEX\n");
	return 2;
}

static int fail(int r, const char *what, const char *obj)
{
	fprintf(stderr, "overlay-tool: %s '%s': %s\n", what, obj, strerror(-r));
	return 1;
}

static int parse(const char *s, struct mseg_cidr *c)
{
	const char *why = NULL;

	if (mseg_cidr_parse(s, false, c, &why) < 0) {
		fprintf(stderr, "overlay-tool: bad address '%s': %s\n", s, why ? why : "invalid");
		return -EINVAL;
	}
	return 0;
}

static int number(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *v > max) {
		fprintf(stderr, "overlay-tool: bad number '%s' (0..%lu)\n", s, max);
		return -EINVAL;
	}
	return 0;
}

static int cmd_up(char **argv, int argc)
{
	struct mseg_vxlan_config cfg = {.ifname = argv[1]};
	struct mseg_cidr cluster, gw;
	unsigned long vni, index, mtu, port = MSEG_VXLAN_PORT;
	struct mseg_nl *nl;
	uint8_t mac[6];
	int r, ifindex;

	if (number(argv[2], MSEG_VXLAN_VNI_MAX, &vni) < 0 || parse(argv[3], &cfg.local) < 0 ||
	    parse(argv[4], &cluster) < 0 || number(argv[5], 255, &index) < 0 ||
	    number(argv[6], 65535, &mtu) < 0 || (argc == 8 && number(argv[7], 65535, &port) < 0))
		return 2;
	r = mseg_vxlan_pod_cidr(&cluster, 24, (uint32_t)index, NULL, &gw);
	if (r < 0)
		return fail(r, "pod CIDR of index", argv[5]);
	mseg_vxlan_mac(&gw, mac);
	cfg.vni = (uint32_t)vni;
	cfg.mtu = (uint32_t)mtu;
	cfg.port = (uint16_t)port;
	cfg.mac = mac;
	r = mseg_nl_open(&nl);
	if (r < 0)
		return fail(r, "open netlink", "route");
	r = mseg_vxlan_create(nl, &cfg, &gw, &ifindex);
	mseg_nl_close(nl);
	if (r < 0)
		return fail(r, "create vxlan device", argv[1]);
	printf("ifindex %d\n", ifindex);
	return 0;
}

static int cmd_peer(char **argv, bool add)
{
	struct mseg_cidr underlay, pod;
	struct mseg_vxlan_peer peer;
	struct mseg_nl *nl;
	int r, ifindex;

	if (parse(argv[2], &underlay) < 0 || parse(argv[3], &pod) < 0)
		return 2;
	r = mseg_vxlan_peer_init(&peer, &underlay, &pod);
	if (r < 0)
		return fail(r, "peer", argv[2]);
	r = mseg_nl_open(&nl);
	if (r < 0)
		return fail(r, "open netlink", "route");
	r = mseg_link_lookup(argv[1], &ifindex, NULL);
	if (r >= 0)
		r = add ? mseg_vxlan_peer_add(nl, ifindex, &peer)
			: mseg_vxlan_peer_del(nl, ifindex, &peer);
	mseg_nl_close(nl);
	return r < 0 ? fail(r, add ? "add peer" : "remove peer", argv[2]) : 0;
}

int main(int argc, char **argv)
{
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
	if (argc < 1)
		return usage();

	if (!strcmp(argv[0], "up") && (argc == 7 || argc == 8)) {
		return cmd_up(argv, argc);
	} else if (!strcmp(argv[0], "down") && argc == 2) {
		struct mseg_nl *nl;

		r = mseg_nl_open(&nl);
		if (r < 0)
			return fail(r, "open netlink", "route");
		r = mseg_vxlan_delete(nl, argv[1]);
		mseg_nl_close(nl);
		return r < 0 ? fail(r, "delete vxlan device", argv[1]) : 0;
	} else if (!strcmp(argv[0], "peer-add") && argc == 4) {
		return cmd_peer(argv, true);
	} else if (!strcmp(argv[0], "peer-del") && argc == 4) {
		return cmd_peer(argv, false);
	} else if (!strcmp(argv[0], "filter") && argc >= 2) {
		struct mseg_cidr nodes[64];
		unsigned long port;

		if (argc - 2 > (int)(sizeof(nodes) / sizeof(nodes[0])) ||
		    number(argv[1], 65535, &port) < 0)
			return 2;
		for (int i = 2; i < argc; i++)
			if (parse(argv[i], &nodes[i - 2]) < 0)
				return 2;
		r = mseg_overlay_filter_apply((uint16_t)port, nodes, (size_t)argc - 2);
		return r < 0 ? fail(r, "apply overlay filter", MSEG_OVERLAY_TABLE) : 0;
	} else if (!strcmp(argv[0], "filter-counter") && argc == 1) {
		uint64_t packets, bytes;

		r = mseg_overlay_filter_counter(&packets, &bytes);
		if (r < 0)
			return fail(r, "read counter", MSEG_OVERLAY_COUNTER);
		printf("packets %" PRIu64 " bytes %" PRIu64 "\n", packets, bytes);
		return 0;
	} else if (!strcmp(argv[0], "filter-remove") && argc == 1) {
		r = mseg_overlay_filter_remove();
		return r < 0 ? fail(r, "remove table", MSEG_OVERLAY_TABLE) : 0;
	} else if (!strcmp(argv[0], "pod-cidr") && argc == 3) {
		struct mseg_cidr cluster, pod, gw;
		char a[MSEG_CIDR_STRLEN], b[MSEG_CIDR_STRLEN];
		unsigned long index;
		uint8_t m[6];

		if (parse(argv[1], &cluster) < 0 || number(argv[2], UINT32_MAX, &index) < 0)
			return 2;
		r = mseg_vxlan_pod_cidr(&cluster, 24, (uint32_t)index, &pod, &gw);
		if (r < 0)
			return fail(r, "pod CIDR of index", argv[2]);
		mseg_vxlan_mac(&gw, m);
		printf("%s %s %02x:%02x:%02x:%02x:%02x:%02x\n", mseg_cidr_format(&pod, false, a),
		       mseg_cidr_format(&gw, true, b), m[0], m[1], m[2], m[3], m[4], m[5]);
		return 0;
	}
	return usage();
}
