// SPDX-License-Identifier: Apache-2.0
/*
 * The tc programs agree with the compiled table's own lookup (mseg_compiled_lookup, the
 * contract's oracle) on every truth-table policy file of tests/data: each file's policies go
 * through the real compiler and its incremental differences into the maps via apply(), then
 * every endpoint pair (and a few bare addresses) is probed on both hooks over TCP, UDP and
 * ICMP. Drops must name the oracle's decider; audits must be reported. Once with the node
 * default allow, once (after an agent "restart" that adopts and prunes) with --default-deny.
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/datapath_bpf_bench.h"
#include "policy/cidr.h"
#include "policy/parse.h"
#include "policy/topology.h"

#define MAX_EPS 16

static char bpf_dir[64];
static struct mseg_datapath *dp;
static int ifindex[MAX_EPS];
static struct mseg_dp_event last_events[8];
static size_t n_last;
static unsigned long probes, drops, audits;

static void collect(const struct mseg_dp_event *ev, void *userdata)
{
	if (n_last < 8)
		last_events[n_last++] = *ev;
}

static void mac_of(uint32_t id, uint8_t mac[6])
{
	memcpy(mac, (uint8_t[6]){2, 0, 0, 0, 1, (uint8_t)id}, 6);
}

/* One probe on one hook, checked against the oracle. */
static void probe(const struct mseg_compiled *c, const struct mseg_endpoint *self, uint8_t dir,
		  uint32_t src, uint32_t dst, const uint8_t smac[6], uint8_t proto, uint16_t port,
		  const char *file, bool default_deny)
{
	static uint16_t sport = 20000;
	struct mseg_bpf_pkt p = {.saddr = src, .daddr = dst, .proto = proto, .tcp_flags = 0x02};
	struct mseg_cidr remote = mseg_cidr_from_v4(dir == MSEG_DIR_EGRESS ? dst : src, 32);
	uint8_t buf[MSEG_BPF_PKT_MAX], verdict, audit;
	struct mseg_decider by;
	uint32_t ret;
	size_t len;

	assert_int_equal(
	    mseg_compiled_lookup(c, self->id, dir, &remote, proto, port, &verdict, &audit, &by), 0);
	memcpy(p.smac, smac, 6);
	if (++sport < 20000)
		sport = 20000; /* never one of the probed ports: no probe is another's reply */
	if (proto == MSEG_PROTO_ICMP) {
		p.sport = port >> 8;
		p.dport = port & 0xff;
		p.icmp_id = sport;
	} else {
		p.sport = sport;
		p.dport = port;
	}
	len = mseg_bpf_pkt_build(&p, buf);
	assert_int_equal(mseg_bpf_test_run(mseg_datapath_bpf_prog_fd(dp, dir), ifindex[self->id],
					   buf, len, 1, &ret, NULL),
			 0);
	n_last = 0;
	assert_true(mseg_datapath_bpf.events_read(dp, 1u << 20, collect, NULL) >= 0);
	probes++;
	if ((ret == 0) != (verdict == MSEG_VERDICT_ALLOW))
		fail_msg("%s%s: %s %s/%u at endpoint %u (%s/%s) remote %08x: bpf %s, table %s",
			 file, default_deny ? " --default-deny" : "", dir ? "egress" : "ingress",
			 proto == 6    ? "tcp"
			 : proto == 17 ? "udp"
				       : "icmp",
			 port, self->id, self->namespace, self->name, mseg_cidr_v4(&remote),
			 ret ? "drop" : "pass", verdict ? "allow" : "deny");
	if (verdict != MSEG_VERDICT_ALLOW) {
		drops++;
		assert_int_equal(n_last, 1);
		assert_int_equal(last_events[0].verdict, MSEG_EVENT_DROPPED);
		if (last_events[0].decided_by.kind != by.kind ||
		    last_events[0].decided_by.policy != by.policy ||
		    (by.kind == MSEG_DECIDED_RULE && (last_events[0].decided_by.rule != by.rule ||
						      last_events[0].decided_by.dir != by.dir)))
			fail_msg("%s: drop decided by {%d,%u,%u,%u}, table says {%d,%u,%u,%u}",
				 file, last_events[0].decided_by.kind,
				 last_events[0].decided_by.policy, last_events[0].decided_by.rule,
				 last_events[0].decided_by.dir, by.kind, by.policy, by.rule,
				 by.dir);
	} else {
		assert_int_equal(n_last, audit ? 1 : 0);
		if (audit) {
			audits++;
			assert_int_equal(last_events[0].verdict, MSEG_EVENT_AUDIT);
		}
	}
}

