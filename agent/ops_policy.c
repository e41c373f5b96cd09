// SPDX-License-Identifier: Apache-2.0
/*
 * Control ops on policies and what the CLI reads back: policy.apply, policy.delete,
 * policy.list, identity.list, state.export.
 */
#include "agent/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "agent/reconcile.h"
#include "lib/base64.h"
#include "lib/macro.h"
#include "policy/cidr.h"

static const char *action_name(enum mseg_apply_action a)
{
	switch (a) {
	case MSEG_APPLY_CREATED:
		return "created";
	case MSEG_APPLY_CONFIGURED:
		return "configured";
	case MSEG_APPLY_UNCHANGED:
		return "unchanged";
	}
	return "?";
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Swaps the policy set, saves it and reconciles; on failure the old set is back in force. */
static int policies_commit(struct mseg_agent *a, struct mseg_agent_policies *next,
			   struct mseg_op_error *e, double *save_ms)
{
	struct mseg_agent_policies old = a->policies;
	double t0 = now_ms();
	int r;

	a->policies = *next;
	r = mseg_agent_policies_save(a->cfg.state_dir, &a->policies);
	*save_ms = now_ms() - t0;
	if (r < 0)
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL, "cannot record the policies in %s: %s",
				  a->cfg.state_dir, strerror(-r));
	else
		r = mseg_agent_reconcile(a, e);
	if (r < 0) {
		a->policies = old;
		*next = (struct mseg_agent_policies){0};
		mseg_agent_policies_free(next);
		mseg_agent_policies_save(a->cfg.state_dir, &a->policies);
		/* put the datapath back as it was */
		mseg_agent_reconcile(a, NULL);
		return r;
	}
	mseg_agent_policies_free(&old);
	*next = (struct mseg_agent_policies){0};
	return 0;
}

/* Large documents arrive deflated (tools/cmd_apply.c): base64 of zlib data, and the length. */
#define MAX_DOCUMENT (64u << 20)

/* The text of {"deflate", "len"}: a malloc'd NUL-terminated string, or an error in e. */
static int inflated(json_t *item, size_t i, char **ret, size_t *len, struct mseg_op_error *e)
{
	const char *b = json_string_value(json_object_get(item, "deflate"));
	json_int_t want = json_integer_value(json_object_get(item, "len"));
	_cleanup_free_ void *z = NULL;
	_cleanup_free_ char *text = NULL;
	size_t zl = 0;
	uLongf got;
	int r;

	if (want < 0 || (uint64_t)want > MAX_DOCUMENT)
		return mseg_op_error_set(e, -EINVAL, NULL, "documents[%zu]: \"len\" must be 0..%u",
					 i, MAX_DOCUMENT);
	text = malloc((size_t)want + 1);
	if (!text)
		return -ENOMEM;
	r = mseg_base64_decode(b, &z, &zl);
	if (r == -ENOMEM)
		return r;
	got = (uLongf)want;
	if (r < 0 || uncompress((Bytef *)text, &got, z, (uLong)zl) != Z_OK || got != (uLongf)want)
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "documents[%zu]: \"deflate\" is not base64 zlib data of "
					 "\"len\" bytes",
					 i);
	text[want] = '\0';
	if (strlen(text) != (size_t)want)
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "documents[%zu]: the text holds a NUL character", i);
	*len = (size_t)want;
	*ret = TAKE_PTR(text);
	return 0;
}

/*
 * {"documents": [{"name", "text"} or {"name", "deflate", "len"}]} -> {"results": [...], "timing":
 * {...}} or {"errors": [...]}. timing: where the agent's time went, ms: parse (and validate), save
 * (policies.json), compile, apply (datapath), total (from the request's decoded arguments to the
 * datapath committed; the JSON transport is not in it).
 */
static int apply_documents(struct mseg_agent *a, const struct mseg_policy_doc *docs, size_t n_docs,
			   double t0, json_t **result, struct mseg_op_error *e);

