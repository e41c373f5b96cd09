// SPDX-License-Identifier: Apache-2.0
/*
 * IPAM for one IPv4 pool: a bitmap over the usable addresses (network+1 .. broadcast-1) and
 * a cursor at the last address handed out, so allocation moves round the pool and a just
 * released address is the last to come back (a stale peer's packets cannot reach a new owner
 * at once).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "policy/cidr.h"
#include "runtime/ipam.h"

/* Pools up to /8: a 2 MiB bitmap at most; larger pod CIDRs per node make no sense. */
#define IPAM_MIN_PREFIXLEN 8

struct mseg_ipam {
	uint32_t first;	 /* first usable address, host order */
	uint32_t size;	 /* usable addresses */
	uint32_t used;	 /* set bits */
	uint32_t cursor; /* index of the last address handed out, or size-1 before the first */
	uint64_t *bits;
};

int mseg_ipam_new(const struct mseg_cidr *pool, struct mseg_ipam **ret)
{
	struct mseg_ipam *ipam;
	struct mseg_cidr net;
	uint32_t host_bits;

	if (!pool || !ret || pool->family != MSEG_AF_INET || pool->prefixlen < IPAM_MIN_PREFIXLEN ||
	    pool->prefixlen > 30)
		return -EINVAL;
	net = mseg_cidr_from_v4(mseg_cidr_v4(pool), pool->prefixlen);
	host_bits = 32 - pool->prefixlen;
	/* A pool with host bits set is a typo for something else; refuse rather than guess. */
	if (mseg_cidr_v4(pool) & ((1u << host_bits) - 1))
		return -EINVAL;
	ipam = calloc(1, sizeof(*ipam));
	if (!ipam)
		return -ENOMEM;
	ipam->first = mseg_cidr_v4(&net) + 1;
	ipam->size = (1u << host_bits) - 2;
	ipam->cursor = ipam->size - 1;
	ipam->bits = calloc((ipam->size + 63) / 64, sizeof(uint64_t));
	if (!ipam->bits) {
		free(ipam);
		return -ENOMEM;
	}
	*ret = ipam;
	return 0;
}

void mseg_ipam_free(struct mseg_ipam *ipam)
{
	if (!ipam)
		return;
	free(ipam->bits);
	free(ipam);
}

static bool bit_test(const struct mseg_ipam *ipam, uint32_t i)
{
	return ipam->bits[i / 64] & (1ull << (i % 64));
}

static void bit_flip(struct mseg_ipam *ipam, uint32_t i)
{
	ipam->bits[i / 64] ^= 1ull << (i % 64);
}

/* The index of addr in the pool; -ERANGE for anything but a usable /32 of it. */
static int64_t index_of(const struct mseg_ipam *ipam, const struct mseg_cidr *addr)
{
	uint32_t a;

	if (!addr || addr->family != MSEG_AF_INET || addr->prefixlen != 32)
		return -ERANGE;
	a = mseg_cidr_v4(addr);
	if (a < ipam->first || a - ipam->first >= ipam->size)
		return -ERANGE;
	return a - ipam->first;
}

int mseg_ipam_allocate(struct mseg_ipam *ipam, struct mseg_cidr *ret)
{
	uint32_t i, n;

	if (ipam->used == ipam->size)
		return -ENOSPC;
	/* Walk from just after the cursor, wrapping; skip full words so a big pool stays fast. */
	i = ipam->cursor + 1 == ipam->size ? 0 : ipam->cursor + 1;
	for (n = 0; n < ipam->size; n++) {
		if (i % 64 == 0 && ipam->bits[i / 64] == UINT64_MAX && ipam->size - i >= 64) {
			n += 63;
			i += 64;
			if (i >= ipam->size)
				i = 0;
			continue;
		}
		if (!bit_test(ipam, i))
			break;
		i = i + 1 == ipam->size ? 0 : i + 1;
	}
	if (bit_test(ipam, i))
		return -ENOSPC; /* unreachable while used < size; kept for safety of the count */
	bit_flip(ipam, i);
	ipam->used++;
	ipam->cursor = i;
	*ret = mseg_cidr_from_v4(ipam->first + i, 32);
	return 0;
}

int mseg_ipam_reserve(struct mseg_ipam *ipam, const struct mseg_cidr *addr)
{
	int64_t i = index_of(ipam, addr);

	if (i < 0)
		return (int)i;
	if (bit_test(ipam, (uint32_t)i))
		return -EEXIST;
	bit_flip(ipam, (uint32_t)i);
	ipam->used++;
	return 0;
}

int mseg_ipam_release(struct mseg_ipam *ipam, const struct mseg_cidr *addr)
{
	int64_t i = index_of(ipam, addr);

	if (i < 0)
		return (int)i;
	if (!bit_test(ipam, (uint32_t)i))
		return -ENOENT;
	bit_flip(ipam, (uint32_t)i);
	ipam->used--;
	return 0;
}

size_t mseg_ipam_available(const struct mseg_ipam *ipam)
{
	return ipam->size - ipam->used;
}

bool mseg_ipam_in_use(const struct mseg_ipam *ipam, const struct mseg_cidr *addr)
{
	int64_t i = index_of(ipam, addr);

	return i >= 0 && bit_test(ipam, (uint32_t)i);
}
