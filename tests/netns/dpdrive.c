// SPDX-License-Identifier: Apache-2.0
/*
 * dpdrive: programs a datapath backend from an endpoints file and policy files, without the
 * agent, so that namespace tests can send real packets through real enforcement.
 *
 *   dpdrive --datapath nft|bpf [--default-deny] [--group N] [--bpf-dir DIR]
 *           --endpoints FILE [-f POLICY]... [--attach NS/NAME=HOSTIF,MAC]... [--serve]
 *           [--timing]
 *   dpdrive --datapath nft|bpf [--bpf-dir DIR] --purge
 *
 * Without --serve it applies the compiled table, attaches the endpoints and exits (the
 * enforcement stays). With --serve it then reads commands from stdin, one per line, and
 * answers "ok" or "error: ..." on stdout:
 *   apply FILE...    recompile with these policy files (compiler update) and apply the diff
 *   detach NS/NAME   detach one endpoint
 *   events MS        print the events that arrive within MS milliseconds, as JSON lines
 *   quit
 * Run it inside the node namespace (ip netns exec).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/datapath.h"
#include "agent/datapath_nft.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/compile.h"
#include "policy/diag.h"
#include "policy/parse.h"
#include "policy/topology.h"

struct attach {
	char ns[64], name[64], ifname[IF_NAMESIZE];
	uint8_t mac[6];
};

struct drive {
	bool timing; /* --timing: how long each backend call took, on stderr */
	const struct mseg_datapath_ops *ops;
	struct mseg_datapath *dp;
	struct mseg_topology topo;
	struct mseg_identities *ids;
	struct mseg_compiler *compiler;
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

		fprintf(stderr, "dpdrive: %s\n", s ? s : "(out of memory)");
	}
}

static int load_policies(char **files, size_t n, struct mseg_policy_set *set)
{
	struct mseg_diag diag = {0};
	int r = mseg_policy_load(files, n, set, &diag);

	if (r < 0)
		print_diag(&diag);
	mseg_diag_free(&diag);
	return r;
}

static const char *backend_error(const struct drive *dr)
{
	if (dr->ops == &mseg_datapath_nft && dr->dp)
		return mseg_datapath_nft_error(dr->dp);
	return "";
}

static int apply_files(struct drive *dr, char **files, size_t n)
{
	struct mseg_policy_set set = {0};
	struct mseg_table_diff diff = {0};
	int r;

	r = load_policies(files, n, &set);
	if (r < 0)
		return r;
	r = mseg_compiler_update(dr->compiler, &dr->topo, &set, &diff);
	if (r < 0)
		fprintf(stderr, "dpdrive: compiling: %s\n", strerror(-r));
	else {
		double t0 = now_ms();

		r = dr->ops->apply(dr->dp, &diff);
		if (dr->timing)
			fprintf(stderr, "timing: apply %zu added, %zu removed: %.3f ms\n",
				diff.n_added, diff.n_removed, now_ms() - t0);
		if (r < 0)
			fprintf(stderr, "dpdrive: applying (%zu added, %zu removed): %s: %s\n",
				diff.n_added, diff.n_removed, strerror(-r), backend_error(dr));
	}
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

static const struct mseg_endpoint *find_endpoint(const struct drive *dr, const char *ns,
						 const char *name, size_t *idx)
{
	for (size_t i = 0; i < dr->topo.n_endpoints; i++)
		if (!strcmp(dr->topo.endpoints[i].namespace, ns) &&
		    !strcmp(dr->topo.endpoints[i].name, name)) {
			*idx = i;
			return &dr->topo.endpoints[i];
		}
	return NULL;
}

static int do_attach(struct drive *dr, const struct attach *a)
{
	const struct mseg_compiled *t = mseg_compiler_table(dr->compiler);
	struct mseg_dp_endpoint ep = {0};
	size_t idx;
	const struct mseg_endpoint *e = find_endpoint(dr, a->ns, a->name, &idx);
	int r;

	if (!e) {
		fprintf(stderr, "dpdrive: endpoint '%s/%s' is not in the endpoints file\n", a->ns,
			a->name);
		return -ENOENT;
	}
	ep.id = e->id;
	ep.ifindex = (int)if_nametoindex(a->ifname);
	if (!ep.ifindex) {
		r = -errno;
		fprintf(stderr, "dpdrive: interface '%s': %s\n", a->ifname, strerror(-r));
		return r;
	}
	snprintf(ep.ifname, sizeof(ep.ifname), "%s", a->ifname);
	ep.ip = e->ip;
	memcpy(ep.mac, a->mac, 6);
	ep.identity = t && idx < t->n_endpoints ? t->endpoint_identity[idx] : 0;
	snprintf(ep.namespace, sizeof(ep.namespace), "%s", e->namespace);
	snprintf(ep.name, sizeof(ep.name), "%s", e->name);
	double t0 = now_ms();
	r = dr->ops->endpoint_attach(dr->dp, &ep);
	if (dr->timing && r == 0)
		fprintf(stderr, "timing: attach %s/%s: %.3f ms\n", a->ns, a->name, now_ms() - t0);
	if (r < 0)
		fprintf(stderr, "dpdrive: attaching '%s/%s' on '%s': %s: %s\n", a->ns, a->name,
			a->ifname, strerror(-r), backend_error(dr));
	return r;
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case MSEG_DECIDED_RULE:
		return "rule";
	case MSEG_DECIDED_ISOLATION:
		return "isolation";
	case MSEG_DECIDED_DEFAULT:
		return "default";
	}
	return "none";
}

