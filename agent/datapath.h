/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datapath backend interface. The reconciler programs a node through these operations
 * only, so it does not know whether eBPF (agent/datapath_bpf.c) or nftables
 * (agent/datapath_nft.c) enforces. Both consume the compiler's output (policy/compile.h) and
 * must give the verdicts of the reference evaluator.
 *
 * Lifetime: open() adopts whatever an earlier agent left programmed (pinned maps, attached
 * programs, the nft table) instead of flushing it; close() releases the agent's handles and
 * leaves enforcement in place, so the network neither opens nor closes while the agent is
 * down. purge() is the one operation that removes everything (switching backends).
 */
#ifndef MSEG_AGENT_DATAPATH_H
#define MSEG_AGENT_DATAPATH_H

#include <net/if.h>
#include <stdint.h>

#include "policy/compile.h"

struct mseg_datapath;

struct mseg_datapath_config {
	const char *bpf_dir;  /* bpffs directory for pins (bpf backend) */
	uint32_t nflog_group; /* NFLOG group for drop events (nft backend) */
	bool default_deny;
};

/* One local endpoint as the datapath sees it. */
struct mseg_dp_endpoint {
	uint32_t id; /* mseg_endpoint.id: the key of every per-endpoint object */
	int ifindex; /* host-side veth, in the node's namespace */
	char ifname[IF_NAMESIZE];
	struct mseg_cidr ip;
	uint8_t mac[6]; /* the container's eth0 MAC: anti-spoofing */
	uint32_t identity;
	/* for readable object names and events only */
	char namespace[64];
	char name[64];
};

/* One flow event, the same from both backends (decoded from the ring buffer or NFLOG). */
struct mseg_dp_event {
	uint64_t time_ns; /* CLOCK_REALTIME */
	uint32_t endpoint;
	uint8_t dir;	 /* enum mseg_dir, as seen by that endpoint */
	uint8_t verdict; /* MSEG_EVENT_* in bpf/abi.h: forwarded, dropped, audit */
	uint16_t reason; /* enum mseg_drop_reason in bpf/abi.h */
	uint8_t proto;
	struct mseg_cidr saddr, daddr;
	uint16_t sport, dport; /* ICMP: type, code */
	uint32_t src_identity, dst_identity;
	struct mseg_decider decided_by;
	uint16_t pkt_len; /* bytes of the packet start captured in pkt[] */
	uint8_t pkt[128];
};

typedef void (*mseg_dp_event_fn)(const struct mseg_dp_event *ev, void *userdata);

struct mseg_datapath_ops {
	const char *name; /* "bpf" or "nft" */
	int (*open)(const struct mseg_datapath_config *cfg, struct mseg_datapath **ret);
	void (*close)(struct mseg_datapath *dp);
	/* Attach enforcement to the endpoint's interface with its policy already in place. */
	int (*endpoint_attach)(struct mseg_datapath *dp, const struct mseg_dp_endpoint *ep);
	int (*endpoint_detach)(struct mseg_datapath *dp, uint32_t endpoint_id);
	/* Apply one compiler difference atomically with respect to verdicts. */
	int (*apply)(struct mseg_datapath *dp, const struct mseg_table_diff *diff);
	/* A file descriptor for epoll that becomes readable when events are waiting. */
	int (*event_fd)(struct mseg_datapath *dp);
	/* Reads at most budget waiting events (a drop flood must not hold the agent's loop: what
	 * is left keeps event_fd readable for the next turn); returns how many or -errno. */
	int (*events_read)(struct mseg_datapath *dp, unsigned budget, mseg_dp_event_fn fn,
			   void *userdata);
	/* Remove every object this backend ever made on the node. */
	int (*purge)(const struct mseg_datapath_config *cfg);
};

extern const struct mseg_datapath_ops mseg_datapath_bpf;
extern const struct mseg_datapath_ops mseg_datapath_nft;

#endif
