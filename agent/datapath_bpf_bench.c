// SPDX-License-Identifier: Apache-2.0
/*
 * Crafted packets through BPF_PROG_TEST_RUN, and the verdict cost benchmark: what the
 * programs cost per packet as the policy map grows from 10 to 100,000 entries, net of the
 * empty program measured in the same run (so the test-run harness itself is not counted).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include "agent/datapath_bpf_bench.h"
#include "build/bpf/empty.skel.h"
#include "macro.h"
#include "policy/cidr.h"

/* ---- packets ----------------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

uint16_t mseg_bpf_ip_csum(const uint8_t *ip)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		if (i != 10)
			sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t mseg_bpf_pkt_build(const struct mseg_bpf_pkt *p, uint8_t *buf)
{
	size_t l4len, len;
	uint8_t *ip = buf + 14, *l4 = ip + 20;

	memset(buf, 0, MSEG_BPF_PKT_MAX);
	memcpy(buf, p->dmac, 6);
	memcpy(buf + 6, p->smac, 6);
	put16(buf + 12, p->ethertype ? p->ethertype : 0x0800);

	switch (p->proto) {
	case 6:
		l4len = 20;
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		l4[12] = 5 << 4;
		l4[13] = p->tcp_flags;
		break;
	case 17:
	case 132:
		l4len = 8;
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
		if (p->proto == 17)
			put16(l4 + 4, (uint16_t)(8 + p->payload));
		break;
	case 1:
		l4len = 8;
		l4[0] = (uint8_t)p->sport;
		l4[1] = (uint8_t)p->dport;
		put16(l4 + 4, p->icmp_id);
		break;
	default:
		l4len = 0;
	}
	len = 14 + 20 + l4len + p->payload;
	if (len > MSEG_BPF_PKT_MAX)
		len = MSEG_BPF_PKT_MAX;
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(len - 14));
	put16(ip + 6, p->frag_off);
	ip[8] = 64;
	ip[9] = p->proto;
	put32(ip + 12, p->saddr);
	put32(ip + 16, p->daddr);
	put16(ip + 10, mseg_bpf_ip_csum(ip));
	return len;
}

size_t mseg_bpf_arp_build(const uint8_t smac[6], uint16_t op, const uint8_t sha[6], uint32_t spa,
			  uint32_t tpa, uint8_t *buf)
{
	uint8_t *a = buf + 14;

	memset(buf, 0, 60);
	memset(buf, 0xff, 6);
	memcpy(buf + 6, smac, 6);
	put16(buf + 12, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, spa);
	put32(a + 24, tpa);
	return 60;
}

int mseg_bpf_test_run(int prog_fd, int ifindex, const void *pkt, size_t len, uint32_t repeat,
		      uint32_t *retval, uint32_t *ns)
{
	struct __sk_buff ctx = {.ifindex = (uint32_t)ifindex};
	uint8_t out[MSEG_BPF_PKT_MAX + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o) < 0)
		return -errno;
	if (retval)
		*retval = o.retval;
	if (ns)
		*ns = o.duration;
	return 0;
}

/* ---- sandbox ----------------------------------------------------------------------- */

int mseg_bpf_sandbox_enter(char *dir, size_t size)
{
	if (size < 32)
		return -EINVAL;
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		return -errno;
	/* Our mounts must not propagate back into the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	snprintf(dir, size, "/tmp/mseg-bpf.XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	if (mount("bpf", dir, "bpf", 0, "mode=0700") < 0) {
		int r = -errno;

		rmdir(dir);
		return r;
	}
	if (system("ip link set lo up") != 0)
		return -EIO;
	return 0;
}

int mseg_bpf_sandbox_veth(const char *name)
{
	char cmd[128];
	unsigned idx;

	snprintf(
	    cmd, sizeof(cmd),
	    "ip link add %s type veth peer name %s-p && ip link set %s up && ip link set %s-p up",
	    name, name, name, name);
	if (system(cmd) != 0)
		return -EIO;
	idx = if_nametoindex(name);
	return idx ? (int)idx : -ENODEV;
}

void mseg_bpf_sandbox_leave(const char *dir)
{
	if (!dir || !*dir)
		return;
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* ---- the benchmark ----------------------------------------------------------------- */

#define BENCH_EP 1u
#define BENCH_EP_IP 0x0a000001u /* 10.0.0.1 */
#define BENCH_CLASS0 1000u
#define BENCH_PEER_NET 0x0ac80001u /* 10.200.0.1 + class index */
#define BENCH_CLIENT_PORT 40000
#define BENCH_SRC_EP 2u /* the local kind's sender: the allowed peer, as a local endpoint */
#define BENCH_SRC_IF "mbsrc"
static const uint8_t bench_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0x02};

