// SPDX-License-Identifier: Apache-2.0
#include "agent/reconcile.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <malloc.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/audit_scope.h"
#include "agent/cluster.h"
#include "agent/metrics.h"
#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/compile_track.h"

#define DATAPATH_FILE "datapath.json"
#define MSEG_NFLOG_GROUP 7
/*
 * A large change (a policy set applied, many endpoints) peaks at several times the memory the
 * compiler keeps: parsed documents, the old and new tables, the diff. glibc keeps what was
 * freed mapped for reuse, so the agent's resident size would stay at that peak for good; after
 * a change this big, hand the free pages back (a few ms, negligible next to the change).
 */
#define TRIM_AFTER_ENTRIES 4096

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* libbpf is chatty on expected conditions ("Parent Qdisc doesn't exists" on purge). */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)level;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_debug("libbpf: %s", buf);
	return 0;
}

static const struct mseg_datapath_ops *backend_by_name(const char *name)
{
	if (!strcmp(name, mseg_datapath_bpf.name))
		return &mseg_datapath_bpf;
	if (!strcmp(name, mseg_datapath_nft.name))
		return &mseg_datapath_nft;
	return NULL;
}

static struct mseg_datapath_config dp_config(const struct mseg_agent *a)
{
	return (struct mseg_datapath_config){.bpf_dir = a->cfg.bpf_dir,
					     .nflog_group = MSEG_NFLOG_GROUP,
					     .default_deny = a->cfg.default_deny};
}

/* On a switch of --datapath, the old backend's objects go before the new one programs. */
static int backend_switch(struct mseg_agent *a)
{
	struct mseg_datapath_config cfg = dp_config(a);
	char why[MSEG_STORE_WHY_LEN] = "";
	const struct mseg_datapath_ops *old;
	const char *last = NULL;
	json_t *doc = NULL;
	int r;

	r = mseg_store_read_json(a->cfg.state_dir, DATAPATH_FILE, &doc, why);
	if (r < 0 && r != -ENOENT)
		return log_errno(r, "cannot read the last datapath: %s", why);
	if (doc)
		last = json_string_value(json_object_get(doc, "datapath"));
	old = last ? backend_by_name(last) : NULL;
	if (old && old != a->dp_ops) {
		log_info("datapath changes from %s to %s: removing the %s objects", old->name,
			 a->dp_ops->name, old->name);
		r = old->purge(&cfg);
		if (r < 0) {
			json_decref(doc);
			return log_errno(r, "cannot remove the objects of the %s datapath",
					 old->name);
		}
	}
	json_decref(doc);
	if (old == a->dp_ops)
		return 0;
	doc = json_pack("{s:i,s:s}", "version", 1, "datapath", a->dp_ops->name);
	if (!doc)
		return -ENOMEM;
	r = mseg_store_write_json(a->cfg.state_dir, DATAPATH_FILE, doc);
	json_decref(doc);
	if (r < 0)
		return log_errno(r, "cannot record the datapath in '%s'", a->cfg.state_dir);
	return 0;
}

int mseg_agent_enforce_open(struct mseg_agent *a)
{
	struct mseg_compile_opts opts = {.default_deny = a->cfg.default_deny};
	struct mseg_datapath_config cfg = dp_config(a);
	char why[MSEG_STORE_WHY_LEN] = "";
	int r;

	libbpf_set_print(libbpf_print);
	a->dp_ops = backend_by_name(a->cfg.datapath);
	if (!a->dp_ops)
		return log_errno(-EINVAL, "unknown datapath '%s'", a->cfg.datapath);
	r = mseg_identities_new(&a->ids);
	if (r < 0)
		return log_errno(r, "cannot allocate identities");
	r = mseg_agent_identities_load(a->cfg.state_dir, &a->id_records, a->ids, why);
	if (r == 0)
		r = mseg_agent_policies_load(a->cfg.state_dir, &a->policies, why);
	if (r < 0) {
		if (why[0])
			log_err("refusing to start: %s (fix or move the file; msegd never discards "
				"state)",
				why);
		else
			log_errno(r, "cannot load the state in '%s'", a->cfg.state_dir);
		return r;
	}
	r = mseg_compiler_new(&a->compiler, a->ids, &opts);
	if (r == 0)
		r = mseg_compile_tracker_new(&a->tracker);
	if (r < 0)
		return log_errno(r, "cannot create the policy compiler");
	r = backend_switch(a);
	if (r < 0)
		return r;
	r = a->dp_ops->open(&cfg, &a->dp);
	if (r < 0)
		return log_errno(r, "cannot open the %s datapath%s%s", a->dp_ops->name,
				 a->dp_ops == &mseg_datapath_bpf ? " under " : "",
				 a->dp_ops == &mseg_datapath_bpf ? a->cfg.bpf_dir : "");
	return 0;
}

