// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster's life in the agent: options, start-up (etcd client, pod CIDR, overlay), the
 * event source for the epoll loop (the watch's descriptors, a periodic timer and the etcd
 * worker's eventfd behind one epoll descriptor), lease renewal and the backoff between retries.
 * Once the agent serves, every etcd call but one runs on the worker (cluster_worker.c); the
 * exception is the identity of a new local label set, allocated from the loop only while etcd
 * is known to answer (mseg_cluster_store_healthy), since `mseg run` waits for it anyway.
 */
#include "agent/cluster_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/reconcile.h"
#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "runtime/vxlan.h"

#define CLUSTER_FILE "cluster.json"
/* each etcd call: a hung etcd is noticed this soon (on the worker, never on the loop) */
#define CALL_TIMEOUT_MS 700
/*
 * a local endpoint's new identity, allocated from the loop while etcd seems healthy: a
 * transaction answers in milliseconds, so this bounds the stall when etcd hung just now
 */
#define LOOP_CALL_TIMEOUT_MS 200
/* the lease is renewed this often at least, which is also how soon a hung etcd is noticed */
#define RENEW_MAX_MS 1000
#define TICK_MS 200
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
/* how long start-up waits for etcd when this node has no pod CIDR yet */
#define START_WAIT_MS 30000

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int mseg_cluster_option(struct mseg_cluster_options *o, int index, const char *arg)
{
	const char *why = NULL;
	unsigned long v;

	switch (index) {
	case 0:
		if (strcmp(arg, "local") && strcmp(arg, "etcd")) {
			log_err("invalid --store '%s': local or etcd", arg);
			return -EINVAL;
		}
		o->etcd = !strcmp(arg, "etcd");
		return 0;
	case 1:
		o->endpoints = arg;
		return 0;
	case 2:
		if (arg[0] != '/' || strlen(arg) < 2 || arg[strlen(arg) - 1] == '/' ||
		    strlen(arg) > 128) {
			log_err("invalid --etcd-prefix '%s': starts with '/', does not end with "
				"one, at most 128 characters",
				arg);
			return -EINVAL;
		}
		o->prefix = arg;
		return 0;
	case 3:
		o->node_ip = arg;
		return 0;
	case 4:
		if (mseg_cidr_parse(arg, false, &o->cidr, &why) < 0 ||
		    o->cidr.family != MSEG_AF_INET || o->cidr.prefixlen > 23 ||
		    o->cidr.prefixlen < 8) {
			log_err("invalid --cluster-cidr '%s': %s", arg,
				why ? why
				    : "need an IPv4 prefix from /8 to /23 (one /24 per node)");
			return -EINVAL;
		}
		o->cidr_set = true;
		return 0;
	case 5:
		if (parse_uint(arg, 65535, &v) < 0 || v == 0) {
			log_err("invalid --vxlan-port '%s': 1 to 65535", arg);
			return -EINVAL;
		}
		o->vxlan_port = (uint16_t)v;
		return 0;
	case 6:
		if (parse_uint(arg, MSEG_VXLAN_VNI_MAX, &v) < 0 || v == 0) {
			log_err("invalid --vxlan-vni '%s': 1 to %u", arg, MSEG_VXLAN_VNI_MAX);
			return -EINVAL;
		}
		o->vni = (uint32_t)v;
		return 0;
	case 7:
		if (parse_uint(arg, 3600, &v) < 0 || v < 2) {
			log_err("invalid --node-ttl '%s': 2 to 3600 seconds", arg);
			return -EINVAL;
		}
		o->node_ttl = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

int mseg_cluster_options_check(struct mseg_cluster_options *o)
{
	const char *why;

	if (!o->etcd) {
		if (o->endpoints) {
			log_err("--etcd-endpoints needs --store etcd");
			return -EINVAL;
		}
		return 0;
	}
	if (!o->endpoints) {
		log_err("--store etcd needs --etcd-endpoints http://ADDR:2379[,...]");
		return -EINVAL;
	}
	if (!o->prefix)
		o->prefix = MSEG_CLUSTER_DEFAULT_PREFIX;
	if (!o->cidr_set && mseg_cidr_parse(MSEG_CLUSTER_DEFAULT_CIDR, false, &o->cidr, &why) < 0)
		return -EINVAL;
	if (!o->vxlan_port)
		o->vxlan_port = MSEG_VXLAN_PORT;
	if (!o->vni)
		o->vni = MSEG_VXLAN_VNI;
	if (!o->node_ttl)
		o->node_ttl = MSEG_CLUSTER_DEFAULT_TTL;
	return 0;
}

double mseg_cluster_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct timespec ts_after_ms(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool ts_passed(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

int mseg_cluster_store_failed(struct mseg_cluster *c, int r, const char *what)
{
	return mseg_cluster_store_failed_msg(c, r, what, mseg_etcd_last_error(c->etcd));
}

int mseg_cluster_store_failed_msg(struct mseg_cluster *c, int r, const char *what, const char *msg)
{
	if (!msg)
		msg = "";
	/* log the transition once, not every retry */
	if (c->store_up || !c->last_error[0])
		log_warn("etcd: %s failed: %s (%s); enforcing what is programmed, retrying", what,
			 strerror(-r), msg);
	snprintf(c->last_error, sizeof(c->last_error), "%s: %s", what, msg[0] ? msg : strerror(-r));
	c->store_up = false;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	c->next_try = ts_after_ms(c->backoff_ms);
	return r;
}

void mseg_cluster_store_ok(struct mseg_cluster *c)
{
	if (!c->store_up && c->last_error[0])
		log_info("etcd: reachable again at %s", mseg_etcd_endpoint(c->etcd));
	c->store_up = true;
	c->backoff_ms = 0;
	c->last_error[0] = '\0';
}

bool mseg_cluster_store_usable(const struct mseg_cluster *c)
{
	return c->store_up || ts_passed(&c->next_try);
}

bool mseg_cluster_store_healthy(const struct mseg_cluster *c)
{
	return c->store_up && !c->watch_down && c->synced_once && !c->need_resync;
}

/* How long until the lease is renewed: a third of the TTL, at most RENEW_MAX_MS. */
static unsigned renew_ms(const struct mseg_cluster *c)
{
	unsigned ms = c->ttl * 1000 / 3;

	return ms < RENEW_MAX_MS ? ms : RENEW_MAX_MS;
}

char *mseg_cluster_key(const struct mseg_cluster *c, const char *fmt, ...)
{
	_cleanup_free_ char *tail = NULL;
	char *k = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tail, fmt, ap);
	va_end(ap);
	if (n < 0) {
		tail = NULL;
		return NULL;
	}
	if (asprintf(&k, "%s/%s", c->prefix, tail) < 0)
		return NULL;
	return k;
}

/* The IPv4 address of the interface holding the default route (/proc/net is per namespace). */
static int default_route_ip(struct mseg_cidr *ret)
{
	char line[256], ifname[64] = "", dev[64];
	unsigned long dst, mask;
	struct ifaddrs *ifa, *i;
	FILE *f = fopen("/proc/net/route", "re");
	int r = -ENETUNREACH;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", dev, &dst, &mask) == 3 &&
		    dst == 0 && mask == 0) {
			memcpy(ifname, dev, sizeof(ifname));
			break;
		}
	fclose(f);
	if (!ifname[0])
		return -ENETUNREACH;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, ifname)) {
			const struct sockaddr_in *sin = (const void *)i->ifa_addr;

			memset(ret, 0, sizeof(*ret));
			ret->family = MSEG_AF_INET;
			ret->prefixlen = 32;
			memcpy(ret->addr, &sin->sin_addr, 4);
			r = 0;
			break;
		}
	freeifaddrs(ifa);
	return r;
}

/* The MTU of the interface holding ip in this namespace (-EADDRNOTAVAIL: no such address). */
static int underlay_mtu(const struct mseg_cidr *ip, uint32_t *mtu)
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr = {0};
	int r = -EADDRNOTAVAIL, fd;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !memcmp(&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr,
			    ip->addr, 4)) {
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", i->ifa_name);
			r = 0;
			break;
		}
	freeifaddrs(ifa);
	if (r < 0)
		return r;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		r = -errno;
	else
		*mtu = (uint32_t)ifr.ifr_mtu;
	close(fd);
	return r;
}

