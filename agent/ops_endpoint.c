// SPDX-License-Identifier: Apache-2.0
/* Control ops on endpoints: run, list, get, remove, label. */
#include "agent/agent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/endpoint.h"
#include "agent/ports.h"
#include "agent/reconcile.h"
#include "lib/macro.h"
#include "policy/labels.h"

/* The JSON clients see: the stored form plus the display status and the node. */
static json_t *endpoint_view(struct mseg_agent *a, const struct mseg_agent_endpoint *ep)
{
	json_t *o = mseg_agent_endpoint_to_json(ep);
	char status[64];

	if (!o)
		return NULL;
	mseg_agent_endpoint_status(ep, status, sizeof(status));
	json_object_set_new(o, "state", json_string(status));
	json_object_set_new(o, "identity",
			    json_integer(mseg_agent_endpoint_identity(a, ep->ep.id)));
	json_object_set_new(o, "node", json_string(a->cfg.node));
	return o;
}

static int endpoint_lookup(struct mseg_agent *a, json_t *args, struct mseg_agent_endpoint **ret,
			   struct mseg_op_error *e)
{
	const char *ns = MSEG_DEFAULT_NAMESPACE, *name;
	int r;

	r = mseg_args_string(args, "namespace", false, &ns, e);
	if (r < 0 && r != -ENOENT)
		return r;
	r = mseg_args_string(args, "name", true, &name, e);
	if (r < 0)
		return r;
	*ret = mseg_state_endpoint_find(a->state, ns, name);
	if (!*ret)
		return mseg_op_error_set(e, -ENOENT, NULL, "no endpoint '%s/%s'", ns, name);
	return 0;
}

/* Identities are label sets with io.mseg.* keys added by the agent (agent/identities.h). */
static int labels_check_reserved(const struct mseg_labels *l, struct mseg_op_error *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->items[i].key, "io.mseg.", 8))
			return mseg_op_error_set(e, -EINVAL, NULL,
						 "label '%s': the prefix io.mseg. is reserved for "
						 "mseg's identity labels",
						 l->items[i].key);
	return 0;
}

static void ports_free(struct mseg_named_port *ports, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ports[i].name);
	free(ports);
}

static int args_ports(json_t *args, struct mseg_named_port **ret, size_t *n,
		      struct mseg_op_error *e)
{
	json_t *arr = json_object_get(args, "ports"), *item;
	struct mseg_named_port *ports;
	size_t i;
	int r;

	*ret = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return mseg_op_error_set(e, -EINVAL, NULL, "argument \"ports\" must be an array");
	ports = calloc(json_array_size(arr) + 1, sizeof(*ports));
	if (!ports)
		return -ENOMEM;
	json_array_foreach(arr, i, item)
	{
		r = mseg_port_from_json(item, &ports[i], e->message, sizeof(e->message));
		if (r < 0) {
			ports_free(ports, i);
			return r;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(ports[j].name, ports[i].name)) {
				mseg_op_error_set(e, -EINVAL, NULL, "port name '%s' used twice",
						  ports[i].name);
				ports_free(ports, i + 1);
				return -EINVAL;
			}
	}
	*ret = ports;
	*n = json_array_size(arr);
	return 0;
}

