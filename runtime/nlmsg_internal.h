/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the nlmsg_*.c builders only (not part of the runtime's interface). */
#ifndef MSEG_RUNTIME_NLMSG_INTERNAL_H
#define MSEG_RUNTIME_NLMSG_INTERNAL_H

#include <errno.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "policy/model.h"

/*
 * Starts a request of the given type with a zeroed family header of extra bytes; NULL when
 * the buffer cannot hold both (libmnl's put_header does not check).
 */
static inline struct nlmsghdr *mseg_nlmsg_start(void *buf, size_t size, uint16_t type,
						uint16_t flags, size_t extra, void **ret_extra)
{
	struct nlmsghdr *nlh;

	if (!buf || size < MNL_NLMSG_HDRLEN + MNL_ALIGN(extra))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	*ret_extra = mnl_nlmsg_put_extra_header(nlh, extra);
	return nlh;
}

static inline bool mseg_nlmsg_v4(const struct mseg_cidr *c)
{
	return c && c->family == MSEG_AF_INET && c->prefixlen <= 32;
}

#endif