/* The pod CIDR slot this node had last time (0 when unknown), so a start without etcd works. */
static uint32_t slot_cached(const struct mseg_agent *a, const struct mseg_cluster *c)
{
	char why[MSEG_STORE_WHY_LEN] = "", cidr[MSEG_CIDR_STRLEN];
	json_t *doc = NULL;
	json_int_t idx = 0;
	const char *cl = NULL;

	if (mseg_store_read_json(a->cfg.state_dir, CLUSTER_FILE, &doc, why) < 0)
		return 0;
	if (json_unpack(doc, "{s:I,s:s}", "index", &idx, "cluster_cidr", &cl) < 0 || idx < 1 ||
	    idx > 65535 || strcmp(cl, mseg_cidr_format(&c->opt.cidr, false, cidr)))
		idx = 0;
	json_decref(doc);
	return (uint32_t)idx;
}

static int slot_take(struct mseg_agent *a, struct mseg_cluster *c)
{
	uint32_t last = (1u << (24 - c->opt.cidr.prefixlen)) - 1, slot = 0;
	char cidr[MSEG_CIDR_STRLEN];
	_cleanup_free_ char *key = mseg_cluster_key(c, "podcidrs");
	double until = mseg_cluster_now_ms() + START_WAIT_MS;
	uint32_t cached = slot_cached(a, c);
	json_t *doc;
	int r;

	if (!key)
		return -ENOMEM;
	if (last > 255)
		last = 255;
	for (;;) {
		r = mseg_etcd_allocate_slot(c->etcd, key, a->cfg.node, 1, last, &slot);
		if (r == 0 || r == -ENOSPC || r == -EINVAL || r == -ENOMEM)
			break;
		if (cached) {
			log_warn("etcd unreachable (%s): using this node's last pod CIDR slot %u",
				 mseg_etcd_last_error(c->etcd), cached);
			mseg_cluster_store_failed(c, r, "pod CIDR allocation");
			slot = cached;
			r = 0;
			break;
		}
		if (mseg_cluster_now_ms() > until)
			break;
		usleep(250000);
	}
	if (r == -ENOSPC)
		return log_errno(r, "no free pod CIDR in --cluster-cidr %s (1 to %u taken)",
				 mseg_cidr_format(&c->opt.cidr, false, cidr), last);
	if (r < 0)
		return log_errno(r, "cannot allocate a pod CIDR in etcd at '%s': %s",
				 c->opt.endpoints, mseg_etcd_last_error(c->etcd));
	if (cached && cached != slot)
		log_warn("pod CIDR slot of node '%s' changed from %u to %u", a->cfg.node, cached,
			 slot);
	c->index = slot;
	doc = json_pack("{s:i,s:I,s:s}", "version", 1, "index", (json_int_t)slot, "cluster_cidr",
			mseg_cidr_format(&c->opt.cidr, false, cidr));
	if (!doc)
		return -ENOMEM;
	r = mseg_store_write_json(a->cfg.state_dir, CLUSTER_FILE, doc);
	json_decref(doc);
	if (r < 0)
		log_errno(r, "cannot record the pod CIDR slot in '%s'", a->cfg.state_dir);
	return 0;
}