static void probe_all(const struct mseg_compiled *c, const struct mseg_topology *t,
		      const char *file, bool dd)
{
	static const uint32_t bare[] = {0x0ac80163, 0x0ac80263, 0x0ac90001, 0x08080808};
	static const struct {
		uint8_t proto;
		uint16_t port;
	} flows[] = {{6, 80}, {6, 81}, {6, 79}, {17, 80}, {17, 81}, {1, 0x0800}};
	uint8_t gw[6] = {2, 0, 0, 0, 0, 0xee};

	for (size_t i = 0; i < t->n_endpoints; i++) {
		const struct mseg_endpoint *a = &t->endpoints[i];
		uint8_t amac[6];

		mac_of(a->id, amac);
		for (size_t f = 0; f < sizeof(flows) / sizeof(flows[0]); f++) {
			for (size_t j = 0; j < t->n_endpoints; j++) {
				const struct mseg_endpoint *b = &t->endpoints[j];

				if (i == j)
					continue;
				probe(c, a, MSEG_DIR_EGRESS, mseg_cidr_v4(&a->ip),
				      mseg_cidr_v4(&b->ip), amac, flows[f].proto, flows[f].port,
				      file, dd);
				probe(c, b, MSEG_DIR_INGRESS, mseg_cidr_v4(&a->ip),
				      mseg_cidr_v4(&b->ip), gw, flows[f].proto, flows[f].port, file,
				      dd);
			}
			for (size_t k = 0; k < sizeof(bare) / sizeof(bare[0]); k++) {
				probe(c, a, MSEG_DIR_EGRESS, mseg_cidr_v4(&a->ip), bare[k], amac,
				      flows[f].proto, flows[f].port, file, dd);
				probe(c, a, MSEG_DIR_INGRESS, bare[k], mseg_cidr_v4(&a->ip), gw,
				      flows[f].proto, flows[f].port, file, dd);
			}
		}
	}
}

static void run_suite(const char *top, bool default_deny)
{
	struct mseg_compile_opts opts = {.default_deny = default_deny};
	struct mseg_datapath_config cfg = {.bpf_dir = bpf_dir};
	struct mseg_topology topo = {0};
	struct mseg_diag diag = {0};
	struct mseg_identities *ids = NULL;
	struct mseg_compiler *comp = NULL;
	char path[512];
	glob_t g;
	size_t tested = 0;

	snprintf(path, sizeof(path), "%s/tests/data/topology.yaml", top);
	assert_int_equal(mseg_topology_load(path, &topo, &diag), 0);
	assert_true(topo.n_endpoints < MAX_EPS);
	assert_int_equal(mseg_identities_new(&ids), 0);
	assert_int_equal(mseg_compiler_new(&comp, ids, &opts), 0);
	/* A fresh agent per suite: open() adopts the previous suite's maps, and the first
	 * apply() must prune whatever that suite left behind. */
	assert_int_equal(mseg_datapath_bpf.open(&cfg, &dp), 0);

	snprintf(path, sizeof(path), "%s/tests/data/{k8s,mseg}/*.yaml", top);
	assert_int_equal(glob(path, GLOB_BRACE, NULL, &g), 0);
	for (size_t f = 0; f < g.gl_pathc; f++) {
		struct mseg_policy_set set = {0};
		struct mseg_table_diff diff;
		const struct mseg_compiled *c;

		if (mseg_policy_load(&g.gl_pathv[f], 1, &set, &diag) < 0) {
			mseg_diag_free(&diag);
			continue; /* not a valid policy file: nothing to compare */
		}
		assert_int_equal(mseg_compiler_update(comp, &topo, &set, &diff), 0);
		assert_int_equal(mseg_datapath_bpf.apply(dp, &diff), 0);
		mseg_table_diff_free(&diff);
		c = mseg_compiler_table(comp);
		for (size_t i = 0; i < topo.n_endpoints; i++) {
			struct mseg_dp_endpoint ep = {.id = topo.endpoints[i].id,
						      .ifindex = ifindex[topo.endpoints[i].id],
						      .ip = topo.endpoints[i].ip,
						      .identity = c->endpoint_identity[i]};

			mac_of(ep.id, ep.mac);
			assert_int_equal(mseg_datapath_bpf_endpoint_put(dp, &ep), 0);
		}
		probe_all(c, &topo, g.gl_pathv[f], default_deny);
		mseg_policy_set_free(&set);
		tested++;
	}
	globfree(&g);
	assert_true(tested >= 20);
	mseg_datapath_bpf.close(dp);
	dp = NULL;
	mseg_compiler_free(comp);
	mseg_identities_free(ids);
	mseg_topology_free(&topo);
}

static void test_agrees_with_compiled_table(void **state)
{
	const char *top = getenv("MSEG_TOP") ? getenv("MSEG_TOP") : ".";
	char path[512];
	int r;

	if (geteuid() != 0) {
		print_message("skipping: needs root for BPF and namespaces\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/tests/data/topology.yaml", top);
	if (access(path, R_OK) != 0)
		fail_msg("cannot read %s: run from the repository root or set MSEG_TOP", path);
	r = mseg_bpf_sandbox_enter(bpf_dir, sizeof(bpf_dir));
	if (r < 0) {
		print_message("skipping: no private namespace with a bpffs: %s\n", strerror(-r));
		skip();
	}
	for (int i = 1; i < MAX_EPS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "mag%d", i);
		ifindex[i] = mseg_bpf_sandbox_veth(name);
		assert_true(ifindex[i] > 0);
	}
	run_suite(top, false);
	run_suite(top, true);
	print_message("%lu probes, %lu drops, %lu audits agreed\n", probes, drops, audits);
	assert_true(drops > 100 && audits > 0 && probes - drops > 100);
	{
		struct mseg_datapath_config cfg = {.bpf_dir = bpf_dir};

		mseg_datapath_bpf.purge(&cfg);
	}
	mseg_bpf_sandbox_leave(bpf_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agrees_with_compiled_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
