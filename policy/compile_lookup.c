// SPDX-License-Identifier: Apache-2.0
/*
 * The lookup contract of policy/compile.h in plain C: what the datapath does per packet, kept
 * here as the oracle the backends and the property test compare with.
 */
#include <errno.h>
#include <stdlib.h>

#include "policy/cidr.h"
#include "policy/compile.h"

/* Longest-prefix match of addr in the ipcache (sorted by address, then prefix length). */
static uint32_t ipcache_class(const struct mseg_compiled *c, const struct mseg_cidr *addr)
{
	const struct mseg_ipcache_entry *best = NULL;

	/* prefixes nest or are disjoint, and there are few of them per address: a linear scan
	 * stays exact and simple here (the datapath uses an LPM trie) */
	for (size_t i = 0; i < c->n_ipcache; i++) {
		const struct mseg_ipcache_entry *e = &c->ipcache[i];

		if (mseg_cidr_contains(&e->prefix, addr) &&
		    (!best || e->prefix.prefixlen > best->prefix.prefixlen))
			best = e;
	}
	return best ? best->class : MSEG_ID_WORLD;
}

/* First entry >= (endpoint, dir, remote, proto, port_lo = 0) in the sorted table. */
static size_t lower_bound(const struct mseg_compiled *c, uint32_t endpoint, uint8_t dir,
			  uint32_t remote, uint8_t proto)
{
	size_t lo = 0, hi = c->n_entries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mseg_table_entry *e = &c->entries[mid];
		int less;

		if (e->endpoint != endpoint)
			less = e->endpoint < endpoint;
		else if (e->dir != dir)
			less = e->dir < dir;
		else if (e->remote != remote)
			less = e->remote < remote;
		else
			less = e->proto < proto;
		if (less)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const struct mseg_table_entry *find(const struct mseg_compiled *c, uint32_t endpoint,
					   uint8_t dir, uint32_t remote, uint8_t proto,
					   uint16_t port)
{
	for (size_t i = lower_bound(c, endpoint, dir, remote, proto); i < c->n_entries; i++) {
		const struct mseg_table_entry *e = &c->entries[i];

		if (e->endpoint != endpoint || e->dir != dir || e->remote != remote ||
		    e->proto != proto || e->port_lo > port)
			break;
		if (port <= e->port_hi)
			return e;
	}
	return NULL;
}

int mseg_compiled_lookup(const struct mseg_compiled *c, uint32_t endpoint, enum mseg_dir dir,
			 const struct mseg_cidr *remote, uint8_t proto, uint16_t port,
			 uint8_t *verdict, uint8_t *audit, struct mseg_decider *decided_by)
{
	const struct mseg_endpoint_default *def = NULL;
	const struct mseg_table_entry *e = NULL;
	uint32_t cls;
	size_t lo, hi;

	if (!c || !remote || (dir != MSEG_DIR_INGRESS && dir != MSEG_DIR_EGRESS))
		return -EINVAL;
	cls = ipcache_class(c, remote);
	if (proto != MSEG_PROTO_ANY)
		e = find(c, endpoint, (uint8_t)dir, cls, proto, port);
	if (!e)
		e = find(c, endpoint, (uint8_t)dir, cls, MSEG_PROTO_ANY, port);
	if (!e && proto != MSEG_PROTO_ANY)
		e = find(c, endpoint, (uint8_t)dir, MSEG_ID_ANY, proto, port);
	if (!e)
		e = find(c, endpoint, (uint8_t)dir, MSEG_ID_ANY, MSEG_PROTO_ANY, port);
	if (e) {
		if (verdict)
			*verdict = e->verdict;
		if (audit)
			*audit = e->audit;
		if (decided_by)
			*decided_by = e->decided_by;
		return 0;
	}
	for (lo = 0, hi = c->n_defaults; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->defaults[dir][mid].endpoint == endpoint) {
			def = &c->defaults[dir][mid];
			break;
		}
		if (c->defaults[dir][mid].endpoint < endpoint)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!def)
		return -ENOENT;
	if (verdict)
		*verdict = def->verdict;
	if (audit)
		*audit = def->audit;
	if (decided_by)
		*decided_by = def->decided_by;
	return 0;
}