const char *mseg_bpf_bench_kind_name(int kind)
{
	static const char *const names[MSEG_BENCH_KINDS] = {"allowed", "denied", "reply", "local"};

	return kind >= 0 && kind < MSEG_BENCH_KINDS ? names[kind] : "?";
}

/*
 * n rules for one endpoint's ingress: ten per remote class (so n / 10 classes, each with an
 * ipcache /32), TCP, alternating single ports and ten-port ranges.
 */
static int bench_table(uint32_t n, struct mseg_table_diff *d)
{
	uint32_t classes = n / 10 ? n / 10 : 1;
	static struct mseg_endpoint_default defs[2][2];

	memset(d, 0, sizeof(*d));
	d->added = calloc(n, sizeof(*d->added));
	d->ipcache_added = calloc(classes, sizeof(*d->ipcache_added));
	if (!d->added || !d->ipcache_added)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint16_t lo = (uint16_t)(1000 + (i % 10) * 100);

		d->added[i] = (struct mseg_table_entry){
		    .endpoint = BENCH_EP,
		    .dir = MSEG_DIR_INGRESS,
		    .proto = MSEG_PROTO_TCP,
		    .port_lo = lo,
		    .port_hi = (uint16_t)(lo + (i % 2 ? 9 : 0)),
		    .remote = BENCH_CLASS0 + i / 10,
		    .verdict = MSEG_VERDICT_ALLOW,
		    .decided_by = {.kind = MSEG_DECIDED_RULE,
				   .policy = 1 + i / 10,
				   .rule = (uint16_t)(i % 10),
				   .dir = MSEG_DIR_INGRESS},
		};
	}
	d->n_added = n;
	for (uint32_t c = 0; c < classes; c++)
		d->ipcache_added[c] = (struct mseg_ipcache_entry){
		    .prefix = mseg_cidr_from_v4(BENCH_PEER_NET + c, 32),
		    .identity = BENCH_CLASS0 + c,
		    .class = BENCH_CLASS0 + c,
		};
	d->n_ipcache_added = classes;
	for (int dir = 0; dir < 2; dir++) {
		/* Isolated both ways: the denied packet walks every lookup down to the default,
		 * and the reply can only pass through conntrack. */
		defs[dir][0] = (struct mseg_endpoint_default){
		    .endpoint = BENCH_EP,
		    .verdict = MSEG_VERDICT_DENY,
		    .decided_by = {.kind = MSEG_DECIDED_ISOLATION, .policy = 1, .dir = dir},
		};
		/* The local sender is selected by nothing: the node's default (allow) after every
		 * lookup, as a client without policies of its own. */
		defs[dir][1] = (struct mseg_endpoint_default){
		    .endpoint = BENCH_SRC_EP,
		    .verdict = MSEG_VERDICT_ALLOW,
		    .decided_by = {.kind = MSEG_DECIDED_DEFAULT, .dir = dir},
		};
		d->defaults_changed[dir] = defs[dir];
		d->n_defaults_changed[dir] = 2;
	}
	return 0;
}

struct bench_dp {
	struct mseg_datapath *dp;
	char dir[256];
	uint8_t pkt[MSEG_BENCH_KINDS][MSEG_BPF_PKT_MAX];
	size_t len[MSEG_BENCH_KINDS];
	int fd[MSEG_BENCH_KINDS];
	int ifindex[MSEG_BENCH_KINDS];
};

/*
 * The sandbox routes like a node for the local kind: forwarding on, the endpoint's /32 through
 * its veth with a permanent neighbour, and a second veth for the sender. Returns the sender's
 * ifindex.
 */
