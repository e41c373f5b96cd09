// SPDX-License-Identifier: Apache-2.0
#include "agent/identities.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/request.h"
#include "agent/state.h"
#include "agent/store.h"
#include "lib/macro.h"
#include "policy/labels.h"

#define IDENTITIES_FILE "identities.json"
#define IDENTITIES_VERSION 1

static const char *proto_label(uint8_t proto)
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
	return NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* io.mseg.port.<name> = the sorted "port/PROTO" list, first port per (name, protocol). */
static int port_label(const struct mseg_endpoint *ep, size_t i, struct mseg_labels *ret)
{
	const struct mseg_named_port *np = &ep->ports[i];
	char parts[16][32], *sorted[16], key[512], val[16 * 32];
	size_t n = 0, used = 0;

	for (size_t j = 0; j < i; j++)
		if (!strcmp(ep->ports[j].name, np->name))
			return 0; /* listed with the first port of that name */
	for (size_t j = i; j < ep->n_ports && n < ARRAY_SIZE(parts); j++) {
		const struct mseg_named_port *q = &ep->ports[j];
		const char *pn = proto_label(q->proto);
		bool dup = strcmp(q->name, np->name) != 0;

		for (size_t h = i; h < j && !dup; h++)
			dup = ep->ports[h].proto == q->proto && !strcmp(ep->ports[h].name, q->name);
		if (dup)
			continue;
		if (pn)
			snprintf(parts[n], sizeof(parts[n]), "%u/%s", q->port, pn);
		else
			snprintf(parts[n], sizeof(parts[n]), "%u/%u", q->port, q->proto);
		sorted[n] = parts[n];
		n++;
	}
	qsort(sorted, n, sizeof(*sorted), str_cmp);
	val[0] = '\0';
	for (size_t j = 0; j < n; j++)
		used += (size_t)snprintf(val + used, sizeof(val) - used, "%s%s", j ? "," : "",
					 sorted[j]);
	snprintf(key, sizeof(key), "io.mseg.port.%s", np->name);
	return mseg_labels_set(ret, key, val);
}

int mseg_agent_identity_labels(const struct mseg_endpoint *ep, const struct mseg_labels *ns_labels,
			       struct mseg_labels *ret)
{
	struct mseg_labels l = {0};
	char key[512];
	int r;

	r = mseg_labels_copy(&l, &ep->labels);
	if (r == 0)
		r = mseg_labels_set(&l, "io.mseg.namespace", ep->namespace);
	for (size_t i = 0; i < ns_labels->n && r == 0; i++) {
		snprintf(key, sizeof(key), "io.mseg.namespace.labels.%s", ns_labels->items[i].key);
		r = mseg_labels_set(&l, key, ns_labels->items[i].value);
	}
	for (size_t i = 0; i < ep->n_ports && r == 0; i++)
		r = port_label(ep, i, &l);
	if (r < 0) {
		mseg_labels_free(&l);
		return r;
	}
	*ret = l;
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct mseg_agent_identity *)a)->id;
	uint32_t y = ((const struct mseg_agent_identity *)b)->id;

	return x < y ? -1 : x > y;
}

const struct mseg_agent_identity *
mseg_agent_identities_find(const struct mseg_agent_identities *rec, uint32_t id)
{
	struct mseg_agent_identity k = {.id = id};

	if (!rec->n)
		return NULL;
	return bsearch(&k, rec->items, rec->n, sizeof(k), rec_cmp);
}

int mseg_agent_identities_record(struct mseg_agent_identities *rec, const struct mseg_labels *l,
				 uint32_t id, bool *added)
{
	struct mseg_agent_identity *v;
	int r;

	*added = false;
	if (mseg_agent_identities_find(rec, id))
		return 0;
	v = realloc(rec->items, (rec->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	rec->items = v;
	v[rec->n] = (struct mseg_agent_identity){.id = id};
	r = mseg_labels_copy(&v[rec->n].labels, l);
	if (r < 0)
		return r;
	rec->n++;
	/* ids are handed out ascending, so this is nearly always already in order */
	if (rec->n > 1 && v[rec->n - 2].id > id)
		qsort(v, rec->n, sizeof(*v), rec_cmp);
	*added = true;
	return 0;
}

void mseg_agent_identities_free(struct mseg_agent_identities *rec)
{
	if (!rec)
		return;
	for (size_t i = 0; i < rec->n; i++)
		mseg_labels_free(&rec->items[i].labels);
	free(rec->items);
	*rec = (struct mseg_agent_identities){0};
}

int mseg_agent_identities_save(const char *dir, const struct mseg_agent_identities *rec)
{
	json_t *arr = json_array(), *doc;
	int r;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < rec->n; i++)
		json_array_append_new(arr, json_pack("{s:I,s:o}", "id",
						     (json_int_t)rec->items[i].id, "labels",
						     mseg_labels_to_json(&rec->items[i].labels)));
	doc = json_pack("{s:i,s:o}", "version", IDENTITIES_VERSION, "identities", arr);
	if (!doc)
		return -ENOMEM;
	r = mseg_state_write_boot_json(dir, IDENTITIES_FILE, doc);
	json_decref(doc);
	return r;
}

int mseg_agent_identities_load(const char *dir, struct mseg_agent_identities *rec,
			       struct mseg_identities *ids, char *why)
{
	json_t *doc = NULL, *arr, *item, *labels, *v;
	struct mseg_agent_identities out = {0};
	size_t i;
	int r;

	r = mseg_store_read_json(dir, IDENTITIES_FILE, &doc, why);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	arr = json_object_get(doc, "identities");
	if (!json_is_array(arr)) {
		snprintf(why, MSEG_STORE_WHY_LEN, "%s/%s: \"identities\" must be an array", dir,
			 IDENTITIES_FILE);
		r = -EBADMSG;
		goto out;
	}
	json_array_foreach(arr, i, item)
	{
		struct mseg_labels l = {0};
		const char *key;
		json_int_t id = json_integer_value(json_object_get(item, "id"));
		bool added;

		labels = json_object_get(item, "labels");
		if (!json_is_object(labels) || id < MSEG_ID_FIRST_ALLOCATED ||
		    id >= MSEG_CLASS_CIDR_BASE) {
			snprintf(why, MSEG_STORE_WHY_LEN,
				 "%s/%s: identities[%zu] needs an id >= 256 and labels", dir,
				 IDENTITIES_FILE, i);
			r = -EBADMSG;
			goto out;
		}
		json_object_foreach(labels, key, v)
		{
			if (!json_is_string(v) ||
			    mseg_labels_set(&l, key, json_string_value(v)) < 0) {
				r = -EBADMSG;
				break;
			}
		}
		if (r == 0)
			r = mseg_identities_put(ids, &l, (uint32_t)id);
		if (r == 0)
			r = mseg_agent_identities_record(&out, &l, (uint32_t)id, &added);
		mseg_labels_free(&l);
		if (r < 0) {
			snprintf(why, MSEG_STORE_WHY_LEN, "%s/%s: identities[%zu] (id %lld): %s",
				 dir, IDENTITIES_FILE, i, (long long)id,
				 r == -EEXIST ? "conflicts with an earlier record" : strerror(-r));
			r = -EBADMSG;
			goto out;
		}
	}
	*rec = out;
	out = (struct mseg_agent_identities){0};
out:
	mseg_agent_identities_free(&out);
	json_decref(doc);
	return r;
}
