// SPDX-License-Identifier: Apache-2.0
/*
 * rr: request/response latency between two containers (tools/bench/part_b.sh), the part of
 * sockperf's ping-pong mode the benchmark needs (sockperf is not packaged in Debian 12).
 *
 *   rr server --port P [--tcp] [--seconds S]
 *   rr client --dst IPV4 --port P [--tcp] [--count N] [--seconds S] [--size BYTES]
 *
 * The client sends one request, waits for the echo, and repeats N times or for S seconds;
 * it prints "count=N lost=L p50_us=.. p99_us=.. min_us=.. max_us=..". UDP requests that get
 * no answer within 200 ms count as lost. TCP uses one connection (TCP_NODELAY), so each
 * request is a non-reply packet the policy checks and each echo a reply through conntrack.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/macro.h"

#define MAX_SIZE 1024
#define MAX_COUNT 10000000UL

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Reads exactly len bytes from a stream socket (TCP may split an echo). */
static int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

static int serve_tcp(int lfd, double deadline, size_t size)
{
	char buf[MAX_SIZE];

	while (now_s() < deadline) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		_cleanup_close_ int fd = -1;
		int one = 1;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* One client at a time: the benchmark runs them sequentially. */
		while (read_full(fd, buf, size) == 0)
			if (write(fd, buf, size) != (ssize_t)size)
				break;
	}
	return 0;
}

static int do_server(uint16_t port, bool tcp, double seconds, size_t size)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	_cleanup_close_ int fd = -1;
	double deadline = now_s() + seconds;
	char buf[MAX_SIZE];
	int one = 1;

	fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("rr: socket");
		return -errno;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "rr: bind to port %u: %s\n", port, strerror(errno));
		return -errno;
	}
	if (tcp && listen(fd, 4) < 0) {
		perror("rr: listen");
		return -errno;
	}
	printf("ready\n");
	fflush(stdout);
	if (tcp)
		return serve_tcp(fd, deadline, size);
	while (now_s() < deadline) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n > 0)
			(void)sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	return 0;
}

static int do_client(const struct sockaddr_in *dst, bool tcp, unsigned long count, double seconds,
		     size_t size)
{
	_cleanup_free_ double *rtt = calloc(count, sizeof(double));
	_cleanup_close_ int fd = -1;
	char buf[MAX_SIZE] = {0}, in[MAX_SIZE];
	unsigned long n = 0, lost = 0;
	double deadline = now_s() + seconds;
	int one = 1;

	if (!rtt)
		return -ENOMEM;
	fd = socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("rr: socket");
		return -errno;
	}
	if (tcp)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		fprintf(stderr, "rr: connect: %s\n", strerror(errno));
		return -errno;
	}
	while (n < count && now_s() < deadline) {
		double t0 = now_s();

		memcpy(buf, &n, sizeof(n));
		if (write(fd, buf, size) != (ssize_t)size) {
			if (!tcp) {
				lost++;
				continue;
			}
			perror("rr: write");
			return -EIO;
		}
		if (tcp) {
			int r = read_full(fd, in, size);

			if (r < 0) {
				fprintf(stderr, "rr: read: %s\n", strerror(-r));
				return r;
			}
		} else {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			unsigned long seq;

			/* Stale answers to requests already counted lost are skipped. */
			do {
				if (poll(&p, 1, 200) <= 0 ||
				    read(fd, in, sizeof(in)) < (ssize_t)size)
					goto lost;
				memcpy(&seq, in, sizeof(seq));
			} while (seq != n);
		}
		rtt[n++] = (now_s() - t0) * 1e6;
		continue;
	lost:
		lost++;
		if (lost > count)
			break;
	}
	if (n == 0) {
		fprintf(stderr, "rr: no answer from the server (%lu lost)\n", lost);
		return -ETIMEDOUT;
	}
	qsort(rtt, n, sizeof(double), cmp_double);
	printf("count=%lu lost=%lu p50_us=%.2f p99_us=%.2f min_us=%.2f max_us=%.2f\n", n, lost,
	       rtt[n / 2], rtt[(size_t)((double)n * 0.99) < n ? (size_t)((double)n * 0.99) : n - 1],
	       rtt[0], rtt[n - 1]);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: rr server --port P [--tcp] [--seconds S] [--size BYTES]\n"
			"       rr client --dst IPV4 --port P [--tcp] [--count N] [--seconds S] "
			"[--size BYTES]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dst", required_argument, NULL, 'd'},     {"port", required_argument, NULL, 'p'},
	    {"tcp", no_argument, NULL, 't'},	       {"count", required_argument, NULL, 'c'},
	    {"seconds", required_argument, NULL, 's'}, {"size", required_argument, NULL, 'z'},
	    {"help", no_argument, NULL, 'h'},	       {},
	};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	unsigned long port = 0, count = 10000, size = 32;
	const char *mode, *dst_s = NULL;
	double seconds = 10;
	bool tcp = false;
	char *end;
	int c, r;

	if (argc < 2 || argv[1][0] == '-') {
		usage();
		return argc >= 2 && !strcmp(argv[1], "--help") ? 0 : 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dst_s = optarg;
			break;
		case 'p':
			port = strtoul(optarg, &end, 10);
			if (*end || port == 0 || port > 65535) {
				fprintf(stderr, "rr: --port '%s' is not a port number\n", optarg);
				return 2;
			}
			break;
		case 't':
			tcp = true;
			break;
		case 'c':
			count = strtoul(optarg, &end, 10);
			if (*end || count == 0 || count > MAX_COUNT) {
				fprintf(stderr, "rr: --count '%s' is not in 1..%lu\n", optarg,
					MAX_COUNT);
				return 2;
			}
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0 && seconds <= 3600)) {
				fprintf(stderr, "rr: --seconds '%s' is not in (0, 3600]\n", optarg);
				return 2;
			}
			break;
		case 'z':
			size = strtoul(optarg, &end, 10);
			if (*end || size < sizeof(unsigned long) || size > MAX_SIZE) {
				fprintf(stderr, "rr: --size '%s' is not in %zu..%d\n", optarg,
					sizeof(unsigned long), MAX_SIZE);
				return 2;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (!port) {
		usage();
		return 2;
	}
	dst.sin_port = htons((uint16_t)port);
	if (!strcmp(mode, "server")) {
		r = do_server((uint16_t)port, tcp, seconds, size);
	} else if (!strcmp(mode, "client")) {
		if (!dst_s || inet_pton(AF_INET, dst_s, &dst.sin_addr) != 1) {
			fprintf(stderr, "rr: --dst '%s' is not an IPv4 address\n",
				dst_s ? dst_s : "");
			return 2;
		}
		r = do_client(&dst, tcp, count, seconds, size);
	} else {
		fprintf(stderr, "rr: unknown mode '%s'\n", mode);
		usage();
		return 2;
	}
	return r < 0 ? 1 : 0;
}