void mseg_agent_enforce_close(struct mseg_agent *a)
{
	if (a->dp_ops && a->dp)
		a->dp_ops->close(a->dp);
	a->dp = NULL;
	mseg_compiler_free(a->compiler);
	a->compiler = NULL;
	mseg_compile_tracker_free(a->tracker);
	a->tracker = NULL;
	mseg_identities_free(a->ids);
	a->ids = NULL;
	mseg_agent_identities_free(&a->id_records);
	mseg_agent_policies_free(&a->policies);
	free(a->ep_identities);
	a->ep_identities = NULL;
	a->n_ep_identities = 0;
}

static bool endpoint_compiled(const struct mseg_agent_endpoint *ep)
{
	return ep->state != MSEG_EP_DELETING;
}

/* Records identities not seen before, so the next start pins them again. */
static int identities_record(struct mseg_agent *a, const struct mseg_topology *topo,
			     const struct mseg_compiled *t)
{
	static const struct mseg_labels none = {0};
	bool dirty = false;
	int r;

	for (size_t i = 0; i < topo->n_endpoints && i < t->n_endpoints; i++) {
		const struct mseg_endpoint *ep = &topo->endpoints[i];
		const struct mseg_namespace *ns = mseg_state_namespace_find(a->state, ep->namespace);
		struct mseg_labels l = {0};
		bool added;

		if (mseg_agent_identities_find(&a->id_records, t->endpoint_identity[i]))
			continue;
		r = mseg_agent_identity_labels(ep, ns ? &ns->labels : &none, &l);
		if (r == 0)
			r = mseg_agent_identities_record(&a->id_records, &l,
							 t->endpoint_identity[i], &added);
		mseg_labels_free(&l);
		if (r < 0)
			return r;
		dirty |= added;
	}
	return dirty ? mseg_agent_identities_save(a->cfg.state_dir, &a->id_records) : 0;
}

static int ep_identity_cmp(const void *x, const void *y)
{
	const struct mseg_agent_ep_identity *a = x, *b = y;

	return a->endpoint < b->endpoint ? -1 : a->endpoint > b->endpoint;
}

static int ep_identities_keep(struct mseg_agent *a, const struct mseg_topology *topo,
			      const struct mseg_compiled *t)
{
	struct mseg_agent_ep_identity *v = calloc(topo->n_endpoints + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < topo->n_endpoints && i < t->n_endpoints; i++)
		v[i] = (struct mseg_agent_ep_identity){.endpoint = topo->endpoints[i].id,
						       .identity = t->endpoint_identity[i]};
	qsort(v, topo->n_endpoints, sizeof(*v), ep_identity_cmp);
	free(a->ep_identities);
	a->ep_identities = v;
	a->n_ep_identities = topo->n_endpoints;
	return 0;
}

uint32_t mseg_agent_endpoint_identity(const struct mseg_agent *a, uint32_t endpoint_id)
{
	struct mseg_agent_ep_identity k = {.endpoint = endpoint_id}, *f;

	if (!a->n_ep_identities)
		return 0;
	f = bsearch(&k, a->ep_identities, a->n_ep_identities, sizeof(k), ep_identity_cmp);
	return f ? f->identity : 0;
}

/* e is optional: start-up reconciles have nobody to answer. */
#define set_error(e, r, fmt, ...)                                                                  \
	do {                                                                                       \
		if (e)                                                                             \
			mseg_op_error_set(e, r, MSEG_ERR_INTERNAL, fmt, __VA_ARGS__);               \
	} while (0)

/*
 * The compiler update, with the hint the tracker works out from what it was given last, so
 * that a one-policy or one-endpoint change digests that object only (not every policy of the
 * node). MSEG_HINT_VERIFY=1 in msegd's environment makes the compiler check each hint against
 * a full digest, for tests: a hint that missed a change is logged and fails the reconcile.
 */