static void cluster_free(struct mseg_cluster *c)
{
	if (!c)
		return;
	mseg_cluster_worker_stop(c);
	mseg_etcd_watch_free(c->watch);
	mseg_etcd_free(c->etcd);
	mseg_etcd_free(c->etcd_loop);
	mseg_kvmap_clear(&c->allocating);
	mseg_overlay_free(c->overlay);
	mseg_cluster_view_free(c);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->timerfd >= 0)
		close(c->timerfd);
	free(c->prefix);
	free(c);
}

int mseg_cluster_start(struct mseg_agent *a, const struct mseg_cluster_options *o)
{
	struct mseg_overlay_config ocfg = {0};
	struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000L},
				 .it_value = {0, TICK_MS * 1000000L}};
	struct epoll_event ev = {.events = EPOLLIN};
	char buf[MSEG_CIDR_STRLEN], buf2[MSEG_CIDR_STRLEN];
	struct mseg_cluster *c;
	const char *why;
	int r;

	if (!o->etcd)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->epfd = c->timerfd = -1;
	c->opt = *o;
	c->prefix = strdup(o->prefix);
	c->ttl = o->node_ttl;
	c->next_remote_id = MSEG_CLUSTER_REMOTE_ID_BASE;
	c->need_resync = true;
	if (!c->prefix) {
		r = -ENOMEM;
		goto fail;
	}
	if (o->node_ip) {
		if (mseg_cidr_parse(o->node_ip, false, &c->node_ip, &why) < 0 ||
		    c->node_ip.family != MSEG_AF_INET) {
			r = -EINVAL;
			log_err("invalid --node-ip '%s': %s", o->node_ip, why ? why : "IPv4 only");
			goto fail;
		}
		c->node_ip.prefixlen = 32;
	} else {
		r = default_route_ip(&c->node_ip);
		if (r < 0) {
			log_errno(r, "no --node-ip and no default route to take the address from");
			goto fail;
		}
	}
	r = underlay_mtu(&c->node_ip, &c->underlay_mtu);
	if (r < 0) {
		log_errno(r, "--node-ip %s is not an address of this node",
			  mseg_cidr_format(&c->node_ip, true, buf));
		goto fail;
	}
	if (c->underlay_mtu < 68 + MSEG_VXLAN_OVERHEAD) {
		r = -EINVAL;
		log_err("underlay MTU %u is too small for VXLAN", c->underlay_mtu);
		goto fail;
	}
	r = mseg_etcd_new(&c->etcd, o->endpoints, CALL_TIMEOUT_MS);
	if (r < 0) {
		log_errno(r, "invalid --etcd-endpoints '%s': http(s)://HOST:PORT, comma-separated",
			  o->endpoints);
		goto fail;
	}
	r = mseg_etcd_new(&c->etcd_loop, o->endpoints, LOOP_CALL_TIMEOUT_MS);
	if (r < 0)
		goto fail;
	c->store_up = true;
	r = slot_take(a, c);
	if (r < 0)
		goto fail;
	r = mseg_vxlan_pod_cidr(&o->cidr, 24, c->index, &c->pod_cidr, &c->gateway);
	if (r < 0) {
		log_errno(r, "pod CIDR slot %u does not fit --cluster-cidr", c->index);
		goto fail;
	}
	a->cfg.pod_cidr = c->pod_cidr;

	ocfg.node_ip = c->node_ip;
	ocfg.gateway = c->gateway;
	ocfg.vni = o->vni;
	ocfg.port = o->vxlan_port;
	ocfg.mtu = c->underlay_mtu - MSEG_VXLAN_OVERHEAD;
	r = mseg_overlay_new(&c->overlay, &ocfg);
	if (r < 0) {
		log_errno(r, "cannot set up the VXLAN overlay ('%s', port %u, VNI %u)",
			  MSEG_VXLAN_IFNAME, o->vxlan_port, o->vni);
		goto fail;
	}

	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->epfd < 0 || c->timerfd < 0 || timerfd_settime(c->timerfd, 0, &its, NULL) < 0) {
		r = log_errno(-errno, "cannot create the cluster's timer");
		goto fail;
	}
	ev.data.fd = c->timerfd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->timerfd, &ev) < 0) {
		r = log_errno(-errno, "epoll");
		goto fail;
	}
	r = mseg_cluster_worker_start(c, CALL_TIMEOUT_MS);
	if (r < 0) {
		log_errno(r, "cannot start the etcd worker thread");
		goto fail;
	}
	log_info("cluster: node '%s' at %s, pod CIDR %s (slot %u), etcd %s prefix %s, VXLAN "
		 "port %u VNI %u MTU %u",
		 a->cfg.node, mseg_cidr_format(&c->node_ip, true, buf),
		 mseg_cidr_format(&c->pod_cidr, false, buf2), c->index, o->endpoints, c->prefix,
		 o->vxlan_port, o->vni, ocfg.mtu);
	a->cluster = c;
	return 0;
