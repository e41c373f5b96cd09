/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Audit mode at namespace and endpoint scope (`mseg namespace audit NS on|off`,
 * `mseg audit NS/NAME on|off`): at an endpoint in scope every policy drop becomes an audit
 * verdict, the packet passes and the event names the policy that would have dropped it.
 * (Audit at policy scope is the policy's own `mode: audit`, resolved by the compiler.)
 *
 * It is a transform of the compiled table, not of the policies: an entry or default of an
 * endpoint in scope whose verdict is DENY becomes ALLOW with audit set and audit_by =
 * decided_by. decided_by is kept, so rule hit counters still name the deciding rule. Drops no
 * policy decides (spoofing, malformed) stay drops.
 *
 * The scope is persisted in <state-dir>/audit.json:
 *   {"version": 1, "namespaces": ["dev"], "endpoints": [{"namespace", "name"}]}
 * In a cluster it is shared through etcd like policies (agent/cluster_audit.c): set on any
 * node, it applies on every node.
 */
#ifndef MSEG_AGENT_AUDIT_SCOPE_H
#define MSEG_AGENT_AUDIT_SCOPE_H

#include <jansson.h>
#include <stdbool.h>

#include "policy/compile.h"

struct mseg_state;
struct mseg_audit_scope;

/* Loads DIR/audit.json (absent: empty scope); -EBADMSG with why on a corrupt file. */
int mseg_audit_scope_load(const char *dir, struct mseg_audit_scope **ret, char *why);
void mseg_audit_scope_free(struct mseg_audit_scope *s);
int mseg_audit_scope_save(const struct mseg_audit_scope *s);
int mseg_audit_scope_copy(const struct mseg_audit_scope *s, struct mseg_audit_scope **ret);

/* Turns audit on/off for a namespace (name NULL) or one endpoint; 1 if that changed, 0 if not. */
int mseg_audit_scope_set(struct mseg_audit_scope *s, const char *ns, const char *name, bool on);
/* Is the endpoint in scope (its namespace or itself)? */
bool mseg_audit_scope_covers(const struct mseg_audit_scope *s, const char *ns, const char *name);
json_t *mseg_audit_scope_to_json(const struct mseg_audit_scope *s);

/* The transform of one entry / default (no-op unless its verdict is DENY). */
void mseg_audit_entry(struct mseg_table_entry *e);
void mseg_audit_default(struct mseg_endpoint_default *d);

/*
 * The reconciler's hook, right after mseg_compiler_update(): transforms, in place, the added
 * and removed entries and the changed defaults of the local endpoints (state) in scope. NULL s:
 * nothing to do.
 */
int mseg_audit_scope_transform(const struct mseg_audit_scope *s, const struct mseg_state *st,
			       struct mseg_table_diff *diff);

/*
 * The difference that moves what is programmed from scope old to scope new, on the current
 * full table: for each local endpoint whose coverage changed, its DENY entries removed as old
 * made them and added as new makes them, and both its defaults. ret must start zeroed; free
 * it with mseg_table_diff_free().
 */
int mseg_audit_scope_diff(const struct mseg_compiled *table, const struct mseg_state *st,
			  const struct mseg_audit_scope *old, const struct mseg_audit_scope *new_,
			  struct mseg_table_diff *ret);

/*
 * Makes next (taken, freed on failure) the agent's scope: the difference programmed on the
 * last compiled table (program: false before the first reconcile, which applies the scope
 * itself), then saved (ops_audit.c). For scopes set on another node (etcd).
 */
struct mseg_agent;
int mseg_agent_audit_replace(struct mseg_agent *a, struct mseg_audit_scope *next, bool program);

/* Control ops (ops_audit.c), ctx: struct mseg_agent. */
struct mseg_op_error;
int mseg_op_audit_set(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);
int mseg_op_audit_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e);

#endif
