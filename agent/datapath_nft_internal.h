/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nft backend's state, shared by datapath_nft.c (programming) and datapath_nft_events.c
 * (NFLOG events, rule hits) only: nothing outside the backend includes this.
 */
#ifndef MSEG_AGENT_DATAPATH_NFT_INTERNAL_H
#define MSEG_AGENT_DATAPATH_NFT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/datapath.h"
#include "agent/datapath_nft.h"

/* An endpoint's four lookup maps per direction, in the order its chain looks them up. */
enum map_kind { MAP_CLS, MAP_CLSANY, MAP_ANY, MAP_REST, N_MAPS };
extern const char *const mseg_nft_map_suffix[N_MAPS];

struct elemvec {
	struct mseg_nft_elem *v;
	size_t n, cap;
};

static inline bool elemvec_has_ret(const struct elemvec *v)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->v[i].ret)
			return true;
	return false;
}

/* A decision chain the mirror knows (plain allows have none unless --flows). */
struct dec {
	struct mseg_nft_decision d;
	char name[MSEG_NFT_NAME_MAX];
	size_t refs;	 /* programmed elements pointing at it */
	long pending;	 /* change of refs the batch being built makes */
	bool programmed; /* its chain and counter exist */
};

struct nft_ep {
	struct mseg_dp_endpoint ep;
	char base[MSEG_NFT_NAME_MAX - 16]; /* room for the longest suffix */
	struct elemvec prog[2][N_MAPS];	   /* what the kernel holds, sorted */
	struct elemvec next[2][N_MAPS];	   /* planned by the batch being built */
	bool touched;
};

struct mseg_nflog;

struct mseg_datapath {
	struct mseg_datapath_config cfg;
	struct mnl_socket *nl;
	uint32_t seq;
	bool adopted; /* the table existed: objects may exist, creation must be idempotent */

	struct mseg_nft_mirror mir; /* the compiled state programmed */

	struct nft_ep **eps;
	size_t n_eps;
	struct dec **decs; /* sorted by name */
	size_t n_decs;

	struct mseg_nflog *nflog;
	bool flows;	    /* msegd --flows: plain allows are chains that log new connections */
	bool nflog_overran; /* the last read reported an overrun: the retry reads nothing */
	char err[512];
};

/* The datapath ops of events (datapath_nft_events.c). */
int mseg_nft_event_fd(struct mseg_datapath *dp);
int mseg_nft_events_read(struct mseg_datapath *dp, unsigned budget, mseg_dp_event_fn fn,
			 void *userdata);

#endif
