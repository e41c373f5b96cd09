// SPDX-License-Identifier: Apache-2.0
#include "agent/nflog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>

#include "agent/datapath_nft.h"
#include "bpf/abi.h"
#include "lib/macro.h"

struct mseg_nflog {
	struct mnl_socket *nl;
	uint16_t group;
	uint32_t seq;
	char *buf;
	size_t buf_len;
	bool overran; /* ENOBUFS seen since the last mseg_nflog_overran_take() */
};

static int config(struct mseg_nflog *l, const void *attr_data, uint16_t attr, size_t attr_len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	uint32_t seq = ++l->seq;
	ssize_t n;

	nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(l->group);
	mnl_attr_put(nlh, attr, attr_len, attr_data);
	if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* the ack; packets cannot be queued yet, the group is bound by this very exchange */
	for (;;) {
		n = mnl_socket_recvfrom(l->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		int r = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(l->nl), NULL, NULL);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP || r == MNL_CB_OK)
			return 0;
	}
}

int mseg_nflog_open(struct mseg_nflog **ret, uint16_t group, uint32_t copy_range)
{
	struct mseg_nflog *l = calloc(1, sizeof(*l));
	struct nfulnl_msg_config_cmd cmd = {.command = NFULNL_CFG_CMD_BIND};
	struct nfulnl_msg_config_mode mode = {.copy_range = htonl(copy_range),
					      .copy_mode = NFULNL_COPY_PACKET};
	int r;

	if (!l)
		return -ENOMEM;
	l->group = group;
	l->seq = (uint32_t)time(NULL);
	l->buf_len = MNL_SOCKET_BUFFER_SIZE * 4;
	l->buf = malloc(l->buf_len);
	l->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!l->buf || !l->nl) {
		r = l->buf ? -errno : -ENOMEM;
		goto fail;
	}
	if (mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	r = config(l, &cmd, NFULA_CFG_CMD, sizeof(cmd));
	if (r == 0)
		r = config(l, &mode, NFULA_CFG_MODE, sizeof(mode));
	if (r < 0)
		goto fail;
	*ret = l;
	return 0;
fail:
	mseg_nflog_close(l);
	return r;
}

void mseg_nflog_close(struct mseg_nflog *l)
{
	if (!l)
		return;
	if (l->nl)
		mnl_socket_close(l->nl); /* closing the socket unbinds the group */
	free(l->buf);
	free(l);
}

int mseg_nflog_fd(const struct mseg_nflog *l)
{
	return mnl_socket_get_fd(l->nl);
}

struct parse_ctx {
	const struct nlattr *tb[NFULA_MAX + 1];
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct parse_ctx *c = data;
	uint16_t type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NFULA_MAX) < 0)
		return MNL_CB_OK; /* newer kernels: attributes we do not know */
	c->tb[type] = a;
	return MNL_CB_OK;
}

int mseg_nflog_msg_parse(const struct nlmsghdr *nlh, struct mseg_nflog_packet *p)
{
	struct parse_ctx c = {0};

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET))
		return -EINVAL;
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -EINVAL;
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &c) < 0)
		return -EINVAL;
	*p = (struct mseg_nflog_packet){0};
	if (c.tb[NFULA_PREFIX]) {
		const char *s = mnl_attr_get_payload(c.tb[NFULA_PREFIX]);
		uint16_t len = mnl_attr_get_payload_len(c.tb[NFULA_PREFIX]);

		/* the kernel sends the NUL; refuse a prefix that lacks it */
		if (len == 0 || s[len - 1] != '\0')
			return -EINVAL;
		p->prefix = s;
	}
	if (c.tb[NFULA_PACKET_HDR]) {
		if (mnl_attr_get_payload_len(c.tb[NFULA_PACKET_HDR]) <
		    sizeof(struct nfulnl_msg_packet_hdr))
			return -EINVAL;
		const struct nfulnl_msg_packet_hdr *h =
		    mnl_attr_get_payload(c.tb[NFULA_PACKET_HDR]);
		p->hw_protocol = ntohs(h->hw_protocol);
	}
	if (c.tb[NFULA_IFINDEX_INDEV]) {
		if (mnl_attr_validate(c.tb[NFULA_IFINDEX_INDEV], MNL_TYPE_U32) < 0)
			return -EINVAL;
		p->indev = ntohl(mnl_attr_get_u32(c.tb[NFULA_IFINDEX_INDEV]));
	}
	if (c.tb[NFULA_IFINDEX_OUTDEV]) {
		if (mnl_attr_validate(c.tb[NFULA_IFINDEX_OUTDEV], MNL_TYPE_U32) < 0)
			return -EINVAL;
		p->outdev = ntohl(mnl_attr_get_u32(c.tb[NFULA_IFINDEX_OUTDEV]));
	}
	if (c.tb[NFULA_TIMESTAMP]) {
		if (mnl_attr_get_payload_len(c.tb[NFULA_TIMESTAMP]) <
		    sizeof(struct nfulnl_msg_packet_timestamp))
			return -EINVAL;
		/* netlink attributes are 4-byte aligned only: copy before reading the u64s */
		struct nfulnl_msg_packet_timestamp t;

		memcpy(&t, mnl_attr_get_payload(c.tb[NFULA_TIMESTAMP]), sizeof(t));
		p->time_ns = be64toh(t.sec) * 1000000000ull + be64toh(t.usec) * 1000ull;
	}
	if (c.tb[NFULA_PAYLOAD]) {
		p->payload = mnl_attr_get_payload(c.tb[NFULA_PAYLOAD]);
		p->payload_len = mnl_attr_get_payload_len(c.tb[NFULA_PAYLOAD]);
	}
	return 0;
}

