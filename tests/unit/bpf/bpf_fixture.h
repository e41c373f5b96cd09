/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture the BPF_PROG_TEST_RUN tests share (include it after cmocka.h): a private
 * network and bpffs sandbox (agent/datapath_bpf_bench.h) with veths, the bpf backend opened
 * in it, endpoints put straight into its maps, and the events it reports. A test that cannot
 * run here (no root, no sandbox, no BPF) is skipped with the reason, not failed.
 */
#ifndef MSEG_TESTS_UNIT_BPF_FIXTURE_H
#define MSEG_TESTS_UNIT_BPF_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/datapath_bpf_bench.h"
#include "policy/cidr.h"

static char skip_why[128];
static char bpf_dir[64];
static struct mseg_datapath *dp;

#define MAX_EVENTS 64
static struct mseg_dp_event events[MAX_EVENTS];
static size_t n_events;

static void collect(const struct mseg_dp_event *ev, void *userdata)
{
	(void)userdata;
	if (n_events < MAX_EVENTS)
		events[n_events++] = *ev;
}

/* Replaces events[] with what the datapath reported since the last call. */
static void drain_events(void)
{
	n_events = 0;
	assert_true(mseg_datapath_bpf.events_read(dp, 1u << 20, collect, NULL) >= 0);
}

/* Enters the sandbox and creates one veth per name (ifindex[i]); 0, or -1 with skip_why. */
static int fixture_enter(const char *const *names, int *ifindex, size_t n)
{
	int r;

	if (geteuid() != 0) {
		snprintf(skip_why, sizeof(skip_why), "needs root for BPF and namespaces");
		return -1;
	}
	r = mseg_bpf_sandbox_enter(bpf_dir, sizeof(bpf_dir));
	if (r < 0) {
		snprintf(skip_why, sizeof(skip_why), "no sandbox (unshare/bpffs): %s",
			 strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		ifindex[i] = mseg_bpf_sandbox_veth(names[i]);
		if (ifindex[i] < 0) {
			snprintf(skip_why, sizeof(skip_why), "cannot create veth interfaces");
			return -1;
		}
	}
	return 0;
}

/* Opens the bpf backend in the sandbox; 0, or -1 with skip_why. */
static int fixture_open(void)
{
	struct mseg_datapath_config cfg = {.bpf_dir = bpf_dir};
	int r = mseg_datapath_bpf.open(&cfg, &dp);

	if (r < 0) {
		snprintf(skip_why, sizeof(skip_why), "cannot load the BPF object: %s",
			 strerror(-r));
		return -1;
	}
	return 0;
}

static int endpoint_add(uint32_t id, int ifindex, uint32_t ip, const uint8_t *mac, uint32_t ident)
{
	struct mseg_dp_endpoint ep = {.id = id, .ifindex = ifindex, .identity = ident};

	ep.ip = mseg_cidr_from_v4(ip, 32);
	memcpy(ep.mac, mac, 6);
	return mseg_datapath_bpf_endpoint_put(dp, &ep);
}

static int teardown(void **state)
{
	struct mseg_datapath_config cfg = {.bpf_dir = bpf_dir};

	(void)state;
	if (dp) {
		mseg_datapath_bpf.close(dp);
		mseg_datapath_bpf.purge(&cfg);
	}
	mseg_bpf_sandbox_leave(bpf_dir);
	return 0;
}

#define NEED_BPF()                                                                                 \
	do {                                                                                       \
		if (skip_why[0]) {                                                                 \
			print_message("skipping: %s\n", skip_why);                                 \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

#endif
