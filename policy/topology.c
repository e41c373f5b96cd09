// SPDX-License-Identifier: Apache-2.0
/* The endpoints file of the offline tools: namespaces and endpoints, validated like policies. */
#include "policy/topology.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/labels.h"
#include "policy/parse_internal.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name"

static struct mseg_namespace *ns_find(struct mseg_topology *t, const char *name)
{
	for (size_t i = 0; i < t->n_namespaces; i++)
		if (!strcmp(t->namespaces[i].name, name))
			return &t->namespaces[i];
	return NULL;
}

/* Adds a namespace with only its automatic label; the caller fills more labels. */
static int ns_add(struct mseg_topology *t, const char *name, struct mseg_namespace **ret)
{
	struct mseg_namespace *v = realloc(t->namespaces, (t->n_namespaces + 1) * sizeof(*v));
	struct mseg_namespace *ns;
	int r;

	if (!v)
		return -ENOMEM;
	t->namespaces = v;
	ns = &v[t->n_namespaces];
	memset(ns, 0, sizeof(*ns));
	ns->name = strdup(name);
	if (!ns->name)
		return -ENOMEM;
	t->n_namespaces++;
	r = mseg_labels_set(&ns->labels, NS_NAME_LABEL, name);
	if (r < 0)
		return r;
	*ret = ns;
	return 0;
}

static void namespace_decode(struct mseg_pctx *c, const struct mseg_ynode *node,
			     struct mseg_topology *t)
{
	static const char *const fields[] = {"name", "labels", NULL};
	const struct mseg_ynode *name, *labels;
	struct mseg_namespace *ns;
	struct mseg_labels l = {0};
	const char *s, *why = NULL, *auto_v;
	size_t old;

	if (!mseg_pctx_check_map(c, node, fields))
		return;
	name = mseg_ynode_get(node, "name");
	labels = mseg_ynode_get(node, "labels");
	if (!name) {
		mseg_pctx_missing(c, node, "name", "a DNS-1123 label");
		return;
	}
	old = mseg_pctx_push(c, "name");
	s = mseg_pctx_string(c, name);
	if (s && mseg_name_check(s, &why) < 0) {
		mseg_pctx_error(c, name, "\"%s\" is not a valid namespace name: %s", s, why);
		s = NULL;
	} else if (s && ns_find(t, s)) {
		mseg_pctx_error(c, name, "namespace \"%s\" is listed twice", s);
		s = NULL;
	}
	mseg_pctx_pop(c, old);
	if (!s)
		return;
	if (mseg_pctx_fail(c, ns_add(t, s, &ns)))
		return;
	if (!labels)
		return;
	old = mseg_pctx_push(c, "labels");
	mseg_pctx_labels(c, labels, &l);
	auto_v = mseg_labels_get(&l, NS_NAME_LABEL);
	if (auto_v && strcmp(auto_v, s))
		mseg_pctx_error(c, labels, "%s is always the namespace's name \"%s\", not \"%s\"",
				NS_NAME_LABEL, s, auto_v);
	for (size_t i = 0; i < l.n && !c->fatal; i++)
		mseg_pctx_fail(c, mseg_labels_set(&ns->labels, l.items[i].key, l.items[i].value));
	mseg_labels_free(&l);
	mseg_pctx_pop(c, old);
}

static void named_port_decode(struct mseg_pctx *c, const struct mseg_ynode *node,
			      struct mseg_endpoint *e)
{
	static const char *const fields[] = {"name", "port", "protocol", NULL};
	const struct mseg_ynode *name, *port, *proto;
	struct mseg_named_port *np = &e->ports[e->n_ports];
	const char *s, *why = NULL;
	long long v;
	size_t old;
	int pr;