static void print_event(const struct mseg_dp_event *ev, void *userdata)
{
	char s[MSEG_CIDR_STRLEN], d[MSEG_CIDR_STRLEN];
	static const char *const verdicts[] = {"forwarded", "dropped", "audit"};

	printf("{\"endpoint\":%u,\"dir\":\"%s\",\"verdict\":\"%s\",\"reason\":%u,\"proto\":%u,"
	       "\"saddr\":\"%s\",\"daddr\":\"%s\",\"sport\":%u,\"dport\":%u,"
	       "\"src_identity\":%u,\"dst_identity\":%u,"
	       "\"decided_by\":{\"kind\":\"%s\",\"policy\":%u,\"rule\":%u,\"dir\":\"%s\"},"
	       "\"pkt_len\":%u}\n",
	       ev->endpoint, ev->dir == 0 ? "ingress" : "egress",
	       ev->verdict < 3 ? verdicts[ev->verdict] : "?", ev->reason, ev->proto,
	       ev->saddr.family ? mseg_cidr_format(&ev->saddr, true, s) : "",
	       ev->daddr.family ? mseg_cidr_format(&ev->daddr, true, d) : "", ev->sport, ev->dport,
	       ev->src_identity, ev->dst_identity, kind_name(ev->decided_by.kind),
	       ev->decided_by.policy, ev->decided_by.rule,
	       ev->decided_by.dir == 0 ? "ingress" : "egress", ev->pkt_len);
}

static int do_events(struct drive *dr, long ms)
{
	struct timespec start, now;
	int fd = dr->ops->event_fd(dr->dp), r;

	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		r = dr->ops->events_read(dr->dp, 1u << 20, print_event, NULL);
		if (r < 0 && r != -ENOBUFS)
			return r;
		fflush(stdout);
	}
}

