// SPDX-License-Identifier: Apache-2.0
/*
 * Rules, peers, ports and ipBlocks: the parts every policy kind shares. The flavour decides
 * which fields exist (Kubernetes NetworkPolicy has no action and no ICMP; a ClusterPolicy
 * names endpoints with endpointSelector instead of podSelector).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "policy/parse_internal.h"

static void ipblock_decode(struct mseg_pctx *c, const struct mseg_ynode *node,
			   struct mseg_ipblock *ib, bool *cidr_ok)
{
	static const char *const fields[] = {"cidr", "except", NULL};
	const struct mseg_ynode *cidr, *except;
	char buf[MSEG_CIDR_STRLEN];
	const char *s, *why = NULL;
	size_t old;

	*cidr_ok = false;
	if (!mseg_pctx_check_map(c, node, fields))
		return;
	cidr = mseg_ynode_get(node, "cidr");
	except = mseg_ynode_get(node, "except");
	if (!cidr) {
		mseg_pctx_missing(c, node, "cidr", "a prefix like 10.0.0.0/8");
	} else {
		old = mseg_pctx_push(c, "cidr");
		s = mseg_pctx_string(c, cidr);
		/* Kubernetes wants CIDR notation here and accepts host bits (10.0.0.1/24). */
		if (s && !strchr(s, '/'))
			mseg_pctx_error(c, cidr, "\"%s\" is not a prefix, expected a.b.c.d/n", s);
		else if (s && mseg_cidr_parse(s, true, &ib->cidr, &why) < 0)
			mseg_pctx_error(c, cidr, "\"%s\" %s", s, why);
		else if (s)
			*cidr_ok = true;
		mseg_pctx_pop(c, old);
	}
	if (!except)
		return;
	old = mseg_pctx_push(c, "except");
	if (mseg_pctx_expect_seq(c, except) && except->n > 0) {
		ib->except = calloc(except->n, sizeof(*ib->except));
		if (!ib->except) {
			mseg_pctx_fail(c, -ENOMEM);
			mseg_pctx_pop(c, old);
			return;
		}
		for (size_t i = 0; i < except->n; i++) {
			const struct mseg_ynode *e = except->values[i];
			size_t old_i = mseg_pctx_push_index(c, i);
			struct mseg_cidr x;

			s = mseg_pctx_string(c, e);
			if (s && !strchr(s, '/')) {
				mseg_pctx_error(c, e, "\"%s\" is not a prefix, expected a.b.c.d/n",
						s);
			} else if (s && mseg_cidr_parse(s, true, &x, &why) < 0) {
				mseg_pctx_error(c, e, "\"%s\" %s", s, why);
			} else if (s && *cidr_ok &&
				   (!mseg_cidr_contains(&ib->cidr, &x) ||
				    x.prefixlen <= ib->cidr.prefixlen)) {
				mseg_pctx_error(c, e, "%s must be strictly inside cidr %s", s,
						mseg_cidr_format(&ib->cidr, false, buf));
			} else if (s) {
				ib->except[ib->n_except++] = x;
			}
			mseg_pctx_pop(c, old_i);
		}
	}
	mseg_pctx_pop(c, old);
}

static void peer_decode(struct mseg_pctx *c, const struct mseg_ynode *node, enum mseg_pflavor fl,
			struct mseg_peer *p)
{
	static const char *const ns_fields[] = {"podSelector", "namespaceSelector", "ipBlock",
						NULL};
	static const char *const cl_fields[] = {"namespaceSelector", "endpointSelector", "ipBlock",
						NULL};
	const char *ep_name =
	    fl == MSEG_PFLAVOR_CLUSTER_POLICY ? "endpointSelector" : "podSelector";
	const struct mseg_ynode *ep, *ns, *ib;
	unsigned errors = c->errors;
	bool cidr_ok;
	size_t old;

	if (!mseg_pctx_check_map(c, node,
				 fl == MSEG_PFLAVOR_CLUSTER_POLICY ? cl_fields : ns_fields))
		return;
	ep = mseg_ynode_get(node, ep_name);
	ns = mseg_ynode_get(node, "namespaceSelector");
	ib = mseg_ynode_get(node, "ipBlock");
	if (ib && (ep || ns)) {
		mseg_pctx_error(c, node, "ipBlock may not be combined with %s or namespaceSelector",
				ep_name);
		return;
	}
	if (!ib && !ep && !ns) {
		/* A misspelt selector was just reported; "needs a selector" would say it twice. */
		if (c->errors == errors)
			mseg_pctx_error(c, node, "a peer needs %s, namespaceSelector or ipBlock",
					ep_name);
		return;
	}
	if (ib) {
		p->kind = MSEG_PEER_IPBLOCK;
		old = mseg_pctx_push(c, "ipBlock");
		ipblock_decode(c, ib, &p->ipblock, &cidr_ok);
		mseg_pctx_pop(c, old);
		return;
	}
	p->kind = MSEG_PEER_ENDPOINTS;
	if (ns) {
		p->has_ns_sel = true;
		old = mseg_pctx_push(c, "namespaceSelector");
		mseg_pctx_selector(c, ns, &p->ns_sel);
		mseg_pctx_pop(c, old);
	}
	if (ep) {
		p->has_ep_sel = true;
		old = mseg_pctx_push(c, ep_name);
		mseg_pctx_selector(c, ep, &p->ep_sel);
		mseg_pctx_pop(c, old);
	}
}

