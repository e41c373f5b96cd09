// SPDX-License-Identifier: Apache-2.0
/*
 * One datapath event into the record people read: names instead of numbers. The datapath
 * knows addresses, identities and a policy id; the agent's desired state knows which endpoint
 * holds an address, its labels, and what policy an id is. For an isolation drop the datapath
 * names only the lowest isolating policy, so the reference evaluator is asked for all of them.
 */
#include "agent/events.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/datapath_bpf.h"
#include "agent/state.h"
#include "policy/cidr.h"
#include "policy/evaluate.h"

void mseg_events_time_format(uint64_t time_ns, char buf[40])
{
	time_t sec = (time_t)(time_ns / 1000000000ull);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%06uZ", (unsigned)(time_ns % 1000000000ull / 1000) % 1000000u);
}

static const char *proto_name(uint8_t proto, char buf[8])
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
	snprintf(buf, 8, "%u", proto);
	return buf;
}

static bool has_ports(uint8_t proto)
{
	return proto == MSEG_PROTO_TCP || proto == MSEG_PROTO_UDP || proto == MSEG_PROTO_SCTP;
}

static const struct mseg_endpoint *endpoint_by_ip(const struct mseg_topology *t,
						  const struct mseg_cidr *ip)
{
	if (!t || ip->family != MSEG_AF_INET)
		return NULL;
	for (size_t i = 0; i < t->n_endpoints; i++)
		if (t->endpoints[i].ip.family == MSEG_AF_INET &&
		    !memcmp(t->endpoints[i].ip.addr, ip->addr, 4))
			return &t->endpoints[i];
	return NULL;
}

static const char *identity_kind(uint32_t id)
{
	switch (id) {
	case MSEG_ID_HOST:
		return "host";
	case MSEG_ID_WORLD:
		return "world";
	case MSEG_ID_UNMANAGED:
		return "unmanaged";
	}
	return id >= MSEG_CLASS_CIDR_BASE ? "cidr" : NULL;
}

/* One end of the flow. */
static json_t *end_json(const struct mseg_endpoint *ep, const struct mseg_cidr *ip,
			uint32_t identity, uint8_t proto, uint16_t port)
{
	char addr[MSEG_CIDR_STRLEN] = "";
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (ep) {
		json_object_set_new(o, "namespace", json_string(ep->namespace));
		json_object_set_new(o, "name", json_string(ep->name));
		json_object_set_new(o, "labels", mseg_labels_to_json(&ep->labels));
	} else {
		const char *k = identity_kind(identity);

		/* not an endpoint of the cluster: an address of the outside world, unless the
		 * datapath classified it otherwise (host, a managed but unknown address) */
		if (!k || !strcmp(k, "cidr"))
			k = "world";
		json_object_set_new(o, k, json_true());
	}
	json_object_set_new(o, "identity", json_integer(identity));
	if (ip->family == MSEG_AF_INET)
		json_object_set_new(o, "ip", json_string(mseg_cidr_format(ip, true, addr)));
	if (has_ports(proto))
		json_object_set_new(o, "port", json_integer(port));
	return o;
}

static const struct mseg_policy *policy_by_id(const struct mseg_policy_set *set, uint32_t id)
{
	if (!set || !id)
		return NULL;
	for (size_t i = 0; i < set->n_policies; i++)
		if (set->policies[i].id == id)
			return &set->policies[i];
	return NULL;
}

static const char *kind_name(enum mseg_policy_kind k)
{
	switch (k) {
	case MSEG_KIND_NETWORK_POLICY:
		return "NetworkPolicy";
	case MSEG_KIND_POLICY:
		return "Policy";
	case MSEG_KIND_CLUSTER_POLICY:
		return "ClusterPolicy";
	}
	return "?";
}

/* {kind, namespace, name, id, mode} of a policy id (only the id when unknown). */
static json_t *policy_ref(const struct mseg_policy_set *set, uint32_t id)
{
	const struct mseg_policy *p = policy_by_id(set, id);
	json_t *o = json_pack("{s:I}", "policy_id", (json_int_t)id);

	if (!o || !p)
		return o;
	json_object_set_new(o, "policy_kind", json_string(kind_name(p->kind)));
	if (p->namespace)
		json_object_set_new(o, "namespace", json_string(p->namespace));
	json_object_set_new(o, "name", json_string(p->name ? p->name : ""));
	if (p->mode == MSEG_MODE_AUDIT)
		json_object_set_new(o, "mode", json_string("audit"));
	return o;
}

