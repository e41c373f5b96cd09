// SPDX-License-Identifier: Apache-2.0
/*
 * The nft backend's read side: NFLOG events decoded into the datapath's events (the endpoint
 * by interface, identities by the mirrored ipcache), and the rule hits from the decision
 * chains' named counters and the `return` elements' own counters.
 */
#include "agent/datapath_nft.h"
#include "agent/datapath_nft_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/nflog.h"
#include "lib/macro.h"
#include "policy/cidr.h"

int mseg_nft_event_fd(struct mseg_datapath *dp)
{
	return dp->nflog ? mseg_nflog_fd(dp->nflog) : -ENOTCONN;
}

struct ev_ctx {
	struct mseg_datapath *dp;
	mseg_dp_event_fn fn;
	void *userdata;
};

static uint32_t ipcache_identity(const struct mseg_datapath *dp, const struct mseg_cidr *a)
{
	const struct mseg_ipcache_entry *best = NULL;

	for (size_t i = 0; i < dp->mir.n_ipcache; i++)
		if (mseg_cidr_contains(&dp->mir.ipcache[i].prefix, a) &&
		    (!best || dp->mir.ipcache[i].prefix.prefixlen > best->prefix.prefixlen))
			best = &dp->mir.ipcache[i];
	return best ? best->identity : MSEG_ID_WORLD;
}

static void on_packet(const struct mseg_nflog_packet *p, void *userdata)
{
	struct ev_ctx *c = userdata;
	struct mseg_dp_event ev;

	if (mseg_nflog_decode(p, &ev) < 0)
		return; /* not one of ours: another rule logging to the group */
	/* the endpoint's side: packets leave it through indev, enter it through outdev */
	uint32_t ifindex = ev.dir == MSEG_DIR_EGRESS ? p->indev : p->outdev;
	for (size_t i = 0; i < c->dp->n_eps; i++)
		if ((uint32_t)c->dp->eps[i]->ep.ifindex == ifindex) {
			ev.endpoint = c->dp->eps[i]->ep.id;
			break;
		}
	if (ev.saddr.family == MSEG_AF_INET) {
		ev.src_identity = ipcache_identity(c->dp, &ev.saddr);
		ev.dst_identity = ipcache_identity(c->dp, &ev.daddr);
	}
	c->fn(&ev, c->userdata);
}

int mseg_nft_events_read(struct mseg_datapath *dp, unsigned budget, mseg_dp_event_fn fn,
			 void *userdata)
{
	struct ev_ctx c = {.dp = dp, .fn = fn, .userdata = userdata};

	int r;

	if (!dp->nflog)
		return -ENOTCONN;
	/* The pipeline (events.c) reads again at once after -ENOBUFS; this read already went
	 * on past the overrun with the whole budget, so that second read takes nothing. */
	if (dp->nflog_overran) {
		dp->nflog_overran = false;
		return 0;
	}
	/* a budget per wake-up, like the ring buffer's: a drop flood cannot hold the loop, and
	 * what is left keeps the socket readable for the next turn */
	r = mseg_nflog_read(dp->nflog, budget ? budget : 1, on_packet, &c);
	if (r >= 0 && mseg_nflog_overran_take(dp->nflog)) {
		dp->nflog_overran = true;
		return -ENOBUFS; /* counted as lost by the pipeline */
	}
	return r;
}

int mseg_datapath_nft_hits_read(struct mseg_datapath *dp, struct mseg_nft_hit **ret, size_t *n_ret)
{
	_cleanup_free_ char **sets = NULL;
	_cleanup_free_ char *names = NULL;
	size_t n = 0, k = 0;
	int r;

	/* the maps holding `return` elements: their counters are the plain allows' hits */
	for (size_t i = 0; i < dp->n_eps; i++)
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < N_MAPS; m++)
				n += elemvec_has_ret(&dp->eps[i]->prog[d][m]);
	sets = calloc(n + 1, sizeof(*sets));
	names = malloc((n + 1) * MSEG_NFT_NAME_MAX);
	if (!sets || !names)
		return -ENOMEM;
	for (size_t i = 0; i < dp->n_eps; i++)
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < N_MAPS; m++) {
				if (!elemvec_has_ret(&dp->eps[i]->prog[d][m]))
					continue;
				sets[k] = names + k * MSEG_NFT_NAME_MAX;
				snprintf(sets[k], MSEG_NFT_NAME_MAX, "%s_%s%s", dp->eps[i]->base,
					 d == MSEG_DIR_INGRESS ? "in" : "out",
					 mseg_nft_map_suffix[m]);
				k++;
			}
	r = mseg_nft_hits_dump(dp->nl, &dp->seq, (const char *const *)sets, k, ret, n_ret);
	return r;
}

const char *mseg_datapath_nft_error(const struct mseg_datapath *dp)
{
	return dp->err;
}
