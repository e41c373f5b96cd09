/* SPDX-License-Identifier: Apache-2.0 */
/* Addresses and prefixes (struct mseg_cidr, policy/model.h): parse, format, compare. */
#ifndef MSEG_POLICY_CIDR_H
#define MSEG_POLICY_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/model.h"

#define MSEG_CIDR_STRLEN 64

/*
 * Parses "a.b.c.d" (a /32) or "a.b.c.d/n". Host bits beyond the prefix are an error
 * (-EINVAL with *why set) unless allow_host_bits, in which case they are cleared: Kubernetes
 * accepts "10.0.0.1/24" in an ipBlock and means 10.0.0.0/24.
 */
int mseg_cidr_parse(const char *s, bool allow_host_bits, struct mseg_cidr *ret, const char **why);
/* "a.b.c.d/n", or "a.b.c.d" for a /32 when bare_host; buf must hold MSEG_CIDR_STRLEN. */
const char *mseg_cidr_format(const struct mseg_cidr *c, bool bare_host, char *buf);
/* true when every address of inner lies in outer (equal prefixes contain each other). */
bool mseg_cidr_contains(const struct mseg_cidr *outer, const struct mseg_cidr *inner);
/* Orders by family, then address, then prefix length: a total order for sorting. */
int mseg_cidr_cmp(const struct mseg_cidr *a, const struct mseg_cidr *b);
/* IPv4 helpers: the address as a host-order integer, and back (prefix /32). */
unsigned mseg_cidr_v4(const struct mseg_cidr *c);
struct mseg_cidr mseg_cidr_from_v4(unsigned host_order_addr, unsigned prefixlen);

#endif