	if (!mseg_pctx_check_map(c, node, fields))
		return;
	name = mseg_ynode_get(node, "name");
	port = mseg_ynode_get(node, "port");
	proto = mseg_ynode_get(node, "protocol");
	np->proto = MSEG_PROTO_TCP;
	if (proto) {
		old = mseg_pctx_push(c, "protocol");
		pr = mseg_pctx_protocol(c, proto, false);
		if (pr > 0)
			np->proto = (uint8_t)pr;
		mseg_pctx_pop(c, old);
	}
	if (!port) {
		mseg_pctx_missing(c, node, "port", "a number from 1 to 65535");
	} else {
		old = mseg_pctx_push(c, "port");
		if (mseg_pctx_int(c, port, 1, 65535, &v))
			np->port = (uint16_t)v;
		mseg_pctx_pop(c, old);
	}
	if (!name) {
		mseg_pctx_missing(c, node, "name", "a port name like serve-80-tcp");
		return;
	}
	old = mseg_pctx_push(c, "name");
	s = mseg_pctx_string(c, name);
	if (s && !mseg_port_name_valid(s, &why)) {
		mseg_pctx_error(c, name, "\"%s\" is not a valid port name: %s", s, why);
		s = NULL;
	}
	for (size_t i = 0; s && i < e->n_ports; i++) {
		if (strcmp(e->ports[i].name, s))
			continue;
		mseg_pctx_error(c, name, "port name \"%s\" is used twice", s);
		s = NULL;
	}
	mseg_pctx_pop(c, old);
	if (!s)
		return;
	np->name = strdup(s);
	if (!np->name) {
		mseg_pctx_fail(c, -ENOMEM);
		return;
	}
	e->n_ports++;
}

static void endpoint_decode(struct mseg_pctx *c, const struct mseg_ynode *node,
			    struct mseg_topology *t)
{
	static const char *const fields[] = {"namespace", "name", "labels", "ip", "ports", NULL};
	const struct mseg_ynode *ns, *name, *labels, *ip, *ports;
	struct mseg_endpoint *e = &t->endpoints[t->n_endpoints];
	struct mseg_namespace *nsp;
	const char *s, *why = NULL;
	char buf[MSEG_CIDR_STRLEN];
	unsigned errors = c->errors;
	size_t old;

	memset(e, 0, sizeof(*e));
	e->id = (uint32_t)t->n_endpoints + 1;
	/* Counted from the start so the destructor frees what a failed decode left behind. */
	t->n_endpoints++;
	if (!mseg_pctx_check_map(c, node, fields))
		return;
	ns = mseg_ynode_get(node, "namespace");
	name = mseg_ynode_get(node, "name");
	labels = mseg_ynode_get(node, "labels");
	ip = mseg_ynode_get(node, "ip");
	ports = mseg_ynode_get(node, "ports");

	if (ns) {
		old = mseg_pctx_push(c, "namespace");
		e->namespace = mseg_pctx_strdup(c, ns);
		if (e->namespace && mseg_name_check(e->namespace, &why) < 0)
			mseg_pctx_error(c, ns, "\"%s\" is not a valid namespace name: %s",
					e->namespace, why);
		mseg_pctx_pop(c, old);
	} else {
		e->namespace = strdup("default");
		if (!e->namespace)
			mseg_pctx_fail(c, -ENOMEM);
	}
	if (!name) {
		mseg_pctx_missing(c, node, "name", "the endpoint's name");
	} else {
		old = mseg_pctx_push(c, "name");
		e->name = mseg_pctx_strdup(c, name);
		if (e->name && mseg_name_check(e->name, &why) < 0)
			mseg_pctx_error(c, name, "\"%s\" is not a valid name: %s", e->name, why);
		for (size_t i = 0; e->name && e->namespace && i + 1 < t->n_endpoints; i++) {
			const struct mseg_endpoint *o = &t->endpoints[i];

			if (o->name && o->namespace && !strcmp(o->name, e->name) &&
			    !strcmp(o->namespace, e->namespace))
				mseg_pctx_error(c, name, "endpoint \"%s/%s\" is listed twice",
						e->namespace, e->name);
		}
		mseg_pctx_pop(c, old);
	}
	if (labels) {
		old = mseg_pctx_push(c, "labels");
		mseg_pctx_labels(c, labels, &e->labels);
		mseg_pctx_pop(c, old);
	}
	if (!ip) {
		mseg_pctx_missing(c, node, "ip", "an IPv4 address");
	} else {
		old = mseg_pctx_push(c, "ip");
		s = mseg_pctx_string(c, ip);
		if (s && (mseg_cidr_parse(s, false, &e->ip, &why) < 0 || e->ip.prefixlen != 32)) {
			mseg_pctx_error(c, ip, "\"%s\" is not an IPv4 address (expected a.b.c.d)",
					s);
		} else if (s) {
			for (size_t i = 0; i + 1 < t->n_endpoints; i++) {
				const struct mseg_endpoint *o = &t->endpoints[i];

				if (o->name && !mseg_cidr_cmp(&o->ip, &e->ip)) {
					mseg_pctx_error(c, ip, "%s is already the address of %s/%s",
							mseg_cidr_format(&e->ip, true, buf),
							o->namespace, o->name);
					break;
				}
			}
		}
		mseg_pctx_pop(c, old);
	}
	if (ports) {
		old = mseg_pctx_push(c, "ports");
		if (mseg_pctx_expect_seq(c, ports) && ports->n > 0) {
			e->ports = calloc(ports->n, sizeof(*e->ports));
			if (!e->ports)
				mseg_pctx_fail(c, -ENOMEM);
			for (size_t i = 0; e->ports && i < ports->n && !c->fatal; i++) {
				size_t o = mseg_pctx_push_index(c, i);

				named_port_decode(c, ports->values[i], e);
				mseg_pctx_pop(c, o);
			}
		}
		mseg_pctx_pop(c, old);
	}
	if (c->errors != errors || c->fatal || !e->namespace)
		return;
	/* Namespaces used but not listed exist with only the automatic label. */
	nsp = ns_find(t, e->namespace);
	if (!nsp)
		mseg_pctx_fail(c, ns_add(t, e->namespace, &nsp));
}