fail:
	cluster_free(c);
	return r;
}

static void lease_granted(struct mseg_agent *a, struct mseg_cluster *c, int64_t id)
{
	mseg_cluster_store_ok(c);
	c->lease = id;
	c->next_renew = ts_after_ms(renew_ms(c));
	/* a new lease owns nothing yet: node and endpoints go out again */
	mseg_kvmap_clear(&c->published);
	c->need_publish = true;
	log_debug("cluster: node '%s' holds lease %lld (TTL %u s)", a->cfg.node, (long long)id,
		  c->ttl);
}

/* Start-up only: blocking, before the control socket serves. */
static int lease_take(struct mseg_agent *a, struct mseg_cluster *c)
{
	int64_t id;
	int r;

	r = mseg_etcd_lease_grant(c->etcd, c->ttl, &id);
	if (r < 0)
		return mseg_cluster_store_failed(c, r, "lease grant");
	lease_granted(a, c, id);
	return 0;
}

/* A lease job: grant (id 0 in, the new id out) or renew (id in). */
struct lease_job {
	int64_t ttl, id;
	bool grant;
};

static int lease_run(struct mseg_etcd *etcd, void *data)
{
	struct lease_job *j = data;

	if (j->grant)
		return mseg_etcd_lease_grant(etcd, j->ttl, &j->id);
	return mseg_etcd_lease_keepalive(etcd, j->id, NULL);
}

