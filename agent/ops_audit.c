// SPDX-License-Identifier: Apache-2.0
/*
 * audit.set {namespace, name?, on} and audit.list: audit mode at namespace and endpoint scope
 * (agent/audit_scope.h). A change is programmed at once, as the difference between the old and
 * the new scope on the table the reconciler compiled last, and persisted only once applied.
 */
#include "agent/agent.h"
#include "agent/audit_scope.h"
#include "agent/cluster.h"
#include "agent/datapath.h"

#include <errno.h>

/* Programs the difference between the current scope and next on the table compiled last. */
static int audit_program(struct mseg_agent *a, struct mseg_audit_scope *next)
{
	struct mseg_table_diff diff = {0};
	int r;

	if (!a->dp || !a->dp_ops || !a->compiler)
		return 0;
	r = mseg_audit_scope_diff(mseg_compiler_table(a->compiler), a->state, a->audit, next,
				  &diff);
	if (r == 0)
		r = a->dp_ops->apply(a->dp, &diff);
	mseg_table_diff_free(&diff);
	return r;
}

/* A scope that came from elsewhere (the cluster): programmed and saved as audit.set does. */
int mseg_agent_audit_replace(struct mseg_agent *a, struct mseg_audit_scope *next, bool program)
{
	int r;

	if (program) {
		r = audit_program(a, next);
		if (r < 0) {
			mseg_audit_scope_free(next);
			return r;
		}
	}
	r = mseg_audit_scope_save(next);
	if (r < 0) {
		mseg_audit_scope_free(next);
		return r;
	}
	mseg_audit_scope_free(a->audit);
	a->audit = next;
	return 0;
}

int mseg_op_audit_set(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;
	struct mseg_audit_scope *next = NULL;
	const char *ns, *name = NULL;
	bool on;
	int r, changed;

	if (!a->audit)
		return mseg_op_error_set(e, -ENOTSUP, MSEG_ERR_INTERNAL,
					 "audit scopes are not available");
	r = mseg_args_string(args, "namespace", true, &ns, e);
	if (r < 0)
		return r;
	r = mseg_args_string(args, "name", false, &name, e);
	if (r == -ENOENT)
		name = NULL;
	else if (r < 0)
		return r;
	r = mseg_args_bool(args, "on", &on, e);
	if (r < 0)
		return r;
	if (!mseg_state_namespace_find(a->state, ns))
		return mseg_op_error_set(e, -ENOENT, NULL, "namespace '%s' does not exist", ns);
	/* in a cluster the scope is shared (etcd): an endpoint of another node is fine too */
	if (name && !mseg_state_endpoint_find(a->state, ns, name) &&
	    !mseg_cluster_endpoint_known(a, ns, name))
		return mseg_op_error_set(e, -ENOENT, NULL, "no container '%s/%s'", ns, name);
	r = mseg_audit_scope_copy(a->audit, &next);
	if (r < 0)
		return r;
	changed = mseg_audit_scope_set(next, ns, name, on);
	if (changed < 0) {
		mseg_audit_scope_free(next);
		return changed;
	}
	if (changed) {
		r = audit_program(a, next);
		if (r < 0) {
			mseg_audit_scope_free(next);
			return mseg_op_error_set(e, r, NULL,
						 "cannot program audit mode for '%s%s%s'", ns,
						 name ? "/" : "", name ? name : "");
		}
	}
	if (changed) {
		r = mseg_audit_scope_save(next);
		if (r < 0) {
			mseg_audit_scope_free(next);
			return mseg_op_error_set(e, r, NULL, "cannot save the audit scope");
		}
	}
	mseg_audit_scope_free(a->audit);
	a->audit = next;
	*result = json_pack("{s:s,s:s?,s:b,s:b}", "namespace", ns, "name", name, "audit", on,
			    "changed", changed);
	return *result ? 0 : -ENOMEM;
}

int mseg_op_audit_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;

	if (!a->audit)
		return mseg_op_error_set(e, -ENOTSUP, MSEG_ERR_INTERNAL,
					 "audit scopes are not available");
	*result = mseg_audit_scope_to_json(a->audit);
	return *result ? 0 : -ENOMEM;
}
