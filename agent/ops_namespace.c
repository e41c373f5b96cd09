// SPDX-License-Identifier: Apache-2.0
/* Control ops on namespaces (create, label, list) and the agent's own info. */
#include "agent/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/reconcile.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "policy/labels.h"

int mseg_agent_namespace_get(struct mseg_agent *a, const char *name, struct mseg_namespace **ret,
			     struct mseg_op_error *e)
{
	struct mseg_labels none = {0};
	struct mseg_namespace *ns;
	const char *why;
	int r;

	if (mseg_name_check(name, &why) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL, "invalid namespace name '%s': %s", name,
					 why);
	ns = mseg_state_namespace_find(a->state, name);
	if (ns) {
		*ret = ns;
		return 0;
	}
	if (strcmp(name, MSEG_DEFAULT_NAMESPACE))
		return mseg_op_error_set(e, -ENOENT, NULL,
					 "namespace '%s' does not exist (create it with 'mseg "
					 "namespace create %s')",
					 name, name);
	/* "default" exists implicitly, as in Kubernetes: materialise it on first use. */
	r = mseg_state_namespace_add(a->state, name, &none, &ns);
	if (r < 0)
		return r;
	r = mseg_state_save_namespaces(a->state);
	if (r < 0) {
		mseg_state_namespace_remove_last(a->state);
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
					 "cannot record namespace '%s': %s", name, strerror(-r));
	}
	*ret = ns;
	return 0;
}

int mseg_agent_labels_update(json_t *args, struct mseg_labels *labels, const char *protected_key,
			     struct mseg_op_error *e)
{
	struct mseg_labels set = {0}, result = {0};
	_cleanup_free_ const char **unset = NULL;
	size_t n_unset = 0;
	int r;

	r = mseg_args_labels(args, "set", &set, e);
	if (r < 0)
		return r;
	r = mseg_args_label_keys(args, "unset", &unset, &n_unset, e);
	if (r < 0)
		goto out;
	if (set.n == 0 && n_unset == 0) {
		r = mseg_op_error_set(e, -EINVAL, NULL, "no label to set or remove");
		goto out;
	}
	for (size_t i = 0; protected_key && i < set.n; i++)
		if (!strcmp(set.items[i].key, protected_key)) {
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "label '%s' is set by mseg and cannot be changed",
					      protected_key);
			goto out;
		}
	for (size_t i = 0; i < n_unset; i++) {
		if (protected_key && !strcmp(unset[i], protected_key)) {
			r = mseg_op_error_set(e, -EINVAL, NULL,
					      "label '%s' is set by mseg and cannot be removed",
					      protected_key);
			goto out;
		}
		if (!mseg_labels_get(labels, unset[i])) {
			r = mseg_op_error_set(e, -ENOENT, NULL, "no label '%s' to remove",
					      unset[i]);
			goto out;
		}
	}
	/* Work on a copy so a failure half-way leaves the labels as they were. */
	r = mseg_labels_copy(&result, labels);
	for (size_t i = 0; r == 0 && i < set.n; i++)
		r = mseg_labels_set(&result, set.items[i].key, set.items[i].value);
	for (size_t i = 0; r == 0 && i < n_unset; i++)
		r = mseg_labels_unset(&result, unset[i]);
	if (r < 0) {
		mseg_labels_free(&result);
		goto out;
	}
	mseg_labels_free(labels);
	*labels = result;
out:
	mseg_labels_free(&set);
	return r;
}

int mseg_op_namespace_create(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_labels labels = {0};
	struct mseg_namespace *ns;
	const char *name, *why;
	int r;

	r = mseg_args_string(args, "name", true, &name, e);
	if (r < 0)
		return r;
	if (mseg_name_check(name, &why) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL, "invalid namespace name '%s': %s", name,
					 why);
	if (mseg_state_namespace_find(a->state, name))
		return mseg_op_error_set(e, -EEXIST, NULL, "namespace '%s' already exists", name);
	r = mseg_args_labels(args, "labels", &labels, e);
	if (r < 0)
		return r;
	if (mseg_labels_get(&labels, MSEG_NAMESPACE_NAME_LABEL) &&
	    strcmp(mseg_labels_get(&labels, MSEG_NAMESPACE_NAME_LABEL), name)) {
		mseg_labels_free(&labels);
		return mseg_op_error_set(e, -EINVAL, NULL,
					 "label '%s' is set by mseg to the namespace's name",
					 MSEG_NAMESPACE_NAME_LABEL);
	}
	r = mseg_state_namespace_add(a->state, name, &labels, &ns);
	if (r < 0) {
		mseg_labels_free(&labels);
		return r;
	}
	r = mseg_state_save_namespaces(a->state);
	if (r < 0) {
		mseg_state_namespace_remove_last(a->state);
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
					 "cannot record namespace '%s': %s", name, strerror(-r));
	}
	*result = mseg_namespace_to_json(ns);
	return 0;
}

int mseg_op_namespace_label(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_labels saved = {0};
	struct mseg_namespace *ns;
	const char *name;
	int r;

	r = mseg_args_string(args, "name", true, &name, e);
	if (r < 0)
		return r;
	r = mseg_agent_namespace_get(a, name, &ns, e);
	if (r < 0)
		return r;
	r = mseg_labels_copy(&saved, &ns->labels);
	if (r < 0)
		return r;
	r = mseg_agent_labels_update(args, &ns->labels, MSEG_NAMESPACE_NAME_LABEL, e);
	if (r == 0) {
		r = mseg_state_save_namespaces(a->state);
		if (r < 0) {
			mseg_labels_free(&ns->labels);
			ns->labels = saved;
			return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
						 "cannot record namespace '%s': %s", name,
						 strerror(-r));
		}
		/* namespace labels change identities and what namespaceSelectors select */
		r = mseg_agent_reconcile(a, e);
		if (r < 0) {
			mseg_labels_free(&ns->labels);
			ns->labels = saved;
			saved = (struct mseg_labels){0};
			mseg_state_save_namespaces(a->state);
			mseg_agent_reconcile(a, NULL);
		} else {
			*result = mseg_namespace_to_json(ns);
		}
	}
	mseg_labels_free(&saved);
	return r;
}

int mseg_op_namespace_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	json_t *arr = json_array();

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_namespaces; i++)
		json_array_append_new(arr, mseg_namespace_to_json(&a->state->namespaces[i]));
	*result = arr;
	return 0;
}

int mseg_op_agent_info(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	char cidr[MSEG_CIDR_STRLEN];

	*result = json_pack("{s:s,s:s,s:s,s:s,s:b,s:i,s:i}", "node", a->cfg.node, "pod_cidr",
			    mseg_cidr_format(&a->cfg.pod_cidr, false, cidr), "state_dir",
			    a->cfg.state_dir, "datapath", a->cfg.datapath, "default_deny",
			    a->cfg.default_deny, "namespaces", (int)a->state->n_namespaces,
			    "endpoints", (int)a->state->n_endpoints);
	return *result ? 0 : -ENOMEM;
}