static int read_link_mac(const char *name, uint8_t mac[6])
{
	char cmd[128];
	FILE *f;
	int r;

	snprintf(cmd, sizeof(cmd), "ip -br link show %s", name);
	f = popen(cmd, "re");
	if (!f)
		return -errno;
	r = fscanf(f, "%*s %*s %hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		   &mac[4], &mac[5]);
	pclose(f);
	return r == 6 ? 0 : -EIO;
}

static int bench_route(int ifindex, uint8_t src_gw_mac[6], uint8_t dst_gw_mac[6])
{
	char name[IF_NAMESIZE], cmd[256];
	struct in_addr ep = {.s_addr = htonl(BENCH_EP_IP)};
	unsigned src;
	int r;

	if (!if_indextoname((unsigned)ifindex, name))
		return -errno;
	src = if_nametoindex(BENCH_SRC_IF);
	if (!src) {
		r = mseg_bpf_sandbox_veth(BENCH_SRC_IF);
		if (r < 0)
			return r;
		src = (unsigned)r;
	}
	snprintf(cmd, sizeof(cmd),
		 "sysctl -qw net.ipv4.ip_forward=1 && ip route replace %s/32 dev %s && "
		 "ip neigh replace %s lladdr 02:00:00:00:00:01 dev %s nud permanent",
		 inet_ntoa(ep), name, inet_ntoa(ep), name);
	if (system(cmd) != 0)
		return -EIO;
	/* The sender addresses its gateway: the host-side veth's own MAC. */
	r = read_link_mac(BENCH_SRC_IF, src_gw_mac);
	if (r == 0)
		r = read_link_mac(name, dst_gw_mac);
	return r < 0 ? r : (int)src;
}

/* The local kind's sender, wired once per run (bench_route). */
struct bench_src {
	int ifindex;
	uint8_t gw_mac[6];  /* its host-side veth's MAC: the packet's destination MAC */
	uint8_t dst_mac[6]; /* the endpoint's veth's MAC: the sender's own (see below) */
};

static int bench_prepare(const struct mseg_bpf_bench_opts *o, const struct bench_src *src,
			 uint32_t n, struct bench_dp *b, struct mseg_bpf_bench_result *res)
{
	struct mseg_datapath_config cfg = {.bpf_dir = b->dir};
	struct mseg_dp_endpoint ep = {.id = BENCH_EP, .ifindex = o->ifindex, .identity = 256};
	struct mseg_table_diff d;
	uint32_t classes = n / 10 ? n / 10 : 1, mid = classes / 2, ret;
	uint32_t peer = BENCH_PEER_NET + mid;
	struct mseg_bpf_pkt p = {.proto = MSEG_PROTO_TCP, .sport = BENCH_CLIENT_PORT};
	int r;

	snprintf(b->dir, sizeof(b->dir), "%s/bench-%u", o->bpf_dir, n);
	r = mseg_datapath_bpf.open(&cfg, &b->dp);
	if (r < 0)
		return r;
	r = bench_table(n, &d);
	if (r == 0) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = mseg_datapath_bpf.apply(b->dp, &d);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		res->apply_ms =
		    (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	}
	free(d.added);
	free(d.ipcache_added);
	if (r < 0)
		return r;
	res->rules = n;
	res->entries = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct mseg_port_prefix pp[MSEG_PORT_PREFIXES_MAX];
		uint16_t lo = (uint16_t)(1000 + (i % 10) * 100);

		res->entries += (uint32_t)mseg_bpf_port_prefixes(lo, lo + (i % 2 ? 9 : 0), pp);
	}
	ep.ip = mseg_cidr_from_v4(BENCH_EP_IP, 32);
	memcpy(ep.mac, bench_mac, 6);
	r = mseg_datapath_bpf_endpoint_put(b->dp, &ep);
	if (r < 0)
		return r;

	/* allowed: an established flow's packet into the endpoint, port in a range entry */
	memcpy(p.smac, peer_mac, 6);
	memcpy(p.dmac, bench_mac, 6);
	p.saddr = peer;
	p.daddr = BENCH_EP_IP;
	p.dport = 1503;
	p.tcp_flags = 0x10;
	b->len[MSEG_BENCH_ALLOWED] = mseg_bpf_pkt_build(&p, b->pkt[MSEG_BENCH_ALLOWED]);
	b->fd[MSEG_BENCH_ALLOWED] = mseg_datapath_bpf_prog_fd(b->dp, MSEG_DIR_INGRESS);
	/* denied: same peer, a port no entry holds: every lookup, then the default */
	p.dport = 999;
	b->len[MSEG_BENCH_DENIED] = mseg_bpf_pkt_build(&p, b->pkt[MSEG_BENCH_DENIED]);
	b->fd[MSEG_BENCH_DENIED] = b->fd[MSEG_BENCH_ALLOWED];
	/* reply: the endpoint answering the allowed flow, egress isolated: conntrack only */
	memcpy(p.smac, bench_mac, 6);
	memcpy(p.dmac, peer_mac, 6);
	p.saddr = BENCH_EP_IP;
	p.daddr = peer;
	p.sport = 1503;
	p.dport = BENCH_CLIENT_PORT;
	b->len[MSEG_BENCH_REPLY] = mseg_bpf_pkt_build(&p, b->pkt[MSEG_BENCH_REPLY]);
	b->fd[MSEG_BENCH_REPLY] = mseg_datapath_bpf_prog_fd(b->dp, MSEG_DIR_EGRESS);
	for (int k = 0; k < MSEG_BENCH_LOCAL; k++)
		b->ifindex[k] = o->ifindex;

	/* local: the allowed flow's packet, sent by the peer as an endpoint of this node. Its
	 * MAC is the endpoint's veth's, so that the packet as forwarded (source MAC: that veth)
	 * passes the sender's anti-spoofing again on the next repetition; TTL 255 lasts them. */
	memcpy(p.dmac, src->gw_mac, 6);
	memcpy(p.smac, src->dst_mac, 6);
	b->ifindex[MSEG_BENCH_LOCAL] = src->ifindex;
	ep = (struct mseg_dp_endpoint){
	    .id = BENCH_SRC_EP, .ifindex = src->ifindex, .identity = BENCH_CLASS0 + mid};
	ep.ip = mseg_cidr_from_v4(peer, 32);
	memcpy(ep.mac, p.smac, 6);
	r = mseg_datapath_bpf_endpoint_put(b->dp, &ep);
	if (r < 0)
		return r;
	p.saddr = peer;
	p.daddr = BENCH_EP_IP;
	p.sport = BENCH_CLIENT_PORT;
	p.dport = 1503;
	b->len[MSEG_BENCH_LOCAL] = mseg_bpf_pkt_build(&p, b->pkt[MSEG_BENCH_LOCAL]);
	b->pkt[MSEG_BENCH_LOCAL][14 + 8] = 255;
	b->pkt[MSEG_BENCH_LOCAL][14 + 10] = 0;
	b->pkt[MSEG_BENCH_LOCAL][14 + 11] = 0;
	put16(b->pkt[MSEG_BENCH_LOCAL] + 14 + 10, mseg_bpf_ip_csum(b->pkt[MSEG_BENCH_LOCAL] + 14));
	b->fd[MSEG_BENCH_LOCAL] = mseg_datapath_bpf_prog_fd(b->dp, MSEG_DIR_EGRESS);

	/* Check each packet gets the verdict it is meant to measure. */
	for (int k = 0; k < MSEG_BENCH_KINDS; k++) {
		static const uint32_t want[MSEG_BENCH_KINDS] = {
		    [MSEG_BENCH_ALLOWED] = 0, /* TC_ACT_OK */
		    [MSEG_BENCH_DENIED] = 2,  /* TC_ACT_SHOT */
		    [MSEG_BENCH_REPLY] = 0,
		    [MSEG_BENCH_LOCAL] = 7, /* TC_ACT_REDIRECT */
		};

		r = mseg_bpf_test_run(b->fd[k], b->ifindex[k], b->pkt[k], b->len[k], 1, &ret, NULL);
		if (r < 0)
			return r;
		if (ret != want[k])
			return -EPROTO;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct mseg_bpf_bench_stat stat_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct mseg_bpf_bench_stat){
	    .median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
	    .min = v[0],
	    .max = v[n - 1],
	};
}

