/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one thin libmnl wrapper of the runtime: a NETLINK_ROUTE socket bound to one network
 * namespace, and a request/acknowledge exchange that maps the kernel's answer to -errno.
 *
 * A netlink socket stays bound to the namespace it was created in, so a socket opened inside
 * a container's namespace (mseg_nl_open_netns) configures that namespace from outside without
 * the caller ever leaving its own.
 */
#ifndef MSEG_RUNTIME_NETLINK_H
#define MSEG_RUNTIME_NETLINK_H

#include <libmnl/libmnl.h>

struct mseg_nl;

/* A NETLINK_ROUTE socket in the caller's current namespace. */
int mseg_nl_open(struct mseg_nl **ret);
/* A NETLINK_ROUTE socket in the namespace netns_fd refers to. */
int mseg_nl_open_netns(int netns_fd, struct mseg_nl **ret);
void mseg_nl_close(struct mseg_nl *nl);

/*
 * Sends the request in nlh (built by the nlmsg_* builders) with NLM_F_ACK and the next
 * sequence number, then reads until the kernel's acknowledgement. Reply messages before it
 * (e.g. RTM_NEWLINK for RTM_GETLINK) go to cb(nlh, data) when cb is set; a cb that fails
 * sets errno and returns MNL_CB_ERROR. Returns 0 or the kernel's (or cb's) error as -errno.
 */
int mseg_nl_request(struct mseg_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

#endif