int mseg_op_policy_apply(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	double t0 = now_ms();
	json_t *arr = json_object_get(args, "documents"), *item;
	_cleanup_free_ struct mseg_policy_doc *docs = NULL;
	_cleanup_free_ char **texts = NULL;
	size_t i;
	int r;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "argument \"documents\" must be a non-empty array of "
					 "{\"name\", \"text\"}");
	docs = calloc(json_array_size(arr), sizeof(*docs));
	texts = calloc(json_array_size(arr) + 1, sizeof(*texts));
	if (!docs || !texts)
		return -ENOMEM;
	json_array_foreach(arr, i, item)
	{
		json_t *t = json_object_get(item, "text");

		docs[i].name = json_string_value(json_object_get(item, "name"));
		docs[i].text = json_string_value(t);
		docs[i].len = json_string_length(t);
		if (docs[i].name && !t && json_is_string(json_object_get(item, "deflate"))) {
			r = inflated(item, i, &texts[i], &docs[i].len, e);
			if (r < 0)
				goto out_texts;
			docs[i].text = texts[i];
		}
		if (!docs[i].name || !docs[i].text) {
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "documents[%zu] needs \"name\" and \"text\" strings",
					      i);
			goto out_texts;
		}
	}
	r = apply_documents(a, docs, json_array_size(arr), t0, result, e);
out_texts:
	for (size_t k = 0; k < json_array_size(arr); k++)
		free(texts[k]);
	return r;
}

static int apply_documents(struct mseg_agent *a, const struct mseg_policy_doc *docs, size_t n_docs,
			   double t0, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent_policies next = {0};
	struct mseg_apply_result *res = NULL;
	struct mseg_diag diag = {0};
	double t_parse, save_ms = 0;
	size_t n_res = 0;
	bool changed = false;
	json_t *out;
	int r;

	r = mseg_agent_policies_apply(&a->policies, docs, n_docs, &next, &res, &n_res, &diag);
	t_parse = now_ms();
	a->last_reconcile_ms[0] = a->last_reconcile_ms[1] = 0;
	if (r == -EINVAL) {
		/* nothing changed: every located error goes back for the CLI to print */
		json_t *errs = json_array();

		for (size_t k = 0; k < diag.n; k++) {
			char *line = mseg_diag_entry_format(&diag.items[k]);

			json_array_append_new(errs, json_string(line ? line : "?"));
			free(line);
		}
		mseg_diag_free(&diag);
		*result = json_pack("{s:o}", "errors", errs);
		return 0;
	}
	mseg_diag_free(&diag);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n_res; k++)
		changed |= res[k].action != MSEG_APPLY_UNCHANGED;
	if (changed) {
		r = policies_commit(a, &next, e, &save_ms);
		if (r < 0) {
			mseg_apply_results_free(res, n_res);
			return r;
		}
	} else {
		mseg_agent_policies_free(&next);
	}
	out = json_array();
	for (size_t k = 0; k < n_res; k++) {
		json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "kind",
				      mseg_policy_kind_name(res[k].kind), "name", res[k].name, "id",
				      (json_int_t)res[k].id, "action", action_name(res[k].action));

		if (res[k].namespace)
			json_object_set_new(o, "namespace", json_string(res[k].namespace));
		json_array_append_new(out, o);
	}
	mseg_apply_results_free(res, n_res);
	*result = json_pack("{s:o,s:{s:f,s:f,s:f,s:f,s:f}}", "results", out, "timing", "parse_ms",
			    t_parse - t0, "save_ms", save_ms, "compile_ms", a->last_reconcile_ms[0],
			    "apply_ms", a->last_reconcile_ms[1], "total_ms", now_ms() - t0);
	return *result ? 0 : -ENOMEM;
}