static int compile_hinted(struct mseg_agent *a, const struct mseg_topology *topo,
			  const struct mseg_policy_set *set, struct mseg_table_diff *diff)
{
	_cleanup_free_ uint64_t *serials = calloc(a->policies.n + 1, sizeof(*serials));
	struct mseg_compile_hint hint = {0};
	const char *verify = getenv("MSEG_HINT_VERIFY");
	bool use = false;
	int r;

	if (!serials)
		return -ENOMEM;
	for (size_t i = 0; i < a->policies.n; i++)
		serials[i] = a->policies.v[i]->serial;
	if (a->tracker)
		r = mseg_compile_tracker_hint(a->tracker, topo, set, serials, &hint, &use);
	else
		r = 0;
	if (r < 0)
		use = false; /* no hint is always right */
	hint.verify = verify && !strcmp(verify, "1");
	r = mseg_compiler_update_hinted(a->compiler, topo, set, use ? &hint : NULL, diff);
	if (r == -EBADMSG && use && hint.verify)
		log_err("compile hint missed a change (%zu endpoint(s), %zu policies, %zu "
			"namespace(s) named): the reconcile fails, for the test to see",
			hint.n_endpoints, hint.n_policies, hint.n_namespaces);
	if (!a->tracker)
		return r;
	if (r < 0)
		mseg_compile_tracker_forget(a->tracker);
	else if (mseg_compile_tracker_commit(a->tracker, topo, set, serials) < 0)
		log_debug("reconcile: cannot remember the compiled state, next update in full");
	return r;
}

