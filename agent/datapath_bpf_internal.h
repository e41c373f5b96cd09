/* SPDX-License-Identifier: Apache-2.0 */
/* State shared by the agent/datapath_bpf*.c files only. */
#ifndef MSEG_AGENT_DATAPATH_BPF_INTERNAL_H
#define MSEG_AGENT_DATAPATH_BPF_INTERNAL_H

#include <stdbool.h>

#include "agent/datapath_bpf.h"

struct mseg_tc;
struct ring_buffer;

struct mseg_datapath {
	struct mseg_tc *skel;
	char *bpf_dir;
	/* The programs endpoints get attached, indexed by the policy direction they enforce:
	 * the pinned ones when an earlier agent left identical code, else the fresh ones. */
	int prog_fd[2];
	uint32_t prog_id[2];
	/* The first apply() after open() carries the whole table (the compiler's first
	 * difference): it also removes what an earlier agent left that is no longer wanted. */
	bool synced;
	bool adopted; /* some map was already pinned: an earlier agent's contents may linger */
	struct ring_buffer *rb;
	mseg_dp_event_fn event_fn;
	void *event_userdata;
	int event_error;
	unsigned event_left;  /* the current read's budget */
	unsigned event_count; /* events handed out by the current read */
	int64_t mono_to_real_ns;
};

int mseg_datapath_bpf_apply(struct mseg_datapath *dp, const struct mseg_table_diff *diff);
int mseg_datapath_bpf_events_read(struct mseg_datapath *dp, unsigned budget, mseg_dp_event_fn fn,
				  void *userdata);
int mseg_datapath_bpf_event_cb(void *ctx, void *data, size_t size);

#endif