static int serve(struct drive *dr)
{
	char *line = NULL;
	size_t cap = 0;
	int r;

	while (getline(&line, &cap, stdin) > 0) {
		char *argv[64], *save = NULL;
		size_t argc = 0;

		for (char *t = strtok_r(line, " \t\n", &save); t && argc < ARRAY_SIZE(argv);
		     t = strtok_r(NULL, " \t\n", &save))
			argv[argc++] = t;
		if (argc == 0)
			continue;
		if (!strcmp(argv[0], "quit"))
			break;
		if (!strcmp(argv[0], "apply"))
			r = apply_files(dr, argv + 1, argc - 1);
		else if (!strcmp(argv[0], "events") && argc == 2)
			r = do_events(dr, strtol(argv[1], NULL, 10));
		else if (!strcmp(argv[0], "detach") && argc == 2) {
			char *slash = strchr(argv[1], '/');
			size_t idx;
			const struct mseg_endpoint *e = NULL;

			if (slash) {
				*slash = '\0';
				e = find_endpoint(dr, argv[1], slash + 1, &idx);
			}
			r = e ? dr->ops->endpoint_detach(dr->dp, e->id) : -ENOENT;
		} else
			r = -EINVAL;
		if (r < 0)
			printf("error: %s %s\n", strerror(-r), backend_error(dr));
		else
			printf("ok\n");
		fflush(stdout);
	}
	free(line);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dpdrive --datapath nft|bpf [--default-deny] [--group N] [--bpf-dir DIR]\n"
		"               --endpoints FILE [-f POLICY]... [--attach NS/NAME=HOSTIF,MAC]...\n"
		"               [--serve] [--timing]\n"
		"       dpdrive --datapath nft|bpf [--bpf-dir DIR] --purge\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"datapath", required_argument, NULL, 'd'},
	    {"default-deny", no_argument, NULL, 'D'},
	    {"group", required_argument, NULL, 'g'},
	    {"endpoints", required_argument, NULL, 'e'},
	    {"file", required_argument, NULL, 'f'},
	    {"attach", required_argument, NULL, 'a'},
	    {"purge", no_argument, NULL, 'P'},
	    {"serve", no_argument, NULL, 's'},
	    {"bpf-dir", required_argument, NULL, 'b'},
	    {"timing", no_argument, NULL, 't'},
	    {},
	};
	struct mseg_datapath_config cfg = {.nflog_group = 7};
	struct mseg_compile_opts copts = {0};
	struct drive dr = {0};
	_cleanup_free_ char **files = calloc((size_t)argc, sizeof(char *));
	_cleanup_free_ struct attach *att = calloc((size_t)argc, sizeof(*att));
	size_t n_files = 0, n_att = 0;
	const char *endpoints = NULL, *datapath = NULL;
	bool purge = false, do_serve = false;
	int c, r = 0;

	if (!files || !att)
		return 1;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			datapath = optarg;
			break;
		case 'D':
			cfg.default_deny = copts.default_deny = true;
			break;
		case 'g':
			cfg.nflog_group = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'e':
			endpoints = optarg;
			break;
		case 'f':
			files[n_files++] = optarg;
			break;
		case 'a':
			if (parse_attach(optarg, &att[n_att]) < 0) {
				fprintf(stderr, "dpdrive: --attach '%s': want NS/NAME=HOSTIF,MAC\n",
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
		case 'b':
			cfg.bpf_dir = optarg;
			break;
		case 't':
			dr.timing = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (datapath && !strcmp(datapath, "nft"))
		dr.ops = &mseg_datapath_nft;
	else if (datapath && !strcmp(datapath, "bpf"))
		dr.ops = &mseg_datapath_bpf;
	else {
		fprintf(stderr, "dpdrive: --datapath '%s': want nft or bpf\n",
			datapath ? datapath : "");
		return 2;
	}
	if (purge) {
		r = dr.ops->purge(&cfg);
		if (r < 0)
			fprintf(stderr, "dpdrive: purge: %s\n", strerror(-r));
		return r < 0 ? 1 : 0;
	}
	if (!endpoints) {
		usage();
		return 2;
	}
	struct mseg_diag diag = {0};
	r = mseg_topology_load(endpoints, &dr.topo, &diag);
	if (r < 0) {
		print_diag(&diag);
		mseg_diag_free(&diag);
		return 1;
	}
	r = mseg_identities_new(&dr.ids);
	if (r == 0)
		r = mseg_compiler_new(&dr.compiler, dr.ids, &copts);
	if (r == 0) {
		r = dr.ops->open(&cfg, &dr.dp);
		if (r < 0)
			fprintf(stderr, "dpdrive: opening the %s datapath: %s\n", datapath,
				strerror(-r));
	}
	if (r == 0)
		r = apply_files(&dr, files, n_files);
	for (size_t i = 0; i < n_att && r == 0; i++)
		r = do_attach(&dr, &att[i]);
	if (r == 0 && do_serve) {
		printf("ready\n");
		fflush(stdout);
		r = serve(&dr);
	}
	if (dr.dp)
		dr.ops->close(dr.dp);
	mseg_compiler_free(dr.compiler);
	mseg_identities_free(dr.ids);
	mseg_topology_free(&dr.topo);
	return r < 0 ? 1 : 0;
}