void mseg_events_cache_clear(struct mseg_events_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_decref(c->e[i].isolated_by);
	c->n = c->next = 0;
}

static struct mseg_events_cache_entry cache_key(const struct mseg_dp_event *e)
{
	struct mseg_events_cache_entry k = {
	    .endpoint = e->endpoint, .dir = e->dir, .proto = e->proto, .port = e->dport};

	if (e->proto == MSEG_PROTO_ICMP)
		k.port = (uint16_t)(e->sport << 8 | (e->dport & 0xff));
	memcpy(k.saddr, e->saddr.addr, 4);
	memcpy(k.daddr, e->daddr.addr, 4);
	return k;
}

static bool cache_match(const struct mseg_events_cache_entry *a,
			const struct mseg_events_cache_entry *b)
{
	return a->endpoint == b->endpoint && a->dir == b->dir && a->proto == b->proto &&
	       a->port == b->port && !memcmp(a->saddr, b->saddr, 4) &&
	       !memcmp(a->daddr, b->daddr, 4);
}

/* The policies isolating the enforcing endpoint for this flow, per the reference evaluator. */
static json_t *isolated_by_eval(const struct mseg_events_context *ctx,
				const struct mseg_dp_event *e, const struct mseg_endpoint *src,
				const struct mseg_endpoint *dst)
{
	struct mseg_flow flow = {
	    .src = {.ep = src, .ip = e->saddr},
	    .dst = {.ep = dst, .ip = e->daddr},
	    .proto = e->proto,
	    .port = e->proto == MSEG_PROTO_ICMP ? (uint16_t)(e->sport << 8 | (e->dport & 0xff))
						: e->dport,
	};
	struct mseg_eval_result res;
	const struct mseg_side *side;
	json_t *arr = json_array();

	if (!arr || !ctx || !ctx->topo || !ctx->policies || !(src || dst))
		return arr;
	if (mseg_evaluate(ctx->topo, ctx->policies, ctx->opts, &flow, &res) < 0)
		return arr;
	side = e->dir == MSEG_DIR_EGRESS ? &res.egress : &res.ingress;
	for (size_t i = 0; i < side->n_isolated_by; i++)
		json_array_append_new(arr, policy_ref(ctx->policies, side->isolated_by[i]));
	mseg_eval_result_free(&res);
	return arr;
}

static json_t *isolated_by(const struct mseg_events_context *ctx, const struct mseg_dp_event *e,
			   const struct mseg_endpoint *src, const struct mseg_endpoint *dst)
{
	struct mseg_events_cache *c = ctx ? ctx->cache : NULL;
	struct mseg_events_cache_entry k;
	json_t *arr;

	if (!c)
		return isolated_by_eval(ctx, e, src, dst);
	k = cache_key(e);
	for (size_t i = 0; i < c->n; i++)
		if (cache_match(&c->e[i], &k))
			return json_deep_copy(c->e[i].isolated_by);
	arr = isolated_by_eval(ctx, e, src, dst);
	k.isolated_by = arr ? json_deep_copy(arr) : NULL;
	if (!k.isolated_by)
		return arr; /* not cached: asked again next time */
	if (c->n < MSEG_EVENTS_CACHE_N) {
		c->e[c->n++] = k;
	} else {
		json_decref(c->e[c->next].isolated_by);
		c->e[c->next] = k;
		c->next = (c->next + 1) % MSEG_EVENTS_CACHE_N;
	}
	return arr;
}

