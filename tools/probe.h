/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mseg probe`'s engine: real connections between containers' network namespaces. One process,
 * no children: every socket is created inside its namespace (setns there and back; a socket
 * stays in the namespace it was made in), then one poll loop serves the listeners and drives
 * every client at once, so a whole matrix takes about one timeout. Closing the sockets is all
 * the cleanup there is, on every path.
 */
#ifndef MSEG_TOOLS_PROBE_H
#define MSEG_TOOLS_PROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSEG_PROBE_TIMEOUT_MS_DEFAULT 500

struct mseg_probe_end {
	const char *name; /* "ns/name", for messages */
	int netns_fd;	  /* the container's network namespace */
	struct in_addr ip;
};

/*
 * For every source s and destination d, whether a connection on proto/port from s's namespace
 * to d's address succeeds within timeout_ms: TCP and SCTP connect (a listener on d:port), UDP
 * a nonce echoed back by a listener on d:port (sent twice), ICMP an echo request (type 8 code 0
 * only) answered by d's kernel. allowed[s * n_dst + d]. A pair whose packets are dropped
 * counts as denied, as does one refused or unreachable.
 *
 * Fails, printing why (this is the CLI's boundary), when a listener cannot bind (the port is
 * taken in that container: -EADDRINUSE), the protocol is unavailable in this kernel
 * (-EPROTONOSUPPORT) or a namespace cannot be entered. The caller's namespace is restored on
 * every path.
 */
int mseg_probe_run(const struct mseg_probe_end *src, size_t n_src, const struct mseg_probe_end *dst,
		   size_t n_dst, uint8_t proto, uint16_t port, unsigned timeout_ms, bool *allowed);

#endif