static void icmp_decode(struct mseg_pctx *c, const struct mseg_ynode *node, struct mseg_port *q)
{
	static const char *const fields[] = {"type", "code", NULL};
	const struct mseg_ynode *type, *code;
	long long v;
	size_t old;

	if (!mseg_pctx_check_map(c, node, fields))
		return;
	type = mseg_ynode_get(node, "type");
	code = mseg_ynode_get(node, "code");
	if (type) {
		old = mseg_pctx_push(c, "type");
		if (mseg_pctx_int(c, type, 0, 255, &v))
			q->icmp_type = (int)v;
		mseg_pctx_pop(c, old);
	}
	if (code) {
		old = mseg_pctx_push(c, "code");
		if (!type)
			mseg_pctx_error(c, code, "an ICMP code needs an ICMP type");
		else if (mseg_pctx_int(c, code, 0, 255, &v))
			q->icmp_code = (int)v;
		mseg_pctx_pop(c, old);
	}
}

static void port_decode(struct mseg_pctx *c, const struct mseg_ynode *node, enum mseg_pflavor fl,
			struct mseg_port *q)
{
	static const char *const k8s_fields[] = {"protocol", "port", "endPort", NULL};
	static const char *const mseg_fields[] = {"protocol", "port", "endPort", "icmp", NULL};
	const struct mseg_ynode *proto, *port, *end, *icmp;
	bool port_ok = false;
	long long v;
	size_t old;
	int pr;

	q->proto = MSEG_PROTO_TCP;
	q->icmp_type = -1;
	q->icmp_code = -1;
	/* "Every port": a range the compiler can use as is, even if it ignored has_port. */
	q->port = 0;
	q->end_port = 65535;
	if (!mseg_pctx_check_map(c, node,
				 fl == MSEG_PFLAVOR_NETWORK_POLICY ? k8s_fields : mseg_fields))
		return;
	proto = mseg_ynode_get(node, "protocol");
	port = mseg_ynode_get(node, "port");
	end = mseg_ynode_get(node, "endPort");
	icmp = mseg_ynode_get(node, "icmp");
	if (proto) {
		old = mseg_pctx_push(c, "protocol");
		pr = mseg_pctx_protocol(c, proto, fl != MSEG_PFLAVOR_NETWORK_POLICY);
		if (pr >= 0)
			q->proto = (uint8_t)pr;
		mseg_pctx_pop(c, old);
		if (pr < 0)
			return;
	}
	if (q->proto == MSEG_PROTO_ICMP) {
		if (port) {
			old = mseg_pctx_push(c, "port");
			mseg_pctx_error(c, port, "ICMP has no ports, use icmp: {type, code}");
			mseg_pctx_pop(c, old);
		}
		if (end) {
			old = mseg_pctx_push(c, "endPort");
			mseg_pctx_error(c, end, "ICMP has no ports, use icmp: {type, code}");
			mseg_pctx_pop(c, old);
		}
		if (icmp) {
			old = mseg_pctx_push(c, "icmp");
			icmp_decode(c, icmp, q);
			mseg_pctx_pop(c, old);
		}
		return;
	}
	if (icmp) {
		old = mseg_pctx_push(c, "icmp");
		mseg_pctx_error(c, icmp, "only valid with protocol ICMP");
		mseg_pctx_pop(c, old);
	}
	if (port) {
		old = mseg_pctx_push(c, "port");
		if (port->type == MSEG_YNODE_SCALAR && port->kind == MSEG_YSCALAR_STRING) {
			const char *why = NULL;
			const char *s = mseg_pctx_string(c, port);

			if (s && !mseg_port_name_valid(s, &why)) {
				mseg_pctx_error(c, port, "\"%s\" is not a valid port name: %s", s,
						why);
			} else if (s) {
				q->named_port = strdup(s);
				if (!q->named_port)
					mseg_pctx_fail(c, -ENOMEM);
			}
		} else if (port->type == MSEG_YNODE_SCALAR &&
			   (port->kind == MSEG_YSCALAR_INT || port->kind == MSEG_YSCALAR_FLOAT)) {
			if (mseg_pctx_int(c, port, 1, 65535, &v)) {
				q->has_port = true;
				q->port = (uint16_t)v;
				q->end_port = (uint16_t)v;
				port_ok = true;
			}
		} else {
			mseg_pctx_error(c, port, "expected a port number or name, got %s",
					mseg_ynode_describe(port));
		}
		mseg_pctx_pop(c, old);
	}
	if (end) {
		old = mseg_pctx_push(c, "endPort");
		if (!port)
			mseg_pctx_error(c, end, "endPort needs a numeric port");
		else if (port->type == MSEG_YNODE_SCALAR && port->kind == MSEG_YSCALAR_STRING)
			mseg_pctx_error(c, end, "endPort needs a numeric port, not a named one");
		else if (mseg_pctx_int(c, end, 1, 65535, &v) && port_ok) {
			if (v < q->port)
				mseg_pctx_error(c, end, "%lld is less than port %u", v, q->port);
			else
				q->end_port = (uint16_t)v;
		}
		mseg_pctx_pop(c, old);
	}
}