static json_t *policy_json(const struct mseg_agent_policy *p)
{
	const struct mseg_policy *pol = &p->pol;
	json_t *o =
	    json_pack("{s:I,s:s,s:s,s:s,s:i,s:b,s:b}", "id", (json_int_t)p->id, "kind",
		      mseg_policy_kind_name(pol->kind), "name", pol->name, "file", p->file, "line",
		      (int)pol->line, "ingress", pol->ingress, "egress", pol->egress);

	if (!o)
		return NULL;
	if (pol->namespace)
		json_object_set_new(o, "namespace", json_string(pol->namespace));
	if (pol->kind == MSEG_KIND_CLUSTER_POLICY) {
		json_object_set_new(
		    o, "tier", json_string(pol->tier == MSEG_TIER_ADMIN ? "admin" : "baseline"));
		json_object_set_new(o, "priority", json_integer(pol->priority));
	}
	json_object_set_new(o, "mode",
			    json_string(pol->mode == MSEG_MODE_AUDIT ? "audit" : "enforce"));
	json_object_set_new(o, "ingress_rules", json_integer((json_int_t)pol->n_ingress_rules));
	json_object_set_new(o, "egress_rules", json_integer((json_int_t)pol->n_egress_rules));
	return o;
}

/* {"namespace"?, "name", "kind"?}: NetworkPolicy/Policy in the namespace, ClusterPolicy by
 * name when no namespace was given. */
int mseg_op_policy_delete(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_agent_policies next = {0};
	const char *ns = NULL, *name, *kind = NULL;
	enum mseg_policy_kind k = MSEG_KIND_NETWORK_POLICY;
	size_t hits[8], n_hits = 0;
	json_t *view;
	int r;

	r = mseg_args_string(args, "namespace", false, &ns, e);
	if (r < 0 && r != -ENOENT)
		return r;
	r = mseg_args_string(args, "name", true, &name, e);
	if (r < 0)
		return r;
	r = mseg_args_string(args, "kind", false, &kind, e);
	if (r < 0 && r != -ENOENT)
		return r;
	if (kind && mseg_policy_kind_parse(kind, &k) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "unknown kind '%s': use NetworkPolicy, Policy or "
					 "ClusterPolicy",
					 kind);
	if (kind && k == MSEG_KIND_CLUSTER_POLICY && ns)
		return mseg_op_error_set(
		    e, -EINVAL, NULL, "a ClusterPolicy has no namespace: name it '%s' alone", name);
	for (size_t i = 0; i < a->policies.n && n_hits < ARRAY_SIZE(hits); i++) {
		const struct mseg_policy *p = &a->policies.v[i]->pol;

		if (strcmp(p->name, name) || (kind && p->kind != k))
			continue;
		if (p->kind == MSEG_KIND_CLUSTER_POLICY
			? ns != NULL
			: strcmp(p->namespace, ns ? ns : MSEG_DEFAULT_NAMESPACE))
			continue;
		hits[n_hits++] = i;
	}
	if (n_hits == 0)
		return mseg_op_error_set(
		    e, -ENOENT, NULL, "no %s '%s%s%s'", kind ? mseg_policy_kind_name(k) : "policy",
		    ns ? ns : (kind && k == MSEG_KIND_CLUSTER_POLICY ? "" : "default"),
		    ns || !(kind && k == MSEG_KIND_CLUSTER_POLICY) ? "/" : "", name);
	if (n_hits > 1) {
		char kinds[128] = "";

		for (size_t i = 0; i < n_hits; i++) {
			strcat(kinds, i ? ", " : "");
			strcat(kinds, mseg_policy_kind_name(a->policies.v[hits[i]]->pol.kind));
		}
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "'%s' names several policies (%s): say which with --kind",
					 name, kinds);
	}
	view = policy_json(a->policies.v[hits[0]]);
	/* a copy without it, so a failed save or reconcile leaves everything as it was */
	{
		struct mseg_policy_doc none = {0};
		struct mseg_apply_result *res = NULL;
		struct mseg_diag diag = {0};
		size_t n_res = 0;

		r = mseg_agent_policies_apply(&a->policies, &none, 0, &next, &res, &n_res, &diag);
		mseg_apply_results_free(res, n_res);
		mseg_diag_free(&diag);
	}
	if (r == 0) {
		double save_ms;

		mseg_agent_policies_remove(&next, hits[0]);
		r = policies_commit(a, &next, e, &save_ms);
	}
	if (r < 0) {
		json_decref(view);
		return r;
	}
	*result = view;
	return 0;
}