static void lease_done(struct mseg_agent *a, void *data, int r, const char *error)
{
	struct mseg_cluster *c = a->cluster;
	struct lease_job *j = data;

	c->lease_busy = false;
	if (j->grant) {
		if (r < 0)
			mseg_cluster_store_failed_msg(c, r, "lease grant", error);
		else
			lease_granted(a, c, j->id);
		return;
	}
	if (j->id != c->lease)
		return; /* renewed a lease given up meanwhile */
	if (r == -ENOENT) {
		/* expired (etcd was away longer than the TTL): rejoin under a new one */
		log_warn("cluster: lease %lld of node '%s' expired: rejoining", (long long)c->lease,
			 a->cfg.node);
		c->lease = 0;
		c->next_try = (struct timespec){0};
		return;
	}
	if (r < 0) {
		mseg_cluster_store_failed_msg(c, r, "lease renewal", error);
		return;
	}
	mseg_cluster_store_ok(c);
	c->next_renew = ts_after_ms(renew_ms(c));
}

static void lease_renew(struct mseg_agent *a, struct mseg_cluster *c)
{
	struct lease_job *j;

	(void)a;
	if (c->lease_busy || !mseg_cluster_store_usable(c))
		return;
	if (c->lease && !ts_passed(&c->next_renew))
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	*j = (struct lease_job){.ttl = c->ttl, .id = c->lease, .grant = !c->lease};
	if (mseg_cluster_submit(c, lease_run, lease_done, free, j) == 0)
		c->lease_busy = true;
}

static void watch_register(struct mseg_cluster *c)
{
	struct pollfd fds[8];
	size_t n = 0;
	long timeout;

	for (size_t i = 0; i < c->n_watch_fds; i++)
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->watch_fds[i], NULL);
	c->n_watch_fds = 0;
	/* not polled until the resync restarts it: its descriptors would keep the loop awake */
	if (!c->watch || c->need_resync ||
	    mseg_etcd_watch_fds(c->watch, fds, ARRAY_SIZE(fds), &n, &timeout) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct epoll_event ev = {.events = (uint32_t)fds[i].events, .data.fd = fds[i].fd};

		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fds[i].fd, &ev) == 0)
			c->watch_fds[c->n_watch_fds++] = fds[i].fd;
	}
	/* the watch's own deadline (curl's state machine, reconnect backoff), when sooner */
	if (timeout >= 0 && timeout < TICK_MS) {
		struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000L},
					 .it_value = {0, (timeout ? timeout : 1) * 1000000L}};

		timerfd_settime(c->timerfd, 0, &its, NULL);
	}
}

static void watch_start(struct mseg_agent *a, struct mseg_cluster *c, int64_t from)
{
	int r;

	if (c->watch)
		r = mseg_etcd_watch_restart(c->watch, from);
	else
		r = mseg_etcd_watch_new(&c->watch, c->opt.endpoints, c->prefix, from);
	if (r < 0)
		log_errno(r, "cluster: cannot start the etcd watch");
	(void)a;
	watch_register(c);
}

/* Start-up: full read of the prefix, merge, then the watch from just after it. */
static void resync(struct mseg_agent *a, struct mseg_cluster *c)
{
	int r;

	if (!mseg_cluster_store_usable(c))
		return;
	r = mseg_cluster_resync(a);
	if (r < 0)
		return;
	c->need_resync = false;
}

void mseg_cluster_resync_done(struct mseg_agent *a, int64_t revision)
{
	watch_start(a, a->cluster, revision + 1);
}

int mseg_cluster_sync_start(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;

	if (!c)
		return 0;
	lease_take(a, c);
	resync(a, c);
	if (c->need_resync)
		log_warn("cluster: etcd unreachable at start: running on the local copy until it "
			 "answers");
	return 0;
}

