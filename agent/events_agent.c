// SPDX-License-Identifier: Apache-2.0
/*
 * The inspection side of msegd: its options, start-up (audit scope, pipeline, --flows,
 * metrics), the epoll source the main loop watches, the context enrichment reads (a shallow
 * view of the agent's state, built per batch: nothing is copied but arrays of structs), and
 * the metrics page.
 */
#include "agent/events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/audit_scope.h"
#include "agent/datapath_bpf.h"
#include "agent/datapath_nft.h"
#include "agent/events_options.h"
#include "agent/metrics.h"
#include "agent/policies.h"
#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"

struct mseg_inspect {
	int epfd; /* datapath events + metrics */
	int dp_fd;
	struct mseg_metrics *metrics;
};

static int parse_u64(const char *arg, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || arg[0] == '-')
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'M')
		v <<= 20, end++;
	else if (*end == 'G')
		v <<= 30, end++;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int mseg_events_option(struct mseg_events_options *o, int index, const char *arg)
{
	enum mseg_events_flows fl;
	uint64_t v;

	switch (index) {
	case 0:
		if (mseg_events_flows_parse(arg, &fl) < 0) {
			log_err("invalid --flows '%s': none, new or all", arg);
			return -EINVAL;
		}
		o->flows = (int)fl;
		return 0;
	case 1:
		if (parse_u64(arg, &v) < 0 || v < 4096) {
			log_err(
			    "invalid --flow-log-max '%s': bytes, at least 4096 (k, M, G allowed)",
			    arg);
			return -EINVAL;
		}
		o->log_max = v;
		return 0;
	case 2:
		if (parse_u64(arg, &v) < 0 || v < 1 || v > 1000) {
			log_err("invalid --flow-log-files '%s': 1 to 1000", arg);
			return -EINVAL;
		}
		o->log_files = (unsigned)v;
		return 0;
	case 3:
		if (parse_u64(arg, &v) < 0 || v < 1 || v > (1u << 24)) {
			log_err("invalid --event-ring '%s': 1 to 16777216 events", arg);
			return -EINVAL;
		}
		o->ring = (size_t)v;
		return 0;
	case 4:
		if (parse_u64(arg, &v) < 0 || v > 10000000) {
			log_err("invalid --event-rate '%s': events per second, 0 for unlimited",
				arg);
			return -EINVAL;
		}
		o->rate = v ? (double)v : -1;
		return 0;
	case 5:
		o->metrics = arg;
		return 0;
	case 6:
		o->metrics_any = true;
		return 0;
	}
	return -EINVAL;
}

static void render(FILE *f, void *userdata);

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int mseg_agent_inspect_start(struct mseg_agent *a)
{
	const struct mseg_events_options *o = &a->cfg.events;
	struct mseg_events_config cfg;
	struct mseg_inspect *in;
	char why[MSEG_STORE_WHY_LEN] = "";
	const char *mwhy;
	int r;

	r = mseg_audit_scope_load(a->cfg.state_dir, &a->audit, why);
	if (r < 0) {
		if (why[0])
			log_err("refusing to start: %s (fix or move the file)", why);
		else
			log_errno(r, "cannot load the audit scope in '%s'", a->cfg.state_dir);
		return r;
	}
	mseg_events_config_default(&cfg);
	cfg.node = a->cfg.node;
	cfg.log_dir = a->cfg.state_dir;
	if (o->ring)
		cfg.ring = o->ring;
	if (o->log_max)
		cfg.log_max = o->log_max;
	if (o->log_files)
		cfg.log_files = o->log_files;
	if (o->rate)
		cfg.rate = o->rate < 0 ? 0 : o->rate;
	r = mseg_events_new(&a->events, &cfg);
	if (r < 0)
		return log_errno(r, "cannot start the event pipeline (flow log in '%s')",
				 a->cfg.state_dir);
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	a->inspect = in;
	in->dp_fd = -1;
	in->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (in->epfd < 0)
		return log_errno(-errno, "epoll_create1");
	if (a->dp && a->dp_ops) {
		if (a->dp_ops == &mseg_datapath_bpf) {
			/* always written: an earlier agent may have left it on */
			r = mseg_datapath_bpf_set_flags(
			    a->dp, o->flows != MSEG_FLOWS_NONE ? MSEG_CFG_EVENTS_ALLOWED : 0);
			if (r < 0)
				return log_errno(r, "cannot set --flows in the bpf datapath");
		} else if (a->dp_ops == &mseg_datapath_nft) {
			/* always written too: the allow chains an earlier agent left may log */
			r = mseg_datapath_nft_set_flows(a->dp, o->flows != MSEG_FLOWS_NONE);
			if (r < 0)
				return log_errno(r, "cannot set --flows in the nft datapath: %s",
						 mseg_datapath_nft_error(a->dp));
		}
		in->dp_fd = a->dp_ops->event_fd(a->dp);
		if (in->dp_fd >= 0) {
			r = epoll_add(in->epfd, in->dp_fd);
			if (r < 0)
				return log_errno(r, "cannot watch datapath events");
		} else {
			log_warn("the %s datapath delivers no events: mseg observe stays empty",
				 a->dp_ops->name);
		}
	}
	if (o->metrics) {
		r = mseg_metrics_start(&in->metrics, o->metrics, o->metrics_any, render, a, &mwhy);
		if (r < 0) {
			log_err("invalid --metrics '%s': %s", o->metrics,
				mwhy ? mwhy : strerror(-r));
			return r;
		}
		r = epoll_add(in->epfd, mseg_metrics_fd(in->metrics));
		if (r < 0)
			return log_errno(r, "cannot watch the metrics listener");
		log_info("metrics at http://%s/metrics", o->metrics);
	}
	return 0;
}

