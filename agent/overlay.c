// SPDX-License-Identifier: Apache-2.0
#include "agent/overlay.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "runtime/link.h"
#include "runtime/netlink.h"
#include "runtime/vxlan.h"

struct mseg_overlay {
	struct mseg_overlay_config cfg;
	struct mseg_nl *nl;
	int ifindex;
	struct mseg_vxlan_peer *peers; /* programmed now */
	size_t n_peers;
	bool filter_applied;
};

static int device_up(struct mseg_overlay *ov)
{
	struct mseg_vxlan_config vc = {.ifname = MSEG_VXLAN_IFNAME,
				       .vni = ov->cfg.vni ? ov->cfg.vni : MSEG_VXLAN_VNI,
				       .local = ov->cfg.node_ip,
				       .port = ov->cfg.port,
				       .mtu = ov->cfg.mtu};
	uint8_t mac[6], have[6];
	int ifindex, r;

	mseg_vxlan_mac(&ov->cfg.gateway, mac);
	vc.mac = mac;
	r = mseg_vxlan_create(ov->nl, &vc, &ov->cfg.gateway, &ov->ifindex);
	if (r != -EEXIST)
		return r;
	/*
	 * The previous agent's device: keep it when it is ours for this node (its MAC follows
	 * from our gateway), so traffic to other nodes does not stop across a restart. A device
	 * made for another pod CIDR is replaced.
	 */
	r = mseg_link_get(ov->nl, MSEG_VXLAN_IFNAME, &ifindex, have);
	if (r < 0)
		return r;
	if (!memcmp(have, mac, 6)) {
		ov->ifindex = ifindex;
		r = mseg_addr_add(ov->nl, ifindex, &ov->cfg.gateway);
		if (r < 0 && r != -EEXIST)
			return r;
		return mseg_link_set_up(ov->nl, ifindex, true);
	}
	r = mseg_vxlan_delete(ov->nl, MSEG_VXLAN_IFNAME);
	if (r < 0)
		return r;
	return mseg_vxlan_create(ov->nl, &vc, &ov->cfg.gateway, &ov->ifindex);
}

static int filter_apply(struct mseg_overlay *ov)
{
	_cleanup_free_ struct mseg_cidr *ips = calloc(ov->n_peers + 1, sizeof(*ips));
	int r;

	if (!ips)
		return -ENOMEM;
	ips[0] = ov->cfg.node_ip;
	for (size_t i = 0; i < ov->n_peers; i++)
		ips[i + 1] = ov->peers[i].underlay;
	r = mseg_overlay_filter_apply(ov->cfg.port, ips, ov->n_peers + 1);
	ov->filter_applied = r == 0;
	return r;
}

int mseg_overlay_new(struct mseg_overlay **ret, const struct mseg_overlay_config *cfg)
{
	struct mseg_overlay *ov;
	int r;

	if (!ret || !cfg || cfg->node_ip.family != MSEG_AF_INET || cfg->node_ip.prefixlen != 32)
		return -EINVAL;
	ov = calloc(1, sizeof(*ov));
	if (!ov)
		return -ENOMEM;
	ov->cfg = *cfg;
	r = mseg_nl_open(&ov->nl);
	if (r == 0)
		r = device_up(ov);
	/* From the first moment only known nodes may send VXLAN: this one, until peers join. */
	if (r == 0)
		r = filter_apply(ov);
	if (r < 0) {
		mseg_overlay_free(ov);
		return r;
	}
	*ret = ov;
	return 0;
}

void mseg_overlay_free(struct mseg_overlay *ov)
{
	if (!ov)
		return;
	mseg_nl_close(ov->nl);
	free(ov->peers);
	free(ov);
}

static bool peer_same(const struct mseg_vxlan_peer *a, const struct mseg_vxlan_peer *b)
{
	return !mseg_cidr_cmp(&a->underlay, &b->underlay) &&
	       !mseg_cidr_cmp(&a->pod_cidr, &b->pod_cidr);
}

static ssize_t peer_find(const struct mseg_vxlan_peer *v, size_t n, const struct mseg_vxlan_peer *p)
{
	for (size_t i = 0; i < n; i++)
		if (peer_same(&v[i], p))
			return (ssize_t)i;
	return -1;
}

int mseg_overlay_nodes_set(struct mseg_overlay *ov, const struct mseg_overlay_node *nodes, size_t n,
			   bool *changed)
{
	_cleanup_free_ struct mseg_vxlan_peer *want = calloc(n + 1, sizeof(*want));
	size_t n_want = 0;
	bool diff = false;
	int r, first = 0;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct mseg_vxlan_peer p;

		if (!mseg_cidr_cmp(&nodes[i].ip, &ov->cfg.node_ip))
			continue;
		r = mseg_vxlan_peer_init(&p, &nodes[i].ip, &nodes[i].pod_cidr);
		if (r < 0)
			return r;
		if (peer_find(want, n_want, &p) < 0)
			want[n_want++] = p;
	}
	/* Leavers first: a node that rejoined under a new address must not keep the old one. */
	for (size_t i = 0; i < ov->n_peers; i++) {
		if (peer_find(want, n_want, &ov->peers[i]) >= 0)
			continue;
		r = mseg_vxlan_peer_del(ov->nl, ov->ifindex, &ov->peers[i]);
		if (r < 0 && !first)
			first = r;
		diff = true;
	}
	for (size_t i = 0; i < n_want; i++) {
		if (peer_find(ov->peers, ov->n_peers, &want[i]) >= 0)
			continue;
		r = mseg_vxlan_peer_add(ov->nl, ov->ifindex, &want[i]);
		if (r < 0 && !first)
			first = r;
		diff = true;
	}
	free(ov->peers);
	ov->peers = TAKE_PTR(want);
	ov->n_peers = n_want;
	if (diff || !ov->filter_applied) {
		r = filter_apply(ov);
		if (r < 0 && !first)
			first = r;
	}
	if (changed)
		*changed = diff;
	return first;
}

size_t mseg_overlay_n_peers(const struct mseg_overlay *ov)
{
	return ov ? ov->n_peers : 0;
}

int mseg_overlay_ifindex(const struct mseg_overlay *ov)
{
	return ov ? ov->ifindex : 0;
}
