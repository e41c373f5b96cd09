// SPDX-License-Identifier: Apache-2.0
/* The probe engine: listeners, clients and one poll loop; see probe.h. */
#include "tools/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/model.h"
#include "tools/policy_offline.h"

/* What a UDP probe carries and expects back, and an ICMP echo's payload. */
struct probe_payload {
	uint32_t nonce;
	uint32_t pair; /* s * n_dst + d, so a stray answer cannot count for another pair */
};

struct probe_client {
	int fd;
	size_t pair;
	bool done;
};

struct probe_run {
	uint8_t proto;
	uint16_t port;
	size_t n_dst;
	uint32_t nonce;
	int self_netns; /* where to come back to */
	int *listeners; /* [n_dst], -1 for ICMP (the destination's kernel answers) */
	struct probe_client *clients;
	size_t n_clients;
	bool *allowed;
};

static int sock_type(uint8_t proto)
{
	return proto == MSEG_PROTO_UDP	  ? SOCK_DGRAM
	       : proto == MSEG_PROTO_ICMP ? SOCK_RAW
					  : SOCK_STREAM;
}

static bool stream(uint8_t proto)
{
	return proto == MSEG_PROTO_TCP || proto == MSEG_PROTO_SCTP;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int netns_enter(int fd, const char *name)
{
	int r;

	if (setns(fd, CLONE_NEWNET) < 0) {
		r = -errno;
		return log_errno(r, "cannot enter the network namespace of '%s'", name);
	}
	return 0;
}

/* A socket of the probe's protocol inside the namespace of end; returns to self after. */
static int probe_socket(const struct probe_run *p, const struct mseg_probe_end *end)
{
	char pbuf[32];
	int fd, r;

	r = netns_enter(end->netns_fd, end->name);
	if (r < 0)
		return r;
	fd = socket(AF_INET, sock_type(p->proto) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    p->proto == MSEG_PROTO_ICMP ? IPPROTO_ICMP : p->proto);
	r = fd < 0 ? -errno : 0;
	if (setns(p->self_netns, CLONE_NEWNET) < 0) {
		/* cannot happen short of a kernel bug; never go on in a container's namespace */
		r = log_errno(-errno, "cannot return to the original network namespace");
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (r == -EPROTONOSUPPORT || r == -ESOCKTNOSUPPORT || r == -EAFNOSUPPORT)
		return log_errno(r,
				 "%s is not supported by this kernel (cannot make a socket in "
				 "'%s'; for SCTP, is the sctp module available?)",
				 mseg_offline_port_format(p->proto, p->port, pbuf, sizeof(pbuf)),
				 end->name);
	if (r < 0)
		return log_errno(r, "cannot make a socket in '%s'", end->name);
	return fd;
}

static int listener_open(const struct probe_run *p, const struct mseg_probe_end *end)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_addr = end->ip, .sin_port = htons(p->port)};
	_cleanup_close_ int fd = -1;
	char pbuf[32], abuf[INET_ADDRSTRLEN];
	int one = 1, r;

	fd = probe_socket(p, end);
	if (fd < 0)
		return fd;
	/* a previous probe's connections may linger in TIME_WAIT on this port */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		return log_errno(-errno, "cannot set SO_REUSEADDR in '%s'", end->name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    (stream(p->proto) && listen(fd, SOMAXCONN) < 0)) {
		r = -errno;
		return log_errno(
		    r, "cannot listen on %s:%s in '%s'%s",
		    inet_ntop(AF_INET, &end->ip, abuf, sizeof(abuf)),
		    mseg_offline_port_format(p->proto, p->port, pbuf, sizeof(pbuf)), end->name,
		    r == -EADDRINUSE ? " (something in the container uses that port)" : "");
	}
	return TAKE_FD(fd);
}

