// SPDX-License-Identifier: Apache-2.0
/* Shared loading and argument parsing of the offline policy tools; see policy_offline.h. */
#include "tools/policy_offline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/diag.h"
#include "policy/parse.h"
#include "policy/topology.h"

static void diag_print(const struct mseg_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		_cleanup_free_ char *line = mseg_diag_entry_format(&d->items[i]);

		fprintf(stderr, "%s\n", line ? line : d->items[i].message);
	}
}

int mseg_offline_load(struct mseg_offline *o, const char *endpoints_path, char *const *policies,
		      size_t n_policies)
{
	struct mseg_diag diag = {0};
	int r;

	*o = (struct mseg_offline){0};
	r = mseg_topology_load(endpoints_path, &o->topo, &diag);
	if (r < 0) {
		if (diag.n)
			diag_print(&diag);
		else
			log_errno(r, "cannot load endpoints file '%s'", endpoints_path);
		mseg_diag_free(&diag);
		return -EINVAL;
	}
	if (n_policies == 0)
		return 0;
	r = mseg_policy_load(policies, n_policies, &o->set, &diag);
	if (r < 0) {
		if (diag.n)
			diag_print(&diag);
		else
			log_errno(r, "cannot load policies from '%s'", policies[0]);
		mseg_diag_free(&diag);
		mseg_offline_free(o);
		return -EINVAL;
	}
	mseg_diag_free(&diag);
	return 0;
}

void mseg_offline_free(struct mseg_offline *o)
{
	if (!o)
		return;
	mseg_topology_free(&o->topo);
	mseg_policy_set_free(&o->set);
}

static int parse_u(const char *s, size_t len, unsigned max, unsigned *ret)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int mseg_offline_parse_port(const char *arg, uint8_t *proto, uint16_t *port, const char **why)
{
	const char *slash = strrchr(arg, '/');
	const char *p;
	size_t nlen;
	unsigned v, code = 0;

	if (!slash) {
		*why = "expected PORT/PROTO, e.g. 80/tcp or 8/icmp";
		return -EINVAL;
	}
	p = slash + 1;
	nlen = (size_t)(slash - arg);
	if (!strcasecmp(p, "tcp") || !strcasecmp(p, "udp") || !strcasecmp(p, "sctp")) {
		if (parse_u(arg, nlen, 65535, &v) < 0 || v == 0) {
			*why = "the port must be a number 1-65535";
			return -EINVAL;
		}
		*proto = !strcasecmp(p, "tcp")	 ? MSEG_PROTO_TCP
			 : !strcasecmp(p, "udp") ? MSEG_PROTO_UDP
						 : MSEG_PROTO_SCTP;
		*port = (uint16_t)v;
		return 0;
	}
	if (!strcasecmp(p, "icmp")) {
		const char *colon = memchr(arg, ':', nlen);
		size_t tlen = colon ? (size_t)(colon - arg) : nlen;

		if (parse_u(arg, tlen, 255, &v) < 0 ||
		    (colon && parse_u(colon + 1, nlen - tlen - 1, 255, &code) < 0)) {
			*why = "for icmp, expected TYPE or TYPE:CODE (0-255 each), e.g. 8/icmp";
			return -EINVAL;
		}
		*proto = MSEG_PROTO_ICMP;
		*port = (uint16_t)(v << 8 | code);
		return 0;
	}
	*why = "the protocol must be tcp, udp, sctp or icmp";
	return -EINVAL;
}

const char *mseg_offline_proto_name(uint8_t proto)
{
	switch (proto) {
	case MSEG_PROTO_TCP:
		return "TCP";
	case MSEG_PROTO_UDP:
		return "UDP";
	case MSEG_PROTO_SCTP:
		return "SCTP";
	case MSEG_PROTO_ICMP:
		return "ICMP";
	}
	return "?";
}

const char *mseg_offline_port_format(uint8_t proto, uint16_t port, char *buf, size_t size)
{
	if (proto == MSEG_PROTO_ICMP)
		snprintf(buf, size, "%u:%u/ICMP", port >> 8, port & 0xffu);
	else
		snprintf(buf, size, "%u/%s", port, mseg_offline_proto_name(proto));
	return buf;
}

int mseg_offline_flow_end(const struct mseg_topology *t, const char *arg, struct mseg_flow_end *ret,
			  const char **why)
{
	const char *slash = strchr(arg, '/');
	const char *ignored;
	struct mseg_cidr ip;

	if (mseg_cidr_parse(arg, false, &ip, &ignored) == 0 && ip.prefixlen == 32) {
		for (size_t i = 0; i < t->n_endpoints; i++)
			if (mseg_cidr_cmp(&t->endpoints[i].ip, &ip) == 0) {
				*ret = (struct mseg_flow_end){.ep = &t->endpoints[i], .ip = ip};
				return 0;
			}
		*ret = (struct mseg_flow_end){.ep = NULL, .ip = ip};
		return 0;
	}
	if (!slash) {
		*why = "expected NAMESPACE/NAME of an endpoint or an IPv4 address";
		return -EINVAL;
	}
	for (size_t i = 0; i < t->n_endpoints; i++) {
		const struct mseg_endpoint *e = &t->endpoints[i];
		size_t nslen = (size_t)(slash - arg);

		if (strlen(e->namespace) == nslen && !strncmp(e->namespace, arg, nslen) &&
		    !strcmp(e->name, slash + 1)) {
			*ret = (struct mseg_flow_end){.ep = e, .ip = e->ip};
			return 0;
		}
	}
	*why = "no such endpoint in the endpoints file";
	return -ENOENT;
}

const char *mseg_offline_kind_name(enum mseg_policy_kind kind)
{
	switch (kind) {
	case MSEG_KIND_NETWORK_POLICY:
		return "NetworkPolicy";
	case MSEG_KIND_POLICY:
		return "Policy";
	case MSEG_KIND_CLUSTER_POLICY:
		return "ClusterPolicy";
	}
	return "?";
}

const struct mseg_policy *mseg_offline_policy(const struct mseg_policy_set *set, uint32_t id)
{
	for (size_t i = 0; i < set->n_policies; i++)
		if (set->policies[i].id == id)
			return &set->policies[i];
	return NULL;
}