static json_t *decided_by_json(const struct mseg_events_context *ctx, const struct mseg_dp_event *e,
			       const struct mseg_endpoint *src, const struct mseg_endpoint *dst)
{
	const struct mseg_decider *d = &e->decided_by;
	const struct mseg_policy_set *set = ctx ? ctx->policies : NULL;
	json_t *o, *iso;

	switch ((unsigned)d->kind) {
	case MSEG_DECIDED_RULE:
		if (!d->policy)
			break;
		o = policy_ref(set, d->policy);
		json_object_set_new(o, "kind", json_string("policy"));
		json_object_set_new(o, "rule", json_integer(d->rule));
		json_object_set_new(o, "rule_direction",
				    json_string(d->dir == MSEG_DIR_EGRESS ? "egress" : "ingress"));
		return o;
	case MSEG_DECIDED_ISOLATION:
		iso = isolated_by(ctx, e, src, dst);
		/* an audit-mode isolation is not in the evaluator's list: name it from the event */
		if (iso && json_array_size(iso) == 0 && d->policy)
			json_array_append_new(iso, policy_ref(set, d->policy));
		return json_pack("{s:s,s:o}", "kind", "isolation", "isolated_by",
				 iso ? iso : json_array());
	case MSEG_DECIDED_DEFAULT:
		return json_pack("{s:s,s:s}", "kind", "default", "default",
				 e->reason == MSEG_DROP_DEFAULT_DENY ||
					 (ctx && ctx->opts && ctx->opts->default_deny)
				     ? "deny"
				     : "allow");
	}
	return json_pack("{s:s}", "kind", "none");
}

static const struct mseg_agent_endpoint *local_endpoint(const struct mseg_events_context *ctx,
							uint32_t id)
{
	if (!ctx || !ctx->state || !id)
		return NULL;
	for (size_t i = 0; i < ctx->state->n_endpoints; i++)
		if (ctx->state->endpoints[i]->ep.id == id)
			return ctx->state->endpoints[i];
	return NULL;
}

json_t *mseg_events_enrich(const struct mseg_events_context *ctx, const char *node,
			   const struct mseg_dp_event *e)
{
	const struct mseg_topology *topo = ctx ? ctx->topo : NULL;
	const struct mseg_endpoint *src = endpoint_by_ip(topo, &e->saddr);
	const struct mseg_endpoint *dst = endpoint_by_ip(topo, &e->daddr);
	const struct mseg_endpoint *local = e->dir == MSEG_DIR_EGRESS ? src : dst;
	const struct mseg_agent_endpoint *lep = local_endpoint(ctx, e->endpoint);
	const char *ifname = lep ? lep->ifname : NULL;
	char tbuf[40], pbuf[8];
	json_t *o = json_object();

	if (!o)
		return NULL;
	mseg_events_time_format(e->time_ns, tbuf);
	json_object_set_new(o, "time", json_string(tbuf));
	json_object_set_new(o, "time_ns", json_integer((json_int_t)e->time_ns));
	json_object_set_new(o, "node", json_string(node ? node : ""));
	json_object_set_new(o, "direction",
			    json_string(e->dir == MSEG_DIR_EGRESS ? "egress" : "ingress"));
	json_object_set_new(o, "verdict", json_string(mseg_event_verdict_name(e->verdict)));
	json_object_set_new(o, "reason", json_string(mseg_drop_reason_name(e->reason)));
	json_object_set_new(o, "reason_code", json_integer(e->reason));
	if (e->saddr.family == MSEG_AF_INET) {
		json_object_set_new(o, "protocol", json_string(proto_name(e->proto, pbuf)));
		json_object_set_new(o, "source",
				    end_json(src, &e->saddr, e->src_identity, e->proto, e->sport));
		json_object_set_new(o, "destination",
				    end_json(dst, &e->daddr, e->dst_identity, e->proto, e->dport));
		if (e->proto == MSEG_PROTO_ICMP)
			json_object_set_new(
			    o, "icmp", json_pack("{s:i,s:i}", "type", e->sport, "code", e->dport));
	}
	/* a spoofed source is nobody's address: the endpoint is still known by its id */
	if (!local && lep)
		local = &lep->ep;
	if (local)
		json_object_set_new(o, "endpoint",
				    json_pack("{s:s,s:s,s:I}", "namespace", local->namespace,
					      "name", local->name, "id", (json_int_t)e->endpoint));
	else
		json_object_set_new(o, "endpoint",
				    json_pack("{s:I}", "id", (json_int_t)e->endpoint));
	if (ifname && ifname[0])
		json_object_set_new(o, "interface", json_string(ifname));
	json_object_set_new(o, "decided_by", decided_by_json(ctx, e, src, dst));
	return o;
}
