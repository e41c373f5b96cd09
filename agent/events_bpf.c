// SPDX-License-Identifier: Apache-2.0
/*
 * The bpf backend's ring buffer, read by the pipeline itself with a budget per wake-up. The
 * backend's events_read() drains the ring until it is empty, which under a drop flood (the
 * datapath producing as fast as the agent consumes) can hold the main loop for seconds; here a
 * callback past its budget stops libbpf's loop, the epoll fd stays readable and the control
 * socket is served in between. The records are struct mseg_event of bpf/abi.h, decoded as the
 * backend decodes them.
 */
#include "agent/events.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/datapath_bpf.h"

#define BUDGET_EXHAUSTED 1000 /* a positive errno no libbpf path returns */

struct mseg_events_bpf {
	struct ring_buffer *rb;
	int64_t mono_to_real_ns;
	/* the current read */
	mseg_dp_event_fn fn;
	void *userdata;
	unsigned left;
	int count;
};

static int64_t mono_to_real(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000ll + (r.tv_nsec - m.tv_nsec);
}

static struct mseg_cidr addr_of(uint8_t family, const uint8_t addr[16])
{
	struct mseg_cidr c = {0};

	if (family == MSEG_ABI_AF_INET) {
		c.family = MSEG_AF_INET;
		c.prefixlen = 32;
		memcpy(c.addr, addr, 4);
	}
	return c;
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct mseg_events_bpf *b = ctx;
	const struct mseg_event *e = data;
	struct mseg_dp_event ev = {0};

	if (size >= sizeof(*e)) {
		ev.time_ns = (uint64_t)((int64_t)e->time_ns + b->mono_to_real_ns);
		ev.endpoint = e->endpoint;
		ev.dir = e->dir;
		ev.verdict = e->verdict;
		ev.reason = e->reason;
		ev.proto = e->proto;
		ev.saddr = addr_of(e->family, e->saddr);
		ev.daddr = addr_of(e->family, e->daddr);
		ev.sport = e->sport;
		ev.dport = e->dport;
		ev.src_identity = e->src_identity;
		ev.dst_identity = e->dst_identity;
		ev.decided_by = (struct mseg_decider){
		    .kind = (enum mseg_decider_kind)e->rule.kind,
		    .policy = e->rule.policy,
		    .rule = e->rule.rule,
		    .dir = e->rule.dir,
		};
		ev.pkt_len = e->pkt_len > sizeof(ev.pkt) ? sizeof(ev.pkt) : e->pkt_len;
		memcpy(ev.pkt, e->pkt, ev.pkt_len);
		b->fn(&ev, b->userdata);
		b->count++;
	}
	/* this record is consumed either way; stop here once the budget is spent */
	return --b->left ? 0 : -BUDGET_EXHAUSTED;
}

int mseg_events_bpf_open(struct mseg_events_bpf **ret, int ringbuf_fd)
{
	struct mseg_events_bpf *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->mono_to_real_ns = mono_to_real();
	b->rb = ring_buffer__new(ringbuf_fd, on_sample, b, NULL);
	if (!b->rb) {
		int r = -errno;

		free(b);
		return r ? r : -EINVAL;
	}
	*ret = b;
	return 0;
}

void mseg_events_bpf_close(struct mseg_events_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	free(b);
}

int mseg_events_bpf_fd(const struct mseg_events_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

int mseg_events_bpf_read(struct mseg_events_bpf *b, unsigned budget, mseg_dp_event_fn fn,
			 void *userdata)
{
	int r;

	b->fn = fn;
	b->userdata = userdata;
	b->left = budget ? budget : 1;
	b->count = 0;
	r = ring_buffer__consume(b->rb);
	if (r < 0 && r != -BUDGET_EXHAUSTED)
		return r;
	return b->count;
}
