// SPDX-License-Identifier: Apache-2.0
#include "agent/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/ports.h"
#include "agent/request.h"
#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/labels.h"

#define STATE_VERSION 1
#define NAMESPACES_FILE "namespaces.json"
#define ENDPOINTS_FILE "endpoints.json"
#define INTENT_FILE "intent.json"

const char *mseg_ep_state_name(enum mseg_ep_state st)
{
	switch (st) {
	case MSEG_EP_CREATING:
		return "creating";
	case MSEG_EP_READY:
		return "ready";
	case MSEG_EP_DELETING:
		return "deleting";
	}
	return "unknown";
}

static int ep_state_parse(const char *s, enum mseg_ep_state *ret)
{
	for (int st = MSEG_EP_CREATING; st <= MSEG_EP_DELETING; st++)
		if (!strcmp(s, mseg_ep_state_name(st))) {
			*ret = st;
			return 0;
		}
	return -EINVAL;
}

const char *mseg_proto_name(uint8_t proto)
{
	switch (proto) {
	case MSEG_PROTO_TCP:
		return "TCP";
	case MSEG_PROTO_UDP:
		return "UDP";
	case MSEG_PROTO_SCTP:
		return "SCTP";
	}
	return "?";
}

static void mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned m[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

json_t *mseg_namespace_to_json(const struct mseg_namespace *ns)
{
	return json_pack("{s:s,s:o}", "name", ns->name, "labels", mseg_labels_to_json(&ns->labels));
}

json_t *mseg_agent_endpoint_to_json(const struct mseg_agent_endpoint *ep)
{
	char ip[MSEG_CIDR_STRLEN], hmac[18], cmac[18];
	json_t *ports = json_array(), *o;

	for (size_t i = 0; i < ep->ep.n_ports; i++)
		json_array_append_new(ports,
				      json_pack("{s:s,s:i,s:s}", "name", ep->ep.ports[i].name,
						"port", (int)ep->ep.ports[i].port, "protocol",
						mseg_proto_name(ep->ep.ports[i].proto)));
	mac_format(ep->host_mac, hmac);
	mac_format(ep->container_mac, cmac);
	o = json_pack("{s:I,s:s,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I}", "id",
		      (json_int_t)ep->ep.id, "namespace", ep->ep.namespace, "name", ep->ep.name,
		      "labels", mseg_labels_to_json(&ep->ep.labels), "ports", ports, "ip",
		      mseg_cidr_format(&ep->ep.ip, true, ip), "state",
		      mseg_ep_state_name(ep->state), "netns", ep->netns, "interface", ep->ifname,
		      "ifindex", ep->ifindex, "host_mac", hmac, "container_mac", cmac, "pid",
		      (json_int_t)ep->pid);
	if (o && ep->command)
		json_object_set_new(o, "command", json_string(ep->command));
	return o;
}

void mseg_agent_endpoint_free(struct mseg_agent_endpoint *ep)
{
	if (!ep)
		return;
	free(ep->ep.namespace);
	free(ep->ep.name);
	mseg_labels_free(&ep->ep.labels);
	for (size_t i = 0; i < ep->ep.n_ports; i++)
		free(ep->ep.ports[i].name);
	free(ep->ep.ports);
	free(ep->netns);
	free(ep->command);
	free(ep->record);
	free(ep);
}

void mseg_state_free(struct mseg_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_namespaces; i++) {
		free(s->namespaces[i].name);
		mseg_labels_free(&s->namespaces[i].labels);
	}
	free(s->namespaces);
	for (size_t i = 0; i < s->n_endpoints; i++)
		mseg_agent_endpoint_free(s->endpoints[i]);
	free(s->endpoints);
	free(s->dir);
	free(s);
}

/* ---- loading: every check names the file and the field ------------------------------ */

struct load_ctx {
	const char *path;
	char *why;
};