static uint16_t icmp_csum(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* One request of a datagram probe (UDP nonce, ICMP echo); losses are the retry's business. */
static void client_send(const struct probe_run *p, const struct probe_client *c)
{
	struct probe_payload pl = {.nonce = p->nonce, .pair = (uint32_t)c->pair};
	struct {
		struct icmphdr h;
		struct probe_payload pl;
	} echo = {
	    .h = {.type = ICMP_ECHO,
		  .un.echo = {.id = htons((uint16_t)p->nonce),
			      .sequence = htons((uint16_t)c->pair)}},
	    .pl = pl,
	};

	if (p->proto == MSEG_PROTO_UDP) {
		(void)!send(c->fd, &pl, sizeof(pl), MSG_DONTWAIT);
		return;
	}
	echo.h.checksum = icmp_csum(&echo, sizeof(echo));
	(void)!send(c->fd, &echo, sizeof(echo), MSG_DONTWAIT);
}

/* Starts the probe of one pair: 0, or done with its verdict when it is known at once. */
static int client_open(struct probe_run *p, const struct mseg_probe_end *src,
		       const struct mseg_probe_end *dst, struct probe_client *c)
{
	struct sockaddr_in sa = {
	    .sin_family = AF_INET, .sin_addr = dst->ip, .sin_port = htons(p->port)};

	c->fd = probe_socket(p, src);
	if (c->fd < 0)
		return c->fd;
	if (p->proto == MSEG_PROTO_ICMP) {
		/* a raw socket hears every ICMP packet of its namespace: only echo replies */
		struct icmp_filter filt = {.data = ~(1U << ICMP_ECHOREPLY)};

		sa.sin_port = 0;
		if (setsockopt(c->fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)) < 0)
			return log_errno(-errno, "cannot filter ICMP in '%s'", src->name);
	}
	/* connected: the kernel then only hands us what comes back from dst */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			/* unreachable at once (a route or a reject): denied */
			c->done = true;
			return 0;
		}
	} else if (stream(p->proto)) {
		p->allowed[c->pair] = true;
		c->done = true;
		return 0;
	}
	if (!stream(p->proto))
		client_send(p, c);
	return 0;
}

/* An event on a client: decides the pair when the answer says something. */
static void client_event(struct probe_run *p, struct probe_client *c, short revents)
{
	uint8_t buf[512];
	socklen_t len = sizeof(int);
	ssize_t n;
	int err = 0;

	if (stream(p->proto)) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
			return;
		/* a FIN from the listener after accept still leaves SO_ERROR 0: connected */
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		/*
		 * A reset can only follow an established connection (a refused one is
		 * ECONNREFUSED): connected, whatever the listener did next.
		 */
		p->allowed[c->pair] = err == 0 || err == ECONNRESET;
		c->done = true;
		return;
	}
	while ((n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0 || errno == EINTR) {
		const struct probe_payload *pl;

		if (n < 0)
			continue;
		if (p->proto == MSEG_PROTO_UDP) {
			pl = (const void *)buf;
			if ((size_t)n != sizeof(*pl))
				continue;
		} else {
			/* raw IPv4: the IP header, then the echo reply */
			size_t ihl = (size_t)(buf[0] & 0xf) * 4;
			const struct icmphdr *h = (const void *)(buf + ihl);

			if ((size_t)n != ihl + sizeof(*h) + sizeof(*pl) ||
			    h->type != ICMP_ECHOREPLY)
				continue;
			pl = (const void *)(h + 1);
		}
		if (pl->nonce == p->nonce && pl->pair == c->pair) {
			p->allowed[c->pair] = true;
			c->done = true;
			return;
		}
	}
	/* an ICMP error on a connected UDP socket (ECONNREFUSED, EHOSTUNREACH): rejected */
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		c->done = true;
}

/* A listener is readable: accept and close (TCP, SCTP), or echo every datagram (UDP). */
static void listener_event(const struct probe_run *p, int fd)
{
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	uint8_t buf[512];
	ssize_t n;
	int c;

	if (stream(p->proto)) {
		while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0 || errno == EINTR)
			if (c >= 0)
				close(c);
		return;
	}
	while ((n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&peer,
			     &plen)) >= 0 ||
	       errno == EINTR) {
		if (n >= 0)
			(void)!sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&peer,
				      plen);
		plen = sizeof(peer);
	}
}

/*
 * Aborts (RST) rather than closes: the listener closed its side first, so an orderly close
 * would leave nothing behind here but a FIN_WAIT/TIME_WAIT there would hold the container's
 * port against a server started right after the probe. An abort leaves no state anywhere.
 */
static void client_close(struct probe_client *c)
{
	struct linger abort_close = {.l_onoff = 1, .l_linger = 0};

	if (c->fd < 0)
		return;
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
	close(c->fd);
	c->fd = -1;
}

static void clients_close(struct probe_run *p)
{
	for (size_t i = 0; i < p->n_clients; i++)
		client_close(&p->clients[i]);
	p->n_clients = 0;
}