int mseg_op_policy_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	json_t *arr = json_array();

	(void)args;
	(void)e;
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < a->policies.n; i++)
		json_array_append_new(arr, policy_json(a->policies.v[i]));
	*result = arr;
	return 0;
}

int mseg_op_identity_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	json_t *arr = json_array();

	(void)args;
	(void)e;
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < a->id_records.n; i++) {
		const struct mseg_agent_identity *id = &a->id_records.items[i];
		json_t *eps = json_array();

		for (size_t k = 0; k < a->state->n_endpoints; k++) {
			const struct mseg_agent_endpoint *ep = a->state->endpoints[k];
			char ref[256];

			if (mseg_agent_endpoint_identity(a, ep->ep.id) != id->id)
				continue;
			snprintf(ref, sizeof(ref), "%s/%s", ep->ep.namespace, ep->ep.name);
			json_array_append_new(eps, json_string(ref));
		}
		json_array_append_new(arr, json_pack("{s:I,s:o,s:o}", "id", (json_int_t)id->id,
						     "labels", mseg_labels_to_json(&id->labels),
						     "endpoints", eps));
	}
	*result = arr;
	return 0;
}

/*
 * Everything `mseg policy trace/matrix` need to decide offline what the agent enforces:
 * namespaces, endpoints (the endpoints-file shape of policy/topology.h, plus id), the policy
 * documents as applied, and the options.
 */
int mseg_op_state_export(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	json_t *nss = json_array(), *eps = json_array(), *pols = json_array();
	char ip[MSEG_CIDR_STRLEN];

	(void)args;
	(void)e;
	for (size_t i = 0; i < a->state->n_namespaces; i++)
		json_array_append_new(nss, mseg_namespace_to_json(&a->state->namespaces[i]));
	for (size_t i = 0; i < a->state->n_endpoints; i++) {
		const struct mseg_agent_endpoint *ep = a->state->endpoints[i];
		json_t *ports = json_array();

		if (ep->state == MSEG_EP_DELETING)
			continue;
		for (size_t k = 0; k < ep->ep.n_ports; k++)
			json_array_append_new(
			    ports, json_pack("{s:s,s:i,s:s}", "name", ep->ep.ports[k].name, "port",
					     (int)ep->ep.ports[k].port, "protocol",
					     mseg_proto_name(ep->ep.ports[k].proto)));
		json_array_append_new(
		    eps,
		    json_pack("{s:I,s:s,s:s,s:o,s:s,s:o,s:I}", "id", (json_int_t)ep->ep.id,
			      "namespace", ep->ep.namespace, "name", ep->ep.name, "labels",
			      mseg_labels_to_json(&ep->ep.labels), "ip",
			      mseg_cidr_format(&ep->ep.ip, false, ip), "ports", ports, "identity",
			      (json_int_t)mseg_agent_endpoint_identity(a, ep->ep.id)));
	}
	for (size_t i = 0; i < a->policies.n; i++) {
		const struct mseg_agent_policy *p = a->policies.v[i];

		json_array_append_new(pols, json_pack("{s:I,s:s,s:s,s:i}", "id", (json_int_t)p->id,
						      "file", p->file, "text", p->text, "index",
						      (int)p->index));
	}
	*result = json_pack("{s:s,s:s,s:b,s:o,s:o,s:o}", "node", a->cfg.node, "datapath",
			    a->cfg.datapath, "default_deny", a->cfg.default_deny, "namespaces", nss,
			    "endpoints", eps, "policies", pols);
	return *result ? 0 : -ENOMEM;
}