static int args_command(json_t *args, char ***ret, struct mseg_op_error *e)
{
	json_t *arr = json_object_get(args, "command"), *item;
	char **argv;
	size_t i;

	*ret = NULL;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return mseg_op_error_set(
		    e, -EINVAL, NULL, "argument \"command\" must be a non-empty array of strings");
	argv = calloc(json_array_size(arr) + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	json_array_foreach(arr, i, item)
	{
		/* Borrowed from the request, which outlives the handler. */
		argv[i] = (char *)json_string_value(item);
		if (!argv[i]) {
			free(argv);
			return mseg_op_error_set(e, -EINVAL, NULL,
						 "argument \"command\" must hold strings only");
		}
	}
	*ret = argv;
	return 0;
}

int mseg_op_endpoint_run(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_endpoint_spec spec = {.namespace = MSEG_DEFAULT_NAMESPACE};
	struct mseg_agent_endpoint *ep;
	_cleanup_free_ char **argv = NULL;
	struct mseg_namespace *ns;
	const char *why;
	int r;

	/* Everything is validated before anything is allocated or created. */
	r = mseg_args_string(args, "namespace", false, &spec.namespace, e);
	if (r < 0 && r != -ENOENT)
		return r;
	r = mseg_args_string(args, "name", true, &spec.name, e);
	if (r < 0)
		return r;
	if (mseg_name_check(spec.name, &why) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL, "invalid endpoint name '%s': %s",
					 spec.name, why);
	if (mseg_name_check(spec.namespace, &why) < 0)
		return mseg_op_error_set(e, -EINVAL, NULL, "invalid namespace name '%s': %s",
					 spec.namespace, why);
	if (strcmp(spec.namespace, MSEG_DEFAULT_NAMESPACE) &&
	    !mseg_state_namespace_find(a->state, spec.namespace))
		return mseg_op_error_set(e, -ENOENT, NULL,
					 "namespace '%s' does not exist (create it with 'mseg "
					 "namespace create %s')",
					 spec.namespace, spec.namespace);
	if (mseg_state_endpoint_find(a->state, spec.namespace, spec.name))
		return mseg_op_error_set(e, -EEXIST, NULL, "endpoint '%s/%s' already exists",
					 spec.namespace, spec.name);
	r = args_command(args, &argv, e);
	if (r < 0)
		return r;
	spec.argv = argv;
	r = mseg_args_labels(args, "labels", &spec.labels, e);
	if (r < 0)
		return r;
	r = labels_check_reserved(&spec.labels, e);
	if (r < 0)
		goto out;
	r = args_ports(args, &spec.ports, &spec.n_ports, e);
	if (r < 0)
		goto out;
	r = mseg_agent_namespace_get(a, spec.namespace, &ns, e);
	if (r < 0)
		goto out;

	r = mseg_agent_endpoint_create(a, &spec, &ep, e);
	if (r < 0)
		goto out;
	/* creation reconciled and attached before the endpoint became ready */
	*result = endpoint_view(a, ep);
	return 0;
out:
	mseg_labels_free(&spec.labels);
	ports_free(spec.ports, spec.n_ports);
	return r;
}

int mseg_op_endpoint_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	json_t *arr = json_array();

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		json_array_append_new(arr, endpoint_view(a, a->state->endpoints[i]));
	*result = arr;
	return 0;
}

int mseg_op_endpoint_get(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_agent_endpoint *ep;
	int r;

	r = endpoint_lookup(a, args, &ep, e);
	if (r < 0)
		return r;
	*result = endpoint_view(a, ep);
	return 0;
}

int mseg_op_endpoint_remove(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_agent_endpoint *ep;
	json_t *view;
	int r;

	r = endpoint_lookup(a, args, &ep, e);
	if (r < 0)
		return r;
	view = endpoint_view(a, ep);
	r = mseg_agent_endpoint_delete(a, ep, e);
	if (r < 0) {
		json_decref(view);
		return r;
	}
	/* the delete detached it and reconciled */
	*result = view;
	return 0;
}

int mseg_op_endpoint_label(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_labels saved = {0};
	struct mseg_agent_endpoint *ep;
	int r;

	r = endpoint_lookup(a, args, &ep, e);
	if (r < 0)
		return r;
	r = mseg_labels_copy(&saved, &ep->ep.labels);
	if (r < 0)
		return r;
	r = mseg_agent_labels_update(args, &ep->ep.labels, NULL, e);
	if (r == 0 && labels_check_reserved(&ep->ep.labels, e) < 0) {
		mseg_labels_free(&ep->ep.labels);
		ep->ep.labels = saved;
		return -EINVAL;
	}
	if (r == 0) {
		r = mseg_state_save_endpoint_change(a->state, ep);
		if (r < 0) {
			mseg_labels_free(&ep->ep.labels);
			ep->ep.labels = saved;
			return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
						 "cannot record endpoint '%s/%s': %s",
						 ep->ep.namespace, ep->ep.name, strerror(-r));
		}
		/* labels change the endpoint's identity, and what selects it */
		r = mseg_agent_reconcile(a, e);
		if (r < 0) {
			/* not enforceable (e.g. a reserved io.mseg. key): back to what was */
			mseg_labels_free(&ep->ep.labels);
			ep->ep.labels = saved;
			saved = (struct mseg_labels){0};
			mseg_state_save_endpoint_change(a->state, ep);
			mseg_agent_reconcile(a, NULL);
		} else {
			*result = endpoint_view(a, ep);
		}
	}
	mseg_labels_free(&saved);
	return r;
}