/*
 * Mean ns of one run of fd on pkt. BPF_PROG_TEST_RUN repeats a program on the same packet, and
 * the local kind's program rewrites it as the node forwards it: the MACs come out as they went
 * in (bench_prepare arranges that), but each run takes one off the TTL (255 to start with). So
 * that kind runs BENCH_LOCAL_RUNS times per call, each call on a fresh copy.
 */
#define BENCH_LOCAL_RUNS 200

static int bench_time(int fd, int ifindex, const void *pkt, size_t len, uint32_t repeat,
		      bool rewrites, double *ns)
{
	uint32_t per_call = rewrites && repeat > BENCH_LOCAL_RUNS ? BENCH_LOCAL_RUNS : repeat;
	uint32_t calls = repeat / per_call, one;
	double sum = 0;
	int r;

	for (uint32_t c = 0; c < calls; c++) {
		r = mseg_bpf_test_run(fd, ifindex, pkt, len, per_call, NULL, &one);
		if (r < 0)
			return r;
		sum += one;
	}
	*ns = sum / calls;
	return 0;
}

int mseg_bpf_bench_run(const struct mseg_bpf_bench_opts *o, struct mseg_bpf_bench_result *res)
{
	struct mseg_empty *empty = NULL;
	struct bench_src src;
	struct bench_dp *b = NULL;
	double *samples = NULL; /* [rules][kind + empty][trial] */
	unsigned t = o->trials;
	int r = 0;

	if (!o->n_rules || !t || !o->repeat)
		return -EINVAL;
	b = calloc(o->n_rules, sizeof(*b));
	samples = calloc(o->n_rules * (MSEG_BENCH_KINDS + 1) * t, sizeof(*samples));
	empty = mseg_empty__open_and_load();
	if (!b || !samples || !empty) {
		r = empty ? -ENOMEM : -errno;
		goto out;
	}
	r = bench_route(o->ifindex, src.gw_mac, src.dst_mac);
	if (r < 0)
		goto out;
	src.ifindex = r;
	for (size_t i = 0; i < o->n_rules; i++) {
		r = bench_prepare(o, &src, o->rules[i], &b[i], &res[i]);
		if (r < 0)
			goto out;
	}

	/* Interleaved: each trial measures every table and kind, so drift hits all alike. */
	for (unsigned tr = 0; tr < t; tr++)
		for (size_t i = 0; i < o->n_rules; i++) {
			double *s = samples + i * (MSEG_BENCH_KINDS + 1) * t;
			double ns, e_ns;

			for (int k = 0; k < MSEG_BENCH_KINDS; k++) {
				bool rw = k == MSEG_BENCH_LOCAL;

				r = bench_time(bpf_program__fd(empty->progs.mseg_empty),
					       b[i].ifindex[k], b[i].pkt[k], b[i].len[k], o->repeat,
					       rw, &e_ns);
				if (r == 0)
					r = bench_time(b[i].fd[k], b[i].ifindex[k], b[i].pkt[k],
						       b[i].len[k], o->repeat, rw, &ns);
				if (r < 0)
					goto out;
				s[k * t + tr] = ns - e_ns;
				if (k == MSEG_BENCH_ALLOWED)
					s[MSEG_BENCH_KINDS * t + tr] = e_ns;
			}
		}
	for (size_t i = 0; i < o->n_rules; i++) {
		double *s = samples + i * (MSEG_BENCH_KINDS + 1) * t;

		for (int k = 0; k < MSEG_BENCH_KINDS; k++)
			res[i].kind[k] = stat_of(s + k * t, t);
		res[i].empty = stat_of(s + MSEG_BENCH_KINDS * t, t);
	}
out:
	if (b) {
		for (size_t i = 0; i < o->n_rules; i++) {
			struct mseg_datapath_config cfg = {.bpf_dir = b[i].dir};

			if (!b[i].dp)
				continue;
			mseg_datapath_bpf.close(b[i].dp);
			mseg_datapath_bpf.purge(&cfg);
			rmdir(b[i].dir);
		}
	}
	mseg_empty__destroy(empty);
	free(samples);
	free(b);
	return r;
}
