// SPDX-License-Identifier: Apache-2.0
/*
 * dp-load: programs mseg's real datapath (either backend) from an endpoints file and policy
 * files without the agent, timing each stage, so that the benchmarks can put mseg eBPF and mseg
 * nft on a real packet path before `mseg apply` drives the agent's datapath.
 *
 *   dp-load --datapath bpf|nft [--bpf-dir DIR] --endpoints FILE [-f POLICY]...
 *           [--attach NS/NAME=HOSTIF,MAC]... [--serve]
 *   dp-load --datapath bpf|nft [--bpf-dir DIR] --purge
 *
 * It runs inside the node namespace (ip netns exec). Without --serve it compiles, applies the
 * table, attaches the endpoints, prints one line
 *   "parse_ms=.. compile_ms=.. apply_ms=.. attach_ms=.. entries=N"
 * and exits; enforcement stays (pins in DIR for bpf, table inet mseg for nft) until --purge.
 * With --serve it then reads "apply FILE..." (a compiler update and the diff, as the agent
 * will do on a policy change) or "quit" from stdin and answers with the same timing line, or
 * "error: ...". The per-stage work is the same calls the nft test driver (tests/netns/dpdrive.c)
 * makes; this one adds the bpf backend and the timings.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/datapath.h"
#include "lib/macro.h"
#include "policy/compile.h"
#include "policy/diag.h"
#include "policy/parse.h"
#include "policy/topology.h"

struct attach {
	char ns[64], name[64], ifname[IF_NAMESIZE];
	uint8_t mac[6];
};

struct loader {
	const struct mseg_datapath_ops *ops;
	struct mseg_datapath *dp;
	struct mseg_topology topo;
	struct mseg_identities *ids;
	struct mseg_compiler *compiler;
	double parse_ms, compile_ms, apply_ms, attach_ms;
	size_t entries;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_diag(const struct mseg_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		_cleanup_free_ char *s = mseg_diag_entry_format(&d->items[i]);

		fprintf(stderr, "dp-load: %s\n", s ? s : "(out of memory)");
	}
}

static int apply_files(struct loader *l, char **files, size_t n)
{
	struct mseg_policy_set set = {0};
	struct mseg_table_diff diff = {0};
	struct mseg_diag diag = {0};
	double t0 = now_ms(), t1, t2;
	int r;

	r = mseg_policy_load(files, n, &set, &diag);
	if (r < 0) {
		print_diag(&diag);
		mseg_diag_free(&diag);
		return r;
	}
	mseg_diag_free(&diag);
	t1 = now_ms();
	r = mseg_compiler_update(l->compiler, &l->topo, &set, &diff);
	t2 = now_ms();
	if (r < 0) {
		fprintf(stderr, "dp-load: compiling: %s\n", strerror(-r));
	} else {
		r = l->ops->apply(l->dp, &diff);
		if (r < 0)
			fprintf(stderr, "dp-load: applying (%zu added, %zu removed) to %s: %s\n",
				diff.n_added, diff.n_removed, l->ops->name, strerror(-r));
		l->entries = diff.n_added;
	}
	l->parse_ms = t1 - t0;
	l->compile_ms = t2 - t1;
	l->apply_ms = now_ms() - t2;
	mseg_table_diff_free(&diff);
	mseg_policy_set_free(&set);
	return r;
}

static int parse_attach(const char *s, struct attach *a)
{
	const char *slash = strchr(s, '/'), *eq = strchr(s, '='), *comma = strchr(s, ',');
	unsigned m[6];

	if (!slash || !eq || !comma || slash > eq || eq > comma ||
	    (size_t)(slash - s) >= sizeof(a->ns) || (size_t)(eq - slash - 1) >= sizeof(a->name) ||
	    (size_t)(comma - eq - 1) >= sizeof(a->ifname))
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	memcpy(a->ns, s, (size_t)(slash - s));
	memcpy(a->name, slash + 1, (size_t)(eq - slash - 1));
	memcpy(a->ifname, eq + 1, (size_t)(comma - eq - 1));
	if (sscanf(comma + 1, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (m[i] > 255)
			return -EINVAL;
		a->mac[i] = (uint8_t)m[i];
	}
	return 0;
}

static int do_attach(struct loader *l, const struct attach *a)
{
	const struct mseg_compiled *t = mseg_compiler_table(l->compiler);
	struct mseg_dp_endpoint ep = {0};
	const struct mseg_endpoint *e = NULL;
	size_t idx = 0;
	int r;

	for (size_t i = 0; i < l->topo.n_endpoints && !e; i++)
		if (!strcmp(l->topo.endpoints[i].namespace, a->ns) &&
		    !strcmp(l->topo.endpoints[i].name, a->name)) {
			e = &l->topo.endpoints[i];
			idx = i;
		}
	if (!e) {
		fprintf(stderr, "dp-load: endpoint '%s/%s' is not in the endpoints file\n", a->ns,
			a->name);
		return -ENOENT;
	}
	ep.id = e->id;
	ep.ifindex = (int)if_nametoindex(a->ifname);
	if (!ep.ifindex) {
		r = -errno;
		fprintf(stderr, "dp-load: interface '%s': %s\n", a->ifname, strerror(-r));
		return r;
	}
	snprintf(ep.ifname, sizeof(ep.ifname), "%s", a->ifname);
	ep.ip = e->ip;
	memcpy(ep.mac, a->mac, 6);
	ep.identity = t && idx < t->n_endpoints ? t->endpoint_identity[idx] : 0;
	snprintf(ep.namespace, sizeof(ep.namespace), "%s", e->namespace);
	snprintf(ep.name, sizeof(ep.name), "%s", e->name);
	r = l->ops->endpoint_attach(l->dp, &ep);
	if (r < 0)
		fprintf(stderr, "dp-load: attaching '%s/%s' on '%s': %s\n", a->ns, a->name,
			a->ifname, strerror(-r));
	return r;
}

static void print_times(const struct loader *l)
{
	printf("parse_ms=%.3f compile_ms=%.3f apply_ms=%.3f attach_ms=%.3f entries=%zu\n",
	       l->parse_ms, l->compile_ms, l->apply_ms, l->attach_ms, l->entries);
	fflush(stdout);
}

static int serve(struct loader *l)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, stdin) > 0) {
		char *argv[64], *save = NULL;
		size_t argc = 0;
		int r;

		for (char *t = strtok_r(line, " \t\n", &save); t && argc < ARRAY_SIZE(argv);
		     t = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = t;
		if (argc == 0)
			continue;
		if (!strcmp(argv[0], "quit"))
			break;
		if (strcmp(argv[0], "apply") != 0) {
			printf("error: unknown command '%s' (apply FILE..., quit)\n", argv[0]);
			fflush(stdout);
			continue;
		}
		l->attach_ms = 0;
		r = apply_files(l, argv + 1, argc - 1);
		if (r < 0) {
			printf("error: %s\n", strerror(-r));
			fflush(stdout);
		} else {
			print_times(l);
		}
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: dp-load --datapath bpf|nft [--bpf-dir DIR] --endpoints FILE\n"
			"               [-f POLICY]... [--attach NS/NAME=HOSTIF,MAC]... [--serve]\n"
			"       dp-load --datapath bpf|nft [--bpf-dir DIR] --purge\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"datapath", required_argument, NULL, 'd'},
	    {"bpf-dir", required_argument, NULL, 'b'},
	    {"endpoints", required_argument, NULL, 'e'},
	    {"file", required_argument, NULL, 'f'},
	    {"attach", required_argument, NULL, 'a'},
	    {"purge", no_argument, NULL, 'P'},
	    {"serve", no_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct mseg_datapath_config cfg = {.nflog_group = 7};
	struct mseg_compile_opts copts = {0};
	struct loader l = {0};
	_cleanup_free_ char **files = calloc((size_t)argc, sizeof(char *));
	_cleanup_free_ struct attach *att = calloc((size_t)argc, sizeof(*att));
	size_t n_files = 0, n_att = 0;
	const char *endpoints = NULL, *datapath = NULL;
	bool purge = false, do_serve = false;
	struct mseg_diag diag = {0};
	int c, r = 0;

	if (!files || !att)
		return 1;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			datapath = optarg;
			break;
		case 'b':
			cfg.bpf_dir = optarg;
			break;
		case 'e':
			endpoints = optarg;
			break;
		case 'f':
			files[n_files++] = optarg;
			break;
		case 'a':
			if (parse_attach(optarg, &att[n_att]) < 0) {
				fprintf(stderr, "dp-load: --attach '%s': want NS/NAME=HOSTIF,MAC\n",
					optarg);
				return 2;
			}
			n_att++;
			break;
		case 'P':
			purge = true;
			break;
		case 's':
			do_serve = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (datapath && !strcmp(datapath, "bpf")) {
		l.ops = &mseg_datapath_bpf;
	} else if (datapath && !strcmp(datapath, "nft")) {
		l.ops = &mseg_datapath_nft;
	} else {
		fprintf(stderr, "dp-load: --datapath '%s' is not bpf or nft\n",
			datapath ? datapath : "");
		return 2;
	}
	if (l.ops == &mseg_datapath_bpf && !cfg.bpf_dir) {
		/* The default would be the host's /sys/fs/bpf/mseg: never guess it in a benchmark.
		 */
		fprintf(stderr, "dp-load: --datapath bpf needs --bpf-dir\n");
		return 2;
	}
	if (purge) {
		r = l.ops->purge(&cfg);
		if (r < 0)
			fprintf(stderr, "dp-load: purge: %s\n", strerror(-r));
		return r < 0 ? 1 : 0;
	}
	if (!endpoints) {
		usage();
		return 2;
	}
	r = mseg_topology_load(endpoints, &l.topo, &diag);
	if (r < 0) {
		print_diag(&diag);
		mseg_diag_free(&diag);
		return 1;
	}
	mseg_diag_free(&diag);
	r = mseg_identities_new(&l.ids);
	if (r == 0)
		r = mseg_compiler_new(&l.compiler, l.ids, &copts);
	if (r == 0) {
		r = l.ops->open(&cfg, &l.dp);
		if (r < 0)
			fprintf(stderr, "dp-load: opening the %s datapath: %s\n", l.ops->name,
				strerror(-r));
	}
	if (r == 0)
		r = apply_files(&l, files, n_files);
	if (r == 0) {
		double t0 = now_ms();

		for (size_t i = 0; i < n_att && r == 0; i++)
			r = do_attach(&l, &att[i]);
		l.attach_ms = now_ms() - t0;
	}
	if (r == 0) {
		print_times(&l);
		if (do_serve)
			r = serve(&l);
	}
	if (l.dp)
		l.ops->close(l.dp);
	mseg_compiler_free(l.compiler);
	mseg_identities_free(l.ids);
	mseg_topology_free(&l.topo);
	return r < 0 ? 1 : 0;
}
