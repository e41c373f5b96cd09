/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nfnetlink_log through libmnl: the nft backend's drop and audit events. The nft rules log to
 * one NFLOG group with a prefix that encodes the decision (agent/datapath_nft.h); this module
 * binds the group, reads logged packets and decodes them into struct mseg_dp_event, the same
 * record the eBPF backend reads from its ring buffer. The backend fills in what only it knows
 * (the endpoint behind an interface, identities from the ipcache).
 */
#ifndef MSEG_AGENT_NFLOG_H
#define MSEG_AGENT_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath.h"

struct nlmsghdr;
struct mseg_nflog;

/* One logged packet, pointing into the receive buffer (valid during the callback only). */
struct mseg_nflog_packet {
	const char *prefix;	/* NULL when the rule logged none */
	uint32_t indev, outdev; /* ifindex, 0 when absent */
	uint16_t hw_protocol;	/* ethertype, host order */
	uint64_t time_ns;	/* CLOCK_REALTIME; 0 when the kernel sent no timestamp */
	const uint8_t *payload; /* the network header onwards, at most the copy range */
	size_t payload_len;
};

typedef void (*mseg_nflog_fn)(const struct mseg_nflog_packet *p, void *userdata);

/* Binds group in the caller's network namespace, copying copy_range bytes of each packet. */
int mseg_nflog_open(struct mseg_nflog **ret, uint16_t group, uint32_t copy_range);
void mseg_nflog_close(struct mseg_nflog *nl);
int mseg_nflog_fd(const struct mseg_nflog *nl);
/*
 * Reads the messages queued now, without blocking, until about budget packets (budget <= 0:
 * all of them); returns the number of packets. What is left stays queued for the next call.
 */
int mseg_nflog_read(struct mseg_nflog *nl, int budget, mseg_nflog_fn fn, void *userdata);
/* Whether the socket overran (events lost) since the last call: reading goes on past it. */
bool mseg_nflog_overran_take(struct mseg_nflog *nl);

/* Pure: one NFULNL_MSG_PACKET message into p (-EINVAL if it is not one, or malformed). */
int mseg_nflog_msg_parse(const struct nlmsghdr *nlh, struct mseg_nflog_packet *p);
/*
 * Pure: the decision (prefix) and the packet's IPv4 header and ports into ev. Leaves
 * ev->endpoint and the identities alone. -EINVAL when the prefix is not one of ours.
 */
int mseg_nflog_decode(const struct mseg_nflog_packet *p, struct mseg_dp_event *ev);

#endif