int mseg_nflog_decode(const struct mseg_nflog_packet *p, struct mseg_dp_event *ev)
{
	const uint8_t *ip = p->payload;
	size_t ihl;
	int r;

	memset(ev, 0, sizeof(*ev));
	if (!p->prefix)
		return -EINVAL;
	r = mseg_nft_log_prefix_parse(p->prefix, &ev->verdict, &ev->dir, &ev->reason,
				      &ev->decided_by);
	if (r < 0)
		return r;
	if (p->time_ns)
		ev->time_ns = p->time_ns;
	else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ev->time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	ev->pkt_len =
	    (uint16_t)(p->payload_len < sizeof(ev->pkt) ? p->payload_len : sizeof(ev->pkt));
	if (ev->pkt_len)
		memcpy(ev->pkt, p->payload, ev->pkt_len);

	/* The headers: IPv4 only (endpoints are IPv4; other families are dropped as
	 * unsupported and reported without addresses). */
	if (p->payload_len < 20 || (ip[0] >> 4) != 4)
		return 0;
	ihl = (size_t)(ip[0] & 15) * 4;
	if (ihl < 20 || ihl > p->payload_len)
		return 0;
	ev->proto = ip[9];
	ev->saddr = (struct mseg_cidr){.family = MSEG_AF_INET, .prefixlen = 32};
	ev->daddr = (struct mseg_cidr){.family = MSEG_AF_INET, .prefixlen = 32};
	memcpy(ev->saddr.addr, ip + 12, 4);
	memcpy(ev->daddr.addr, ip + 16, 4);
	/* no transport header in a non-first fragment */
	if ((((unsigned)ip[6] << 8 | ip[7]) & 0x1fff) != 0)
		return 0;
	const uint8_t *l4 = ip + ihl;
	size_t l4len = p->payload_len - ihl;
	switch (ev->proto) {
	case MSEG_PROTO_TCP:
	case MSEG_PROTO_UDP:
	case MSEG_PROTO_SCTP:
		if (l4len >= 4) {
			ev->sport = (uint16_t)(l4[0] << 8 | l4[1]);
			ev->dport = (uint16_t)(l4[2] << 8 | l4[3]);
		}
		break;
	case MSEG_PROTO_ICMP:
		if (l4len >= 2) {
			ev->sport = l4[0]; /* type */
			ev->dport = l4[1]; /* code */
		}
		break;
	}
	return 0;
}

int mseg_nflog_read(struct mseg_nflog *l, int budget, mseg_nflog_fn fn, void *userdata)
{
	int fd = mnl_socket_get_fd(l->nl), count = 0;

	/* whole datagrams only: the last one may take count a little past budget */
	while (budget <= 0 || count < budget) {
		ssize_t n = recv(fd, l->buf, l->buf_len, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return count;
			/* ENOBUFS: the socket overflowed and events were lost; the socket stays
			 * usable, so read on within the same budget and let the caller count it
			 * (mseg_nflog_overran_take) */
			if (errno == ENOBUFS) {
				l->overran = true;
				continue;
			}
			return -errno;
		}
		int left = (int)n;
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)l->buf;
		     mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			struct mseg_nflog_packet p;

			if (mseg_nflog_msg_parse(h, &p) < 0)
				continue;
			fn(&p, userdata);
			count++;
		}
	}
	return count;
}

bool mseg_nflog_overran_take(struct mseg_nflog *l)
{
	bool r = l->overran;

	l->overran = false;
	return r;
}