static void rule_decode(struct mseg_pctx *c, const struct mseg_ynode *node, enum mseg_pflavor fl,
			bool ingress, bool admin_tier, struct mseg_rule *r)
{
	static const char *const in_k8s[] = {"from", "ports", NULL};
	static const char *const eg_k8s[] = {"to", "ports", NULL};
	static const char *const in_mseg[] = {"action", "from", "ports", NULL};
	static const char *const eg_mseg[] = {"action", "to", "ports", NULL};
	static const char *const actions[] = {"allow", "deny", "pass", NULL};
	static const char *const actions_ns[] = {"allow", "deny", NULL};
	const char *peers_key = ingress ? "from" : "to";
	const struct mseg_ynode *action, *peers, *ports;
	size_t old;

	r->action = MSEG_ACTION_ALLOW;
	r->line = node->line;
	if (!mseg_pctx_check_map(c, node,
				 fl == MSEG_PFLAVOR_NETWORK_POLICY ? (ingress ? in_k8s : eg_k8s)
								   : (ingress ? in_mseg : eg_mseg)))
		return;
	action = fl == MSEG_PFLAVOR_NETWORK_POLICY ? NULL : mseg_ynode_get(node, "action");
	peers = mseg_ynode_get(node, peers_key);
	ports = mseg_ynode_get(node, "ports");
	if (action) {
		int a;

		old = mseg_pctx_push(c, "action");
		if (fl == MSEG_PFLAVOR_CLUSTER_POLICY && !admin_tier &&
		    action->type == MSEG_YNODE_SCALAR && !strcmp(action->value, "pass")) {
			mseg_pctx_error(c, action,
					"\"pass\" is only allowed in tier admin, "
					"expected allow or deny");
			a = -1;
		} else {
			a = mseg_pctx_enum(
			    c, action, fl == MSEG_PFLAVOR_CLUSTER_POLICY ? actions : actions_ns);
		}
		if (a >= 0)
			r->action = (enum mseg_action)a;
		mseg_pctx_pop(c, old);
	}
	if (peers) {
		old = mseg_pctx_push(c, peers_key);
		if (mseg_pctx_expect_seq(c, peers) && peers->n > 0) {
			r->peers = calloc(peers->n, sizeof(*r->peers));
			if (!r->peers) {
				mseg_pctx_fail(c, -ENOMEM);
			} else {
				r->n_peers = peers->n;
				for (size_t i = 0; i < peers->n && !c->fatal; i++) {
					size_t old_i = mseg_pctx_push_index(c, i);

					peer_decode(c, peers->values[i], fl, &r->peers[i]);
					mseg_pctx_pop(c, old_i);
				}
			}
		}
		mseg_pctx_pop(c, old);
	}
	if (ports) {
		old = mseg_pctx_push(c, "ports");
		if (mseg_pctx_expect_seq(c, ports) && ports->n > 0) {
			r->ports = calloc(ports->n, sizeof(*r->ports));
			if (!r->ports) {
				mseg_pctx_fail(c, -ENOMEM);
			} else {
				r->n_ports = ports->n;
				for (size_t i = 0; i < ports->n && !c->fatal; i++) {
					size_t old_i = mseg_pctx_push_index(c, i);

					port_decode(c, ports->values[i], fl, &r->ports[i]);
					mseg_pctx_pop(c, old_i);
				}
			}
		}
		mseg_pctx_pop(c, old);
	}
}

void mseg_pctx_rules(struct mseg_pctx *c, const struct mseg_ynode *list, enum mseg_pflavor fl,
		     bool ingress, bool admin_tier, struct mseg_rule **rules, size_t *n_rules)
{
	struct mseg_rule *rs;

	if (!mseg_pctx_expect_seq(c, list) || list->n == 0)
		return;
	rs = calloc(list->n, sizeof(*rs));
	if (!rs) {
		mseg_pctx_fail(c, -ENOMEM);
		return;
	}
	*rules = rs;
	*n_rules = list->n;
	for (size_t i = 0; i < list->n && !c->fatal; i++) {
		size_t old = mseg_pctx_push_index(c, i);

		rule_decode(c, list->values[i], fl, ingress, admin_tier, &rs[i]);
		mseg_pctx_pop(c, old);
	}
}