static void topology_decode(struct mseg_pctx *c, const struct mseg_ynode *doc,
			    struct mseg_topology *t)
{
	static const char *const fields[] = {"namespaces", "endpoints", NULL};
	const struct mseg_ynode *nss, *eps;
	size_t old;

	if (!mseg_pctx_check_map(c, doc, fields))
		return;
	nss = mseg_ynode_get(doc, "namespaces");
	eps = mseg_ynode_get(doc, "endpoints");
	if (nss) {
		old = mseg_pctx_push(c, "namespaces");
		for (size_t i = 0; mseg_pctx_expect_seq(c, nss) && i < nss->n && !c->fatal; i++) {
			size_t o = mseg_pctx_push_index(c, i);

			namespace_decode(c, nss->values[i], t);
			mseg_pctx_pop(c, o);
		}
		mseg_pctx_pop(c, old);
	}
	if (eps) {
		old = mseg_pctx_push(c, "endpoints");
		if (mseg_pctx_expect_seq(c, eps) && eps->n > 0) {
			t->endpoints = calloc(eps->n, sizeof(*t->endpoints));
			if (!t->endpoints)
				mseg_pctx_fail(c, -ENOMEM);
			for (size_t i = 0; t->endpoints && i < eps->n && !c->fatal; i++) {
				size_t o = mseg_pctx_push_index(c, i);

				endpoint_decode(c, eps->values[i], t);
				mseg_pctx_pop(c, o);
			}
		}
		mseg_pctx_pop(c, old);
	}
}

int mseg_topology_parse_buffer(const char *name, const char *buf, size_t len,
			       struct mseg_topology *topo, struct mseg_diag *diag)
{
	struct mseg_topology t = {0};
	struct mseg_ydocs docs = {0};
	size_t diag_start;
	struct mseg_pctx c;
	int r;

	if (!topo || !diag || (!buf && len))
		return -EINVAL;
	diag_start = diag->n;
	if (!name)
		name = "<input>";
	mseg_pctx_init(&c, name, diag);
	r = mseg_ydocs_read(name, buf, len, &docs, diag);
	if (r != -ENOMEM && docs.n > 0) {
		topology_decode(&c, docs.docs[0], &t);
		for (size_t i = 1; i < docs.n; i++)
			mseg_pctx_error(&c, docs.docs[i],
					"an endpoints file holds one document, this is another");
	}
	mseg_ydocs_free(&docs);
	if (r == 0 && c.fatal)
		r = c.fatal;
	if (r == 0 && c.errors)
		r = -EINVAL;
	if (r < 0) {
		mseg_topology_free(&t);
		mseg_diag_sort_from(diag, diag_start);
		return r;
	}
	*topo = t;
	return 0;
}

int mseg_topology_load(const char *path, struct mseg_topology *topo, struct mseg_diag *diag)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r, q;

	if (!path || !topo || !diag)
		return -EINVAL;
	r = mseg_parse_read_file(path, &buf, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		q = mseg_diag_add(diag, path, 0, 0, NULL, "cannot read: %s", strerror(-r));
		return q < 0 ? q : -EINVAL;
	}
	return mseg_topology_parse_buffer(!strcmp(path, "-") ? "<stdin>" : path, buf, len, topo,
					  diag);
}
