/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IPv4 address management for one pool (a node's pod CIDR). In memory only: the caller
 * persists what it allocated and, after a restart, reserves those addresses again before
 * allocating new ones.
 */
#ifndef MSEG_RUNTIME_IPAM_H
#define MSEG_RUNTIME_IPAM_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/model.h"

struct mseg_ipam;

/*
 * Usable addresses: network+1 .. broadcast-1 (the whole range for /31 and /32 is refused:
 * -EINVAL; so is a non-IPv4 pool, one with host bits set, or one larger than a /8).
 */
int mseg_ipam_new(const struct mseg_cidr *pool, struct mseg_ipam **ret);
void mseg_ipam_free(struct mseg_ipam *ipam);
/*
 * Next free address after the last one handed out (wrapping), so a freed address is not
 * reused at once; -ENOSPC when the pool is exhausted. *ret is a /32.
 */
int mseg_ipam_allocate(struct mseg_ipam *ipam, struct mseg_cidr *ret);
/* Marks addr (a /32) as used: -EEXIST if already used, -ERANGE if not a usable address. */
int mseg_ipam_reserve(struct mseg_ipam *ipam, const struct mseg_cidr *addr);
/* -ENOENT if addr is not in use, -ERANGE if not a usable address of the pool. */
int mseg_ipam_release(struct mseg_ipam *ipam, const struct mseg_cidr *addr);
size_t mseg_ipam_available(const struct mseg_ipam *ipam);
/* true when addr is a usable address of the pool and currently handed out. */
bool mseg_ipam_in_use(const struct mseg_ipam *ipam, const struct mseg_cidr *addr);

#endif