int mseg_agent_reconcile(struct mseg_agent *a, struct mseg_op_error *e)
{
	struct mseg_compile_opts opts = {.default_deny = a->cfg.default_deny};
	struct mseg_topology topo = {.namespaces = a->state->namespaces,
				     .n_namespaces = a->state->n_namespaces};
	_cleanup_free_ struct mseg_endpoint *eps = NULL;
	struct mseg_policy_set set = {0};
	struct mseg_table_diff diff = {0};
	double t0 = now_ms(), t1, t2;
	bool trim = false;
	int r;

	if (!a->compiler)
		return 0;
	if (a->dp_stale) {
		/* the datapath may hold anything: start over from a full table */
		struct mseg_compiler *c;

		r = mseg_compiler_new(&c, a->ids, &opts);
		if (r < 0)
			return r;
		mseg_compiler_free(a->compiler);
		a->compiler = c;
		mseg_compile_tracker_forget(a->tracker);
	}
	eps = calloc(a->state->n_endpoints + 1, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		if (endpoint_compiled(a->state->endpoints[i]))
			eps[topo.n_endpoints++] = a->state->endpoints[i]->ep;
	/* other nodes' endpoints, identities pinned cluster-wide (agent/cluster.h) */
	r = mseg_cluster_topology_add(a, &eps, &topo.n_endpoints, e);
	if (r < 0)
		return r;
	topo.endpoints = eps;
	r = mseg_agent_policies_view(&a->policies, &set);
	if (r < 0)
		return r;
	r = compile_hinted(a, &topo, &set, &diff);
	free(set.policies);
	if (r < 0) {
		set_error(e, r, "cannot compile the policies: %s", strerror(-r));
		return log_errno(r, "cannot compile the policies");
	}
	mseg_cluster_diff_local(a, &diff); /* remote endpoints are never attached here */
	r = ep_identities_keep(a, &topo, mseg_compiler_table(a->compiler));
	if (r == 0)
		r = identities_record(a, &topo, mseg_compiler_table(a->compiler));
	if (r < 0) {
		mseg_table_diff_free(&diff);
		set_error(e, r, "cannot record identities in %s: %s", a->cfg.state_dir,
			  strerror(-r));
		return log_errno(r, "cannot record identities in '%s'", a->cfg.state_dir);
	}
	/* after the identity file's fsync: what follows is the datapath's own time */
	t1 = now_ms();
	if (a->dp) {
		mseg_audit_scope_transform(a->audit, a->state, &diff); /* namespace/endpoint audit */
		r = a->dp_ops->apply(a->dp, &diff);
		if (r < 0) {
			a->dp_stale = true;
			mseg_table_diff_free(&diff);
			set_error(e, r, "cannot program the %s datapath: %s", a->dp_ops->name,
				  strerror(-r));
			return log_errno(r, "cannot program the %s datapath", a->dp_ops->name);
		}
		a->dp_stale = false;
	}
	t2 = now_ms();
	a->last_reconcile_ms[0] = t1 - t0;
	a->last_reconcile_ms[1] = t2 - t1;
	mseg_metrics_observe_reconcile((t2 - t0) / 1000.0);
	log_debug("reconcile: %zu endpoint(s), %zu policies; %zu entries added, %zu removed, "
		  "%zu+%zu defaults, %zu+%zu ipcache; compile %.3f ms, %s apply %.3f ms",
		  topo.n_endpoints, a->policies.n, diff.n_added, diff.n_removed,
		  diff.n_defaults_changed[0], diff.n_defaults_changed[1], diff.n_ipcache_added,
		  diff.n_ipcache_removed, t1 - t0, a->dp_ops ? a->dp_ops->name : "no", t2 - t1);
	if (diff.n_added + diff.n_removed >= TRIM_AFTER_ENTRIES)
		trim = true;
	mseg_table_diff_free(&diff);
	if (trim)
		malloc_trim(0);
	return 0;
}

static void dp_endpoint(const struct mseg_agent *a, const struct mseg_agent_endpoint *ep,
			struct mseg_dp_endpoint *ret)
{
	unsigned idx = if_nametoindex(ep->ifname);

	*ret = (struct mseg_dp_endpoint){.id = ep->ep.id,
					 .ifindex = idx ? (int)idx : ep->ifindex,
					 .ip = ep->ep.ip,
					 .identity = mseg_agent_endpoint_identity(a, ep->ep.id)};
	snprintf(ret->ifname, sizeof(ret->ifname), "%s", ep->ifname);
	memcpy(ret->mac, ep->container_mac, 6);
	snprintf(ret->namespace, sizeof(ret->namespace), "%s", ep->ep.namespace);
	snprintf(ret->name, sizeof(ret->name), "%s", ep->ep.name);
}

int mseg_agent_endpoint_attach(struct mseg_agent *a, const struct mseg_agent_endpoint *ep)
{
	struct mseg_dp_endpoint d;
	double t0 = now_ms();
	int r;

	if (!a->dp)
		return 0;
	dp_endpoint(a, ep, &d);
	r = a->dp_ops->endpoint_attach(a->dp, &d);
	log_debug("endpoint '%s/%s' (%u, identity %u) attached to %s by %s in %.3f ms: %s",
		  ep->ep.namespace, ep->ep.name, ep->ep.id, d.identity, ep->ifname, a->dp_ops->name,
		  now_ms() - t0, r < 0 ? strerror(-r) : "ok");
	return r;
}

int mseg_agent_endpoint_detach(struct mseg_agent *a, const struct mseg_agent_endpoint *ep)
{
	int r;

	if (!a->dp)
		return 0;
	r = a->dp_ops->endpoint_detach(a->dp, ep->ep.id);
	return r == -ENOENT ? 0 : r;
}

int mseg_agent_enforce_start(struct mseg_agent *a)
{
	size_t n = 0;
	int r;

	r = mseg_agent_reconcile(a, NULL);
	if (r < 0)
		return r;
	for (size_t i = 0; i < a->state->n_endpoints; i++) {
		const struct mseg_agent_endpoint *ep = a->state->endpoints[i];

		if (ep->state != MSEG_EP_READY)
			continue;
		if (!if_nametoindex(ep->ifname)) {
			log_warn("endpoint '%s/%s': interface '%s' is gone, not enforced",
				 ep->ep.namespace, ep->ep.name, ep->ifname);
			continue;
		}
		r = mseg_agent_endpoint_attach(a, ep);
		if (r < 0)
			return log_errno(r, "endpoint '%s/%s': cannot attach the %s datapath to '%s'",
					 ep->ep.namespace, ep->ep.name, a->dp_ops->name,
					 ep->ifname);
		n++;
	}
	log_info("%s datapath: %zu endpoint(s) enforced, %zu policies, %s by default",
		 a->dp_ops->name, n, a->policies.n, a->cfg.default_deny ? "deny" : "allow");
	return 0;
}
