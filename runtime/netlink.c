// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <linux/netlink.h>

#include "macro.h"
#include "runtime/netlink.h"
#include "runtime/netns.h"

struct mseg_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
};

int mseg_nl_open(struct mseg_nl **ret)
{
	_cleanup_free_ struct mseg_nl *nl = NULL;
	int one = 1;
	int r;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(nl->sock);
		return r;
	}
	/* Without this the kernel echoes the whole failed request back with every error. */
	(void)mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Replies are matched on portid and sequence; any start works. */
	nl->seq = 0;
	*ret = TAKE_PTR(nl);
	return 0;
}

static int open_cb(void *arg)
{
	return mseg_nl_open(arg);
}

int mseg_nl_open_netns(int netns_fd, struct mseg_nl **ret)
{
	struct mseg_nl *nl = NULL;
	int r;

	r = mseg_netns_run(netns_fd, open_cb, &nl);
	if (r < 0)
		return r;
	*ret = nl;
	return 0;
}

void mseg_nl_close(struct mseg_nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

int mseg_nl_request(struct mseg_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	/* What the kernel sends per read at most; aligned for the nlmsghdr casts inside libmnl. */
	uint8_t buf[32768] __attribute__((aligned(8)));
	uint32_t seq;
	ssize_t n;
	int r;

	seq = ++nl->seq;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		n = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		/* A signal (the agent has handlers) must not lose the ack still on its way. */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		errno = 0;
		r = mnl_cb_run(buf, n, seq, nl->portid, cb, data);
		if (r < 0)
			return errno ? -errno : -EIO;
		/* MNL_CB_STOP: the ack (error 0) or NLMSG_DONE arrived. */
		if (r == MNL_CB_STOP)
			return 0;
	}
}