/* Drives the clients already opened until all are decided or the timeout passes. */
static void probe_loop(struct probe_run *p, unsigned timeout_ms)
{
	size_t n_listen = p->listeners ? p->n_dst : 0, n = n_listen + p->n_clients;
	_cleanup_free_ struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
	uint64_t start = now_ms(), deadline = start + timeout_ms;
	uint64_t retry = start + timeout_ms / 2;
	bool retried = stream(p->proto);

	if (!pfd) {
		/* without memory the pairs stay undecided, i.e. denied; say so */
		log_errno(-ENOMEM, "probe");
		return;
	}
	for (;;) {
		size_t pending = 0;
		uint64_t now = now_ms(), wake;
		int r;

		for (size_t i = 0; i < p->n_clients; i++) {
			struct probe_client *c = &p->clients[i];

			if (c->done)
				client_close(c);
			pfd[i] = (struct pollfd){.fd = c->fd,
						 .events = stream(p->proto) ? POLLOUT : POLLIN};
			pending += !c->done;
		}
		for (size_t i = 0; i < n_listen; i++)
			pfd[p->n_clients + i] =
			    (struct pollfd){.fd = p->listeners[i], .events = POLLIN};
		if (!pending || now >= deadline)
			return;
		if (!retried && now >= retry) {
			/* one retry for datagrams: a lost first packet is not a verdict */
			for (size_t i = 0; i < p->n_clients; i++)
				if (!p->clients[i].done)
					client_send(p, &p->clients[i]);
			retried = true;
		}
		wake = retried ? deadline : retry;
		r = poll(pfd, n, (int)(wake - now));
		if (r < 0 && errno != EINTR) {
			log_errno(-errno, "poll");
			return;
		}
		if (r <= 0)
			continue;
		/*
		 * Clients first: a connect's completion is seen before the listener can accept
		 * and close that connection, so a quick close never reads as a failed connect.
		 */
		for (size_t i = 0; i < p->n_clients; i++)
			if (pfd[i].revents && !p->clients[i].done)
				client_event(p, &p->clients[i], pfd[i].revents);
		for (size_t i = 0; i < n_listen; i++)
			if (pfd[p->n_clients + i].revents)
				listener_event(p, p->listeners[i]);
	}
}

/* As many descriptors as the hard limit allows: a big matrix holds one socket per pair. */
static size_t fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > 1 << 20 ? 1 << 20 : (size_t)rl.rlim_cur;
}

int mseg_probe_run(const struct mseg_probe_end *src, size_t n_src, const struct mseg_probe_end *dst,
		   size_t n_dst, uint8_t proto, uint16_t port, unsigned timeout_ms, bool *allowed)
{
	_cleanup_close_ int self = -1;
	_cleanup_free_ int *listeners = NULL;
	_cleanup_free_ struct probe_client *clients = NULL;
	struct probe_run p = {.proto = proto, .port = port, .n_dst = n_dst, .allowed = allowed};
	size_t budget, per_round;
	int r = 0;

	memset(allowed, 0, n_src * n_dst * sizeof(bool));
	if (!n_src || !n_dst)
		return 0;
	if (proto == MSEG_PROTO_ICMP && port != (ICMP_ECHO << 8))
		return log_errno(-EOPNOTSUPP, "only ICMP echo requests (8/icmp) can be probed"),
		       -EOPNOTSUPP;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return log_errno(-errno, "cannot open this process's network namespace");
	p.self_netns = self;
	if (getrandom(&p.nonce, sizeof(p.nonce), 0) != sizeof(p.nonce))
		p.nonce = (uint32_t)now_ms() ^ (uint32_t)getpid() << 16;

	/* the descriptors we may hold at once: listeners, a margin, then pairs by source */
	budget = fd_budget();
	if (budget < n_dst + 64 + n_dst)
		return log_errno(-EMFILE,
				 "%zu destinations need more descriptors than the "
				 "limit (%zu) allows",
				 n_dst, budget);
	per_round = (budget - n_dst - 64) / n_dst;
	if (per_round > n_src)
		per_round = n_src;
	clients = calloc(per_round * n_dst, sizeof(*clients));
	listeners = calloc(n_dst, sizeof(int));
	if (!clients || !listeners)
		return log_errno(-ENOMEM, "probe");
	p.clients = clients;

	for (size_t d = 0; d < n_dst; d++)
		listeners[d] = -1;
	if (proto != MSEG_PROTO_ICMP) {
		p.listeners = listeners;
		for (size_t d = 0; d < n_dst; d++) {
			listeners[d] = listener_open(&p, &dst[d]);
			if (listeners[d] < 0) {
				r = listeners[d];
				goto close_listeners;
			}
		}
	}
	/* sources in rounds as large as the descriptor limit allows; usually a single one */
	for (size_t s0 = 0; s0 < n_src; s0 += per_round) {
		size_t s1 = s0 + per_round < n_src ? s0 + per_round : n_src;

		for (size_t s = s0; s < s1; s++)
			for (size_t d = 0; d < n_dst; d++) {
				struct probe_client *c = &clients[p.n_clients++];

				*c = (struct probe_client){.fd = -1, .pair = s * n_dst + d};
				r = client_open(&p, &src[s], &dst[d], c);
				if (r < 0) {
					clients_close(&p);
					goto close_listeners;
				}
			}
		probe_loop(&p, timeout_ms);
		clients_close(&p);
	}
close_listeners:
	for (size_t d = 0; d < n_dst; d++)
		if (listeners[d] >= 0)
			close(listeners[d]);
	return r;
}