void mseg_agent_inspect_stop(struct mseg_agent *a)
{
	if (a->inspect) {
		mseg_metrics_stop(a->inspect->metrics);
		if (a->inspect->epfd >= 0)
			close(a->inspect->epfd);
		free(a->inspect);
		a->inspect = NULL;
	}
	mseg_events_free(a->events);
	a->events = NULL;
	mseg_audit_scope_free(a->audit);
	a->audit = NULL;
}

int mseg_agent_inspect_fd(const struct mseg_agent *a)
{
	return a->inspect ? a->inspect->epfd : -1;
}

void mseg_agent_inspect_process(struct mseg_agent *a)
{
	struct epoll_event evs[4];
	int n;

	if (!a->inspect)
		return;
	n = epoll_wait(a->inspect->epfd, evs, (int)ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == a->inspect->dp_fd) {
			int r = mseg_agent_events_ingest(a);

			if (r < 0)
				log_debug("reading datapath events: %s", strerror(-r));
		} else if (a->inspect->metrics) {
			mseg_metrics_process(a->inspect->metrics);
		}
	}
}

int mseg_agent_events_ingest(struct mseg_agent *a)
{
	struct mseg_compile_opts opts = {.default_deny = a->cfg.default_deny};
	struct mseg_policy_set set = {0};
	struct mseg_topology topo = {0};
	struct mseg_events_context ctx = {.topo = &topo, .opts = &opts, .state = a->state};
	_cleanup_free_ struct mseg_namespace *nss = NULL;
	_cleanup_free_ struct mseg_endpoint *eps = NULL;
	size_t n = 0;
	int r;

	if (!a->events || !a->dp || !a->dp_ops)
		return 0;
	nss = calloc(a->state->n_namespaces + 1, sizeof(*nss));
	eps = calloc(a->state->n_endpoints + 1, sizeof(*eps));
	if (!nss || !eps)
		return -ENOMEM;
	for (size_t i = 0; i < a->state->n_namespaces; i++)
		nss[i] = a->state->namespaces[i];
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		if (a->state->endpoints[i]->state == MSEG_EP_READY)
			eps[n++] = a->state->endpoints[i]->ep;
	topo = (struct mseg_topology){.namespaces = nss,
				      .n_namespaces = a->state->n_namespaces,
				      .endpoints = eps,
				      .n_endpoints = n};
	if (mseg_agent_policies_view(&a->policies, &set) == 0)
		ctx.policies = &set;
	r = mseg_events_ingest(a->events, &ctx, a->dp_ops, a->dp);
	free(set.policies); /* the view's array; the policies are the store's */
	return r;
}

/* ---- the metrics page ------------------------------------------------------------------- */

