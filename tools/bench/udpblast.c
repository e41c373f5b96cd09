// SPDX-License-Identifier: Apache-2.0
/*
 * udpblast: a saturating UDP stream (sendmmsg) and its counter (recvmmsg), for the per-packet
 * cost of a policy on the path between two container namespaces (tools/bench/part_a.sh).
 *
 *   udpblast recv --port P [--seconds S]
 *   udpblast send --dst IPV4 --port P [--seconds S] [--size BYTES] [--batch N]
 *
 * The receiver counts what arrives until the stream has been silent for 150 ms (or S seconds
 * pass) and prints "received=N". The sender sends for S seconds as fast as one core allows and
 * prints "sent=N seconds=D pps=X cpu_ns_per_pkt=C". A veth transmit hands the packet to the
 * backlog of the sending CPU, and the softirq that forwards it through the node (and its
 * policy) into the receiver's socket runs when the send syscall re-enables bottom halves, so
 * it is charged to the sender's system time: C is the whole path's CPU cost per packet, which
 * holds on a loaded shared machine where the wall-clock rate does not. Delivered packets per
 * second = received / seconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/macro.h"

#define MAX_BATCH 256
#define MAX_SIZE 1472

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_uint(const char *s, const char *what, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "udpblast: %s '%s' is not a number in %lu..%lu\n", what, s, min,
			max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int do_send(const struct sockaddr_in *dst, double seconds, size_t size, unsigned batch)
{
	static char payload[MAX_SIZE];
	struct mmsghdr msgs[MAX_BATCH] = {0};
	struct iovec iov = {.iov_base = payload, .iov_len = size};
	_cleanup_close_ int fd = -1;
	uint64_t sent = 0, errors = 0;
	double start, end, t, cpu;
	struct rusage ru;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("udpblast: socket");
		return -errno;
	}
	/* connect() once so each send skips the route lookup a sendto() would repeat. */
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		perror("udpblast: connect");
		return -errno;
	}
	for (unsigned i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	start = now_s();
	end = start + seconds;
	do {
		int n = sendmmsg(fd, msgs, batch, 0);

		if (n < 0) {
			/* A full queue or an ICMP error from an earlier packet: keep going. */
			if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED &&
			    errno != EPERM) {
				perror("udpblast: sendmmsg");
				return -errno;
			}
			errors++;
			continue;
		}
		sent += (uint64_t)n;
	} while ((t = now_s()) < end);
	if (getrusage(RUSAGE_SELF, &ru) < 0) {
		perror("udpblast: getrusage");
		return -errno;
	}
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("sent=%llu seconds=%.4f pps=%.0f errors=%llu cpu_s=%.4f cpu_ns_per_pkt=%.1f\n",
	       (unsigned long long)sent, t - start, (double)sent / (t - start),
	       (unsigned long long)errors, cpu, sent ? cpu * 1e9 / (double)sent : 0.0);
	return 0;
}

static int do_recv(uint16_t port, double seconds)
{
	static char bufs[MAX_BATCH][64];
	struct mmsghdr msgs[MAX_BATCH] = {0};
	struct iovec iovs[MAX_BATCH];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	_cleanup_close_ int fd = -1;
	uint64_t received = 0;
	int rcvbuf = 4 << 20;
	double deadline = now_s() + seconds, last = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		perror("udpblast: socket");
		return -errno;
	}
	/* A large buffer so the count reflects the path, not the receiver's scheduling. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "udpblast: bind to port %u: %s\n", port, strerror(errno));
		return -errno;
	}
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		/* Payloads are truncated to 64 bytes: only the count matters. */
		iovs[i] = (struct iovec){.iov_base = bufs[i], .iov_len = sizeof(bufs[i])};
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double t = now_s();
		int n;

		if (t >= deadline || (last > 0 && t - last > 0.15))
			break;
		n = poll(&p, 1, 50);
		if (n < 0 && errno != EINTR) {
			perror("udpblast: poll");
			return -errno;
		}
		while ((n = recvmmsg(fd, msgs, MAX_BATCH, MSG_DONTWAIT, NULL)) > 0) {
			received += (uint64_t)n;
			last = now_s();
		}
	}
	printf("received=%llu\n", (unsigned long long)received);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: udpblast recv --port P [--seconds S]\n"
			"       udpblast send --dst IPV4 --port P [--seconds S] [--size BYTES] "
			"[--batch N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dst", required_argument, NULL, 'd'},
	    {"port", required_argument, NULL, 'p'},
	    {"seconds", required_argument, NULL, 's'},
	    {"size", required_argument, NULL, 'z'},
	    {"batch", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct sockaddr_in dst = {.sin_family = AF_INET};
	unsigned long port = 0, size = 18, batch = 64;
	const char *mode, *dst_s = NULL;
	double seconds = 1.0;
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
			if (parse_uint(optarg, "port", 1, 65535, &port) < 0)
				return 2;
			break;
		case 's':
			seconds = strtod(optarg, NULL);
			if (!(seconds > 0 && seconds <= 600)) {
				fprintf(stderr, "udpblast: --seconds '%s' is not in (0, 600]\n",
					optarg);
				return 2;
			}
			break;
		case 'z':
			if (parse_uint(optarg, "size", 1, MAX_SIZE, &size) < 0)
				return 2;
			break;
		case 'b':
			if (parse_uint(optarg, "batch", 1, MAX_BATCH, &batch) < 0)
				return 2;
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
	if (!strcmp(mode, "send")) {
		if (!dst_s || inet_pton(AF_INET, dst_s, &dst.sin_addr) != 1) {
			fprintf(stderr, "udpblast: --dst '%s' is not an IPv4 address\n",
				dst_s ? dst_s : "");
			return 2;
		}
		r = do_send(&dst, seconds, size, (unsigned)batch);
	} else if (!strcmp(mode, "recv")) {
		r = do_recv((uint16_t)port, seconds);
	} else {
		fprintf(stderr, "udpblast: unknown mode '%s'\n", mode);
		usage();
		return 2;
	}
	return r < 0 ? 1 : 0;
}