static int bad(struct load_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct load_ctx *c, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = strlen(c->path);
	if (off > MSEG_STORE_WHY_LEN / 2)
		off = MSEG_STORE_WHY_LEN / 2;
	memcpy(c->why, c->path, off);
	memcpy(c->why + off, ": ", 2);
	off += 2;
	va_start(ap, fmt);
	vsnprintf(c->why + off, MSEG_STORE_WHY_LEN - off, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

static int load_labels(struct load_ctx *c, json_t *obj, const char *field, struct mseg_labels *l)
{
	struct mseg_op_error e = {0};
	json_t *wrap;
	int r;

	if (!json_is_object(obj))
		return bad(c, "%s.labels: not an object", field);
	wrap = json_pack("{s:O}", "labels", obj);
	if (!wrap)
		return -ENOMEM;
	r = mseg_args_labels(wrap, "labels", l, &e);
	json_decref(wrap);
	if (r == -EINVAL)
		return bad(c, "%s.labels: %s", field, e.message);
	return r;
}

static int check_version(struct load_ctx *c, json_t *doc)
{
	json_t *v = json_object_get(doc, "version");

	if (!json_is_integer(v))
		return bad(c, "\"version\" missing or not an integer");
	if (json_integer_value(v) != STATE_VERSION)
		return bad(c, "unsupported version %lld (this msegd reads version %d)",
			   (long long)json_integer_value(v), STATE_VERSION);
	return 0;
}

static int load_namespaces(struct mseg_state *s, json_t *doc, struct load_ctx *c)
{
	json_t *arr = json_object_get(doc, "namespaces"), *item;
	size_t i;
	int r;

	r = check_version(c, doc);
	if (r < 0)
		return r;
	if (!json_is_array(arr))
		return bad(c, "\"namespaces\" missing or not an array");
	json_array_foreach(arr, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name")), *why;
		struct mseg_labels l = {0};
		char field[64];

		snprintf(field, sizeof(field), "namespaces[%zu]", i);
		if (!name)
			return bad(c, "%s.name: missing or not a string", field);
		if (mseg_name_check(name, &why) < 0)
			return bad(c, "%s.name: invalid namespace name '%s': %s", field, name, why);
		if (mseg_state_namespace_find(s, name))
			return bad(c, "%s.name: namespace '%s' listed twice", field, name);
		r = load_labels(c, json_object_get(item, "labels"), field, &l);
		if (r < 0)
			return r;
		r = mseg_state_namespace_add(s, name, &l, NULL);
		if (r < 0) {
			mseg_labels_free(&l);
			return r;
		}
	}
	return 0;
}

static int load_endpoint(struct mseg_state *s, json_t *item, const char *field, struct load_ctx *c)
{
	struct mseg_agent_endpoint *ep;
	const char *ns, *name, *ip, *st, *netns, *ifname, *hmac, *cmac, *cmd, *why;
	json_t *id, *ports, *port, *pid, *ifindex;
	size_t i;
	int r;

	if (!json_is_object(item))
		return bad(c, "%s: not an object", field);
	id = json_object_get(item, "id");
	ns = json_string_value(json_object_get(item, "namespace"));
	name = json_string_value(json_object_get(item, "name"));
	ip = json_string_value(json_object_get(item, "ip"));
	st = json_string_value(json_object_get(item, "state"));
	netns = json_string_value(json_object_get(item, "netns"));
	ifname = json_string_value(json_object_get(item, "interface"));
	hmac = json_string_value(json_object_get(item, "host_mac"));
	cmac = json_string_value(json_object_get(item, "container_mac"));
	cmd = json_string_value(json_object_get(item, "command"));
	ports = json_object_get(item, "ports");
	pid = json_object_get(item, "pid");
	ifindex = json_object_get(item, "ifindex");

	if (!json_is_integer(id) || json_integer_value(id) <= 0 ||
	    json_integer_value(id) > UINT32_MAX)
		return bad(c, "%s.id: missing or not an id in 1..%u", field, UINT32_MAX);
	if (!ns || !name || !ip || !st || !netns || !ifname || !hmac || !cmac)
		return bad(c,
			   "%s: one of namespace, name, ip, state, netns, interface, host_mac, "
			   "container_mac is missing or not a string",
			   field);
	if (mseg_name_check(name, &why) < 0)
		return bad(c, "%s.name: invalid name '%s': %s", field, name, why);
	if (!mseg_state_namespace_find(s, ns))
		return bad(c, "%s.namespace: namespace '%s' is not in namespaces.json", field, ns);
	if (mseg_state_endpoint_find(s, ns, name))
		return bad(c, "%s: endpoint '%s/%s' listed twice", field, ns, name);
	if (strlen(ifname) == 0 || strlen(ifname) >= IF_NAMESIZE)
		return bad(c, "%s.interface: '%s' is not an interface name", field, ifname);
	if (!json_is_array(ports))
		return bad(c, "%s.ports: missing or not an array", field);
	if (!json_is_integer(pid) || json_integer_value(pid) < 0 || !json_is_integer(ifindex))
		return bad(c, "%s: pid or ifindex missing or not an integer", field);
	for (size_t k = 0; k < s->n_endpoints; k++)
		if (s->endpoints[k]->ep.id == json_integer_value(id))
			return bad(c, "%s.id: id %lld used twice", field,
				   (long long)json_integer_value(id));

	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->ep.id = (uint32_t)json_integer_value(id);
	ep->ep.namespace = strdup(ns);
	ep->ep.name = strdup(name);
	ep->netns = strdup(netns);
	ep->command = cmd ? strdup(cmd) : NULL;
	ep->pid = (pid_t)json_integer_value(pid);
	ep->ifindex = (int)json_integer_value(ifindex);
	snprintf(ep->ifname, sizeof(ep->ifname), "%s", ifname);
	if (!ep->ep.namespace || !ep->ep.name || !ep->netns || (cmd && !ep->command)) {
		r = -ENOMEM;
		goto fail;
	}
	if (mseg_cidr_parse(ip, false, &ep->ep.ip, &why) < 0 || ep->ep.ip.prefixlen != 32) {
		r = bad(c, "%s.ip: '%s' is not an IPv4 address", field, ip);
		goto fail;
	}
	if (ep_state_parse(st, &ep->state) < 0) {
		r = bad(c, "%s.state: unknown state '%s'", field, st);
		goto fail;
	}
	if (mac_parse(hmac, ep->host_mac) < 0 || mac_parse(cmac, ep->container_mac) < 0) {
		r = bad(c, "%s: host_mac or container_mac is not a MAC address", field);
		goto fail;
	}
	r = load_labels(c, json_object_get(item, "labels"), field, &ep->ep.labels);
	if (r < 0)
		goto fail;
	ep->ep.ports = calloc(json_array_size(ports) + 1, sizeof(*ep->ep.ports));
	if (!ep->ep.ports) {
		r = -ENOMEM;
		goto fail;
	}
	json_array_foreach(ports, i, port)
	{
		char msg[256];

		r = mseg_port_from_json(port, &ep->ep.ports[i], msg, sizeof(msg));
		if (r < 0) {
			r = r == -EINVAL ? bad(c, "%s.ports[%zu]: %s", field, i, msg) : r;
			goto fail;
		}
		ep->ep.n_ports++;
	}
	r = mseg_state_endpoint_add(s, ep);
	if (r < 0)
		goto fail;
	return 0;
fail:
	mseg_agent_endpoint_free(ep);
	return r;
}

static int load_endpoints(struct mseg_state *s, json_t *doc, struct load_ctx *c)
{
	json_t *arr = json_object_get(doc, "endpoints"), *next = json_object_get(doc, "next_id");
	json_t *item;
	size_t i;
	int r;

	r = check_version(c, doc);
	if (r < 0)
		return r;
	if (!json_is_integer(next) || json_integer_value(next) < 1 ||
	    json_integer_value(next) > UINT32_MAX)
		return bad(c, "\"next_id\" missing or out of range");
	s->next_endpoint_id = (uint32_t)json_integer_value(next);
	if (!json_is_array(arr))
		return bad(c, "\"endpoints\" missing or not an array");
	json_array_foreach(arr, i, item)
	{
		char field[64];

		snprintf(field, sizeof(field), "endpoints[%zu]", i);
		r = load_endpoint(s, item, field, c);
		if (r < 0)
			return r;
		if (s->endpoints[s->n_endpoints - 1]->ep.id >= s->next_endpoint_id)
			return bad(c, "%s.id: %u is not below next_id %u", field,
				   s->endpoints[s->n_endpoints - 1]->ep.id, s->next_endpoint_id);
	}
	return 0;
}

/*
 * Merges intent.json (the one endpoint being created or removed when the agent stopped) into
 * s, so the reaper undoes it: a "creating" endpoint that endpoints.json does not list yet is
 * added, a "deleting" one marks the recorded endpoint. The file is written without fsync
 * (state.h), so only a power cut can leave it torn or stale, and the reboot that follows has
 * removed whatever it described: then it is set aside (1) with *why saying so, not refused.
 */
static int load_intent(struct mseg_state *s, char *why)
{
	struct mseg_state tmp = {.next_endpoint_id = 1};
	struct mseg_agent_endpoint *ep, *known;
	char path[4096];
	struct load_ctx c = {.path = path, .why = why};
	json_t *doc = NULL;
	int r;

	snprintf(path, sizeof(path), "%s/%s", s->dir, INTENT_FILE);
	r = mseg_store_read_json(s->dir, INTENT_FILE, &doc, why);
	if (r == -ENOENT)
		return 0;
	/* Borrowed, so the endpoint's namespace is checked as for endpoints.json. */
	tmp.namespaces = s->namespaces;
	tmp.n_namespaces = s->n_namespaces;
	if (r == 0) {
		r = check_version(&c, doc);
		if (r == 0)
			r = load_endpoint(&tmp, json_object_get(doc, "endpoint"), "endpoint", &c);
		json_decref(doc);
	}
	if (r < 0 && r != -EBADMSG)
		return r; /* not a torn file: unreadable, say so */
	if (r < 0) {
		log_warn("setting aside %s (only a power cut leaves it so, and the reboot removed "
			 "what it described)",
			 why);
		why[0] = '\0';
		return 0;
	}
	ep = tmp.endpoints[0];
	free(tmp.endpoints);
	if (ep->ep.id >= s->next_endpoint_id)
		s->next_endpoint_id = ep->ep.id + 1;
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (s->endpoints[i]->ep.id != ep->ep.id &&
		    !memcmp(s->endpoints[i]->ep.ip.addr, ep->ep.ip.addr, sizeof(ep->ep.ip.addr))) {
			/* Its address belongs to a recorded endpoint: stale, from before a power
			 * cut. */
			mseg_agent_endpoint_free(ep);
			return 0;
		}
	known = mseg_state_endpoint_find(s, ep->ep.namespace, ep->ep.name);
	if (known && known->ep.id == ep->ep.id) {
		/* Created (ready is recorded) or being deleted: the record wins unless deleting. */
		if (ep->state == MSEG_EP_DELETING)
			known->state = MSEG_EP_DELETING;
		mseg_agent_endpoint_free(ep);
		return 0;
	}
	if (known) {
		/* Another endpoint of that name is recorded: this one never got that far. */
		mseg_agent_endpoint_free(ep);
		return 0;
	}
	r = mseg_state_endpoint_add(s, ep);
	if (r < 0)
		mseg_agent_endpoint_free(ep);
	return r;
}

int mseg_state_load(const char *dir, struct mseg_state **ret, char *why)
{
	struct mseg_state *s;
	char path[4096];
	json_t *doc = NULL;
	struct load_ctx c = {.path = path, .why = why};
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->next_endpoint_id = 1;
	s->dir = strdup(dir);
	if (!s->dir) {
		r = -ENOMEM;
		goto fail;
	}

	snprintf(path, sizeof(path), "%s/%s", dir, NAMESPACES_FILE);
	r = mseg_store_read_json(dir, NAMESPACES_FILE, &doc, why);
	if (r == 0) {
		r = load_namespaces(s, doc, &c);
		json_decref(doc);
		doc = NULL;
	}
	if (r < 0 && r != -ENOENT)
		goto fail;

	snprintf(path, sizeof(path), "%s/%s", dir, ENDPOINTS_FILE);
	r = mseg_store_read_json(dir, ENDPOINTS_FILE, &doc, why);
	if (r == 0) {
		r = load_endpoints(s, doc, &c);
		json_decref(doc);
		doc = NULL;
	}
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = load_intent(s, why);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	mseg_state_free(s);
	return r;
}

int mseg_state_save_namespaces(const struct mseg_state *s)
{
	json_t *arr = json_array(), *doc;
	int r;

	for (size_t i = 0; i < s->n_namespaces; i++)
		json_array_append_new(arr, mseg_namespace_to_json(&s->namespaces[i]));
	doc = json_pack("{s:i,s:o}", "version", STATE_VERSION, "namespaces", arr);
	if (!doc)
		return -ENOMEM;
	r = mseg_store_write_json(s->dir, NAMESPACES_FILE, doc);
	json_decref(doc);
	return r;
}

int mseg_state_write_boot_json(const char *dir, const char *name, const json_t *doc)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* over the terminator: the length is known */
	return mseg_store_replace(dir, name, text, len + 1, MSEG_STORE_SYNC_DATA);
}

static int endpoint_record(struct mseg_agent_endpoint *ep)
{
	json_t *o;

	if (ep->record && ep->record_state == ep->state)
		return 0;
	free(ep->record);
	ep->record = NULL;
	ep->record_state = ep->state;
	o = mseg_agent_endpoint_to_json(ep);
	if (!o)
		return -ENOMEM;
	ep->record = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return ep->record ? 0 : -ENOMEM;
}

int mseg_state_save_endpoints(struct mseg_state *s)
{
	for (size_t i = 0; i < s->n_endpoints; i++) {
		free(s->endpoints[i]->record);
		s->endpoints[i]->record = NULL;
	}
	return mseg_state_save_endpoint_change(s, NULL);
}

int mseg_state_save_endpoint_change(struct mseg_state *s, struct mseg_agent_endpoint *changed)
{
	_cleanup_free_ char *text = NULL;
	char head[96];
	size_t len, off;
	int n, r;

	if (changed) {
		free(changed->record);
		changed->record = NULL;
	}
	n = snprintf(head, sizeof(head), "{\"version\":%d,\"next_id\":%u,\"endpoints\":[",
		     STATE_VERSION, s->next_endpoint_id);
	len = (size_t)n + 3; /* "]}\n" */
	for (size_t i = 0; i < s->n_endpoints; i++) {
		/* One being created lives in intent.json until it is ready. */
		if (s->endpoints[i]->state == MSEG_EP_CREATING)
			continue;
		r = endpoint_record(s->endpoints[i]);
		if (r < 0)
			return r;
		len += strlen(s->endpoints[i]->record) + 1;
	}
	text = malloc(len + 1);
	if (!text)
		return -ENOMEM;
	memcpy(text, head, (size_t)n);
	off = (size_t)n;
	for (size_t i = 0, k = 0; i < s->n_endpoints; i++) {
		size_t l;

		if (s->endpoints[i]->state == MSEG_EP_CREATING)
			continue;
		l = strlen(s->endpoints[i]->record);
		if (k++)
			text[off++] = ',';
		memcpy(text + off, s->endpoints[i]->record, l);
		off += l;
	}
	memcpy(text + off, "]}\n", 3);
	off += 3;
	r = mseg_store_replace(s->dir, ENDPOINTS_FILE, text, off, MSEG_STORE_SYNC_DATA);
	if (r < 0 && changed) {
		/* The caller may undo its change: serialise changed afresh next time. */
		free(changed->record);
		changed->record = NULL;
	}
	return r;
}

int mseg_state_intent_save(struct mseg_state *s, struct mseg_agent_endpoint *ep)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX], tmp[PATH_MAX];
	json_t *o;
	int fd, r, n;

	if (snprintf(path, sizeof(path), "%s/%s", s->dir, INTENT_FILE) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", s->dir, INTENT_FILE) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	o = mseg_agent_endpoint_to_json(ep);
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	n = dprintf(fd, "{\"version\":%d,\"endpoint\":%s}\n", STATE_VERSION, text);
	r = n < 0 ? -EIO : 0;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	/* No fsync: the rename orders it before the kernel work for any crash of the agent. */
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int mseg_state_intent_clear(struct mseg_state *s)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", s->dir, INTENT_FILE) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

struct mseg_namespace *mseg_state_namespace_find(const struct mseg_state *s, const char *name)
{
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (!strcmp(s->namespaces[i].name, name))
			return &s->namespaces[i];
	return NULL;
}

int mseg_state_namespace_add(struct mseg_state *s, const char *name, struct mseg_labels *labels,
			     struct mseg_namespace **ret)
{
	struct mseg_namespace *arr, *ns;
	char *n;
	int r;

	/* Kubernetes sets this label on every namespace; namespaceSelectors rely on it. */
	r = mseg_labels_set(labels, MSEG_NAMESPACE_NAME_LABEL, name);
	if (r < 0)
		return r;
	n = strdup(name);
	if (!n)
		return -ENOMEM;
	arr = realloc(s->namespaces, (s->n_namespaces + 1) * sizeof(*arr));
	if (!arr) {
		free(n);
		return -ENOMEM;
	}
	s->namespaces = arr;
	ns = &arr[s->n_namespaces++];
	ns->name = n;
	ns->labels = *labels;
	*labels = (struct mseg_labels){0};
	if (ret)
		*ret = ns;
	return 0;
}

void mseg_state_namespace_remove_last(struct mseg_state *s)
{
	struct mseg_namespace *ns;

	if (s->n_namespaces == 0)
		return;
	ns = &s->namespaces[--s->n_namespaces];
	free(ns->name);
	mseg_labels_free(&ns->labels);
}

struct mseg_agent_endpoint *mseg_state_endpoint_find(const struct mseg_state *s, const char *ns,
						     const char *name)
{
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (!strcmp(s->endpoints[i]->ep.namespace, ns) &&
		    !strcmp(s->endpoints[i]->ep.name, name))
			return s->endpoints[i];
	return NULL;
}

int mseg_state_endpoint_add(struct mseg_state *s, struct mseg_agent_endpoint *ep)
{
	struct mseg_agent_endpoint **arr;

	arr = realloc(s->endpoints, (s->n_endpoints + 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	s->endpoints = arr;
	arr[s->n_endpoints++] = ep;
	return 0;
}

void mseg_state_endpoint_unlink(struct mseg_state *s, struct mseg_agent_endpoint *ep)
{
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (s->endpoints[i] == ep) {
			memmove(&s->endpoints[i], &s->endpoints[i + 1],
				(s->n_endpoints - i - 1) * sizeof(*s->endpoints));
			s->n_endpoints--;
			return;
		}
}