static void render_rule_hits(FILE *f, struct mseg_agent *a)
{
	static const char *const dirs[2] = {"ingress", "egress"};
	_cleanup_free_ struct mseg_nft_hit *hits = NULL;
	size_t n_hits = 0;

	fputs("# HELP mseg_policy_rule_hits_total Packets decided by each policy rule.\n"
	      "# TYPE mseg_policy_rule_hits_total counter\n",
	      f);
	if (!a->dp)
		return;
	/* nft: the decision chains' named counters, read once for the page */
	if (a->dp_ops == &mseg_datapath_nft &&
	    mseg_datapath_nft_hits_read(a->dp, &hits, &n_hits) < 0)
		return;
	for (size_t i = 0; i < a->policies.n; i++) {
		const struct mseg_policy *p = &a->policies.v[i]->pol;
		size_t nrules[2] = {p->n_ingress_rules, p->n_egress_rules};
		char name[512];

		snprintf(name, sizeof(name), "%s/%s%s%s", mseg_policy_kind_name(p->kind),
			 p->namespace ? p->namespace : "", p->namespace ? "/" : "",
			 p->name ? p->name : "");
		for (int d = 0; d < 2; d++) {
			for (size_t k = 0; k <= nrules[d]; k++) {
				/* k == nrules: the isolation this policy causes */
				struct mseg_decider dec = {
				    .kind =
					k < nrules[d] ? MSEG_DECIDED_RULE : MSEG_DECIDED_ISOLATION,
				    .policy = p->id,
				    .rule = (uint16_t)(k < nrules[d] ? k : 0),
				    .dir = (uint8_t)d};
				struct mseg_rule_ref ref;
				struct mseg_counter c;
				char rule[32];

				mseg_bpf_rule_ref(&dec, &ref);
				if (a->dp_ops == &mseg_datapath_nft) {
					uint64_t pk, by;

					if (!mseg_nft_hits_find(hits, n_hits, &dec, &pk, &by))
						continue;
					c.packets = pk;
				} else if (mseg_datapath_bpf_rule_hits(a->dp, &ref, &c) < 0)
					continue;
				if (k < nrules[d])
					snprintf(rule, sizeof(rule), "%s/%zu", dirs[d], k);
				else
					snprintf(rule, sizeof(rule), "%s/isolation", dirs[d]);
				fprintf(
				    f,
				    "mseg_policy_rule_hits_total{policy=\"%s\",rule=\"%s\"} %llu\n",
				    name, rule, (unsigned long long)c.packets);
			}
		}
	}
}

static void render(FILE *f, void *userdata)
{
	struct mseg_agent *a = userdata;
	struct mseg_events_stats st = {0};
	size_t ready = 0;
	bool bpf = a->dp && a->dp_ops == &mseg_datapath_bpf;

	if (a->events)
		mseg_events_stats_get(a->events, &st);
	fputs("# HELP mseg_drops_total Packets dropped, by reason and direction of the enforcing "
	      "endpoint.\n# TYPE mseg_drops_total counter\n",
	      f);
	for (uint16_t r = 1; r < MSEG_DROP_REASON_MAX; r++)
		for (int d = 0; d < 2; d++) {
			unsigned long long v = st.drops[r][d];
			struct mseg_counter c;

			/* the bpf datapath counts every drop, also those it sent no event for */
			if (bpf &&
			    mseg_datapath_bpf_counter(a->dp, MSEG_COUNTER_INDEX(r, d), &c) == 0)
				v = c.packets;
			fprintf(f, "mseg_drops_total{reason=\"%s\",direction=\"%s\"} %llu\n",
				mseg_drop_reason_name(r), d ? "egress" : "ingress", v);
		}
	fputs("# HELP mseg_flows_total Flow events by verdict (forwarded: new flows, with "
	      "msegd --flows).\n# TYPE mseg_flows_total counter\n",
	      f);
	fprintf(f, "mseg_flows_total{verdict=\"forwarded\"} %llu\n",
		(unsigned long long)st.by_verdict[MSEG_EVENT_FORWARDED]);
	fprintf(f, "mseg_flows_total{verdict=\"dropped\"} %llu\n",
		(unsigned long long)st.by_verdict[MSEG_EVENT_DROPPED]);
	fprintf(f, "mseg_flows_total{verdict=\"audit\"} %llu\n",
		(unsigned long long)st.by_verdict[MSEG_EVENT_AUDIT]);
	render_rule_hits(f, a);
	for (size_t i = 0; i < a->state->n_endpoints; i++)
		ready += a->state->endpoints[i]->state == MSEG_EP_READY;
	fprintf(f,
		"# HELP mseg_endpoints Local endpoints ready.\n# TYPE mseg_endpoints gauge\n"
		"mseg_endpoints %zu\n",
		ready);
	fprintf(f,
		"# HELP mseg_policies Policies in force.\n# TYPE mseg_policies gauge\n"
		"mseg_policies %zu\n",
		a->policies.n);
	mseg_metrics_reconcile_render(f);
	fputs("# HELP mseg_events_lost_total Events not recorded, by cause.\n"
	      "# TYPE mseg_events_lost_total counter\n",
	      f);
	fprintf(f, "mseg_events_lost_total{cause=\"datapath\"} %llu\n",
		(unsigned long long)st.lost_datapath);
	fprintf(f, "mseg_events_lost_total{cause=\"rate-limit\"} %llu\n",
		(unsigned long long)st.lost_rate_limit);
	fprintf(f, "mseg_events_lost_total{cause=\"followers\"} %llu\n",
		(unsigned long long)st.lost_followers);
}
