// SPDX-License-Identifier: Apache-2.0
#include "policy/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t prefix_mask(unsigned prefixlen)
{
	return prefixlen == 0 ? 0 : 0xffffffffu << (32 - prefixlen);
}

unsigned mseg_cidr_v4(const struct mseg_cidr *c)
{
	uint32_t be;

	memcpy(&be, c->addr, sizeof(be));
	return ntohl(be);
}

struct mseg_cidr mseg_cidr_from_v4(unsigned host_order_addr, unsigned prefixlen)
{
	struct mseg_cidr c = {.family = MSEG_AF_INET, .prefixlen = prefixlen};
	uint32_t be = htonl(host_order_addr);

	memcpy(c.addr, &be, sizeof(be));
	return c;
}

int mseg_cidr_parse(const char *s, bool allow_host_bits, struct mseg_cidr *ret, const char **why)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long plen = 32;
	struct in_addr in;
	uint32_t host;

	if (alen == 0 || alen >= sizeof(addr)) {
		*why = "is not an IPv4 address or prefix (expected a.b.c.d or a.b.c.d/n)";
		return -EINVAL;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &in) != 1) {
		*why = "is not an IPv4 address or prefix (expected a.b.c.d or a.b.c.d/n)";
		return -EINVAL;
	}
	if (slash) {
		char *end;

		errno = 0;
		plen = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || errno || plen > 32) {
			*why = "has a prefix length that is not a number from 0 to 32";
			return -EINVAL;
		}
	}
	host = ntohl(in.s_addr);
	if (host & ~prefix_mask(plen)) {
		if (!allow_host_bits) {
			*why = "has bits set beyond its prefix length";
			return -EINVAL;
		}
		host &= prefix_mask(plen);
	}
	*ret = mseg_cidr_from_v4(host, plen);
	return 0;
}

const char *mseg_cidr_format(const struct mseg_cidr *c, bool bare_host, char *buf)
{
	char a[INET_ADDRSTRLEN] = "?";

	inet_ntop(AF_INET, c->addr, a, sizeof(a));
	if (bare_host && c->prefixlen == 32)
		snprintf(buf, MSEG_CIDR_STRLEN, "%s", a);
	else
		snprintf(buf, MSEG_CIDR_STRLEN, "%s/%u", a, c->prefixlen);
	return buf;
}

bool mseg_cidr_contains(const struct mseg_cidr *outer, const struct mseg_cidr *inner)
{
	uint32_t mask = prefix_mask(outer->prefixlen);

	if (outer->family != inner->family || inner->prefixlen < outer->prefixlen)
		return false;
	return (mseg_cidr_v4(inner) & mask) == (mseg_cidr_v4(outer) & mask);
}

int mseg_cidr_cmp(const struct mseg_cidr *a, const struct mseg_cidr *b)
{
	unsigned x, y;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	x = mseg_cidr_v4(a);
	y = mseg_cidr_v4(b);
	if (x != y)
		return x < y ? -1 : 1;
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return 0;
}