void mseg_cluster_stop(struct mseg_agent *a)
{
	/* The lease is left to expire: an agent restarted within the TTL keeps its place. */
	cluster_free(a->cluster);
	a->cluster = NULL;
}

int mseg_cluster_fd(const struct mseg_agent *a)
{
	return a->cluster ? a->cluster->epfd : -1;
}

static void reconcile_now(struct mseg_agent *a, struct mseg_cluster *c, bool resynced)
{
	struct timespec t0;
	double m0 = mseg_cluster_now_ms();
	int r;

	c->need_reconcile = false;
	r = mseg_agent_reconcile(a, NULL);
	if (a->cluster != c)
		return;
	if (r < 0) {
		/* logged by the reconciler; try again on the next tick */
		c->need_reconcile = true;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &t0);
	c->last_reconcile = t0;
	c->last_reconcile_ms = mseg_cluster_now_ms() - m0;
	if (resynced)
		c->resync_reconcile_ms = c->last_reconcile_ms;
	/* identities of new local endpoints are known now: publish them */
	c->need_publish = true;
}

void mseg_cluster_process(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;
	bool resynced = false;
	uint64_t ticks;
	int r;

	if (!c)
		return;
	if (read(c->timerfd, &ticks, sizeof(ticks)) < 0) {
		/* not expired yet: a watch descriptor or the worker woke us */
	}
	/* results of the etcd worker: a resync landing clears need_resync and restarts the watch */
	{
		uint64_t before = c->resyncs;

		mseg_cluster_worker_process(a);
		resynced = c->resyncs != before;
	}
	if (c->watch && !c->need_resync) {
		r = mseg_etcd_watch_poll(c->watch, mseg_cluster_watch_event, a);
		if (r < 0 && r != -ERANGE)
			log_errno(r, "cluster: etcd watch");
	}
	if (c->need_resync && !c->resync_busy && mseg_cluster_store_usable(c))
		mseg_cluster_resync_submit(a);
	watch_register(c);
	lease_renew(a, c);
	if (c->need_reconcile)
		reconcile_now(a, c, resynced);
	if (c->need_publish && c->synced_once && mseg_cluster_store_usable(c))
		mseg_cluster_publish(a);
}

void mseg_cluster_after_request(struct mseg_agent *a)
{
	struct mseg_cluster *c = a->cluster;

	if (!c)
		return;
	c->need_publish = true;
	if (c->synced_once && mseg_cluster_store_usable(c))
		mseg_cluster_publish(a);
}

uint32_t mseg_cluster_container_mtu(const struct mseg_agent *a)
{
	return a->cluster ? a->cluster->underlay_mtu - MSEG_VXLAN_OVERHEAD : 0;
}

/* ---- kvmap ------------------------------------------------------------------------------ */

static size_t kvmap_pos(const struct mseg_kvmap *m, const char *key, bool *found)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int cmp = strcmp(m->v[mid].key, key);

		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

const char *mseg_kvmap_get(const struct mseg_kvmap *m, const char *key)
{
	bool found;
	size_t i = kvmap_pos(m, key, &found);

	return found ? m->v[i].value : NULL;
}

int mseg_kvmap_set(struct mseg_kvmap *m, const char *key, const char *value)
{
	bool found;
	size_t i = kvmap_pos(m, key, &found);
	char *v = strdup(value), *k;

	if (!v)
		return -ENOMEM;
	if (found) {
		free(m->v[i].value);
		m->v[i].value = v;
		return 0;
	}
	k = strdup(key);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mseg_kvmap_item *nv = realloc(m->v, cap * sizeof(*nv));

		if (!nv) {
			free(k);
			free(v);
			return -ENOMEM;
		}
		m->v = nv;
		m->cap = cap;
	}
	memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
	m->v[i] = (struct mseg_kvmap_item){.key = k, .value = v};
	m->n++;
	return 0;
}

void mseg_kvmap_del(struct mseg_kvmap *m, const char *key)
{
	bool found;
	size_t i = kvmap_pos(m, key, &found);

	if (!found)
		return;
	free(m->v[i].key);
	free(m->v[i].value);
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	m->n--;
}

void mseg_kvmap_clear(struct mseg_kvmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].value);
	}
	free(m->v);
	*m = (struct mseg_kvmap){0};
}
