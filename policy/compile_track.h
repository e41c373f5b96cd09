/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hint (policy/compile.h, struct mseg_compile_hint) worked out for a caller that does not
 * know what changed: msegd's reconciler runs after every apply, delete, label, run, rm and
 * cluster event, and only sees the whole desired state each time. The tracker remembers what
 * the compiler was last given, cheaply comparable, and names what differs:
 * - endpoints by id, compared on namespace, labels and named ports (exact copies, no digest: a
 *   collision would leave a changed endpoint compiled with its old labels);
 * - namespaces by name, compared on labels;
 * - policies by id, compared on a serial the caller gives each policy: a value that differs
 *   whenever the policy's content may have changed (msegd: one per parsed record). Comparing
 *   10,000 rules would cost what the hint saves.
 * Sized to the state's object counts, never to the rule count.
 *
 * Use: mseg_compile_tracker_hint() before mseg_compiler_update_hinted(); after a successful
 * update mseg_compile_tracker_commit() with the same state; after a failed one, or a new
 * compiler, mseg_compile_tracker_forget() (the next hint is then "none": a full update).
 */
#ifndef MSEG_POLICY_COMPILE_TRACK_H
#define MSEG_POLICY_COMPILE_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/compile.h"

struct mseg_compile_tracker;

int mseg_compile_tracker_new(struct mseg_compile_tracker **ret);
void mseg_compile_tracker_free(struct mseg_compile_tracker *t);

/*
 * Fills *hint (its arrays owned by the tracker, valid until its next call) and sets *use to
 * whether to pass it: false before the first commit, after forget, or when the state has
 * duplicate endpoint or policy ids (then only a full update is right). serials[i] belongs to
 * policies->policies[i].
 */
int mseg_compile_tracker_hint(struct mseg_compile_tracker *t, const struct mseg_topology *topo,
			      const struct mseg_policy_set *policies, const uint64_t *serials,
			      struct mseg_compile_hint *hint, bool *use);
/* Remembers topo/policies/serials as what the compiler now holds. On error: forgotten. */
int mseg_compile_tracker_commit(struct mseg_compile_tracker *t, const struct mseg_topology *topo,
				const struct mseg_policy_set *policies, const uint64_t *serials);
void mseg_compile_tracker_forget(struct mseg_compile_tracker *t);

#endif
