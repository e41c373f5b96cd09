// SPDX-License-Identifier: Apache-2.0
#include "agent/endpoint.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cluster.h"
#include "agent/fault.h"
#include "agent/launch.h"
#include "agent/reconcile.h"
#include "agent/store.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "runtime/container_net.h"
#include "runtime/ipam.h"
#include "runtime/netns.h"

void mseg_agent_endpoint_log_path(const struct mseg_agent *a, const struct mseg_agent_endpoint *ep,
				  char *buf, size_t len)
{
	snprintf(buf, len, "%s/logs/%s_%s.log", a->cfg.state_dir, ep->ep.namespace, ep->ep.name);
}

void mseg_agent_endpoint_status(const struct mseg_agent_endpoint *ep, char *buf, size_t len)
{
	if (ep->state != MSEG_EP_READY) {
		snprintf(buf, len, "%s", mseg_ep_state_name(ep->state));
	} else if (!mseg_netns_exists(ep->netns)) {
		snprintf(buf, len, "lost");
	} else if (ep->pid > 0 && ep->exited) {
		if (WIFEXITED(ep->exit_status))
			snprintf(buf, len, "exited (%d)", WEXITSTATUS(ep->exit_status));
		else
			snprintf(buf, len, "exited (signal %d)", WTERMSIG(ep->exit_status));
	} else if (ep->pid > 0 && !mseg_netns_has_pid(ep->netns, ep->pid)) {
		snprintf(buf, len, "exited");
	} else {
		snprintf(buf, len, "running");
	}
}

static char *argv_join(char **argv)
{
	size_t len = 1;
	char *s;

	for (char **p = argv; *p; p++)
		len += strlen(*p) + 1;
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (char **p = argv; *p; p++) {
		if (p != argv)
			strcat(s, " ");
		strcat(s, *p);
	}
	return s;
}

/*
 * Undoes the kernel side of ep in reverse order of creation; every step tolerates "already
 * gone", so this serves both the failure path of create and the reaper.
 */
static int endpoint_teardown(struct mseg_agent_endpoint *ep, const char **step)
{
	int r;

	r = mseg_netns_kill_all(ep->netns);
	if (r < 0) {
		*step = "stop its processes";
		return r;
	}
	/*
	 * The veth's peer lives in the namespace, so deleting the namespace destroys the pair
	 * (in the kernel's namespace cleanup work, off this path: a synchronous link deletion
	 * waits ~20-35 ms for the network stack to quiesce). The route goes now, so the address
	 * can be given out again at once. Without the namespace, the link is deleted here.
	 */
	if (mseg_netns_exists(ep->netns))
		r = mseg_container_net_unroute(ep->ifname, &ep->ep.ip);
	else
		r = mseg_container_net_teardown(ep->ifname, &ep->ep.ip);
	if (r < 0) {
		*step = "remove its network";
		return r;
	}
	r = mseg_netns_delete(ep->netns);
	if (r < 0) {
		*step = "delete its network namespace";
		return r;
	}
	return 0;
}

/* Milliseconds spent in each step of a create or delete, for the debug log (`msegd -v`). */
struct step_clock {
	double start, last;
	char text[256];
	size_t len;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void step_clock_start(struct step_clock *c)
{
	c->start = c->last = now_ms();
	c->text[0] = '\0';
	c->len = 0;
}

static void step_clock_mark(struct step_clock *c, const char *step)
{
	double t = now_ms();
	int n;

	if (c->len >= sizeof(c->text))
		return;
	n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s%s %.3f", c->len ? ", " : "",
		     step, t - c->last);
	if (n > 0)
		c->len += (size_t)n;
	c->last = t;
}

/* Forgets ep: IP back to the pool, record removed and persisted, memory freed. */
static int endpoint_forget(struct mseg_agent *a, struct mseg_agent_endpoint *ep)
{
	char log[4096];
	int r;

	mseg_agent_endpoint_log_path(a, ep, log, sizeof(log));
	unlink(log);
	if (mseg_ipam_in_use(a->ipam, &ep->ep.ip))
		mseg_ipam_release(a->ipam, &ep->ep.ip);
	mseg_state_endpoint_unlink(a->state, ep);
	mseg_agent_endpoint_free(ep);
	r = mseg_state_save_endpoint_change(a->state, NULL);
	if (r < 0)
		return r;
	/* Done: its intent (or whichever is left) has nothing more to undo. */
	return mseg_state_intent_clear(a->state);
}

int mseg_agent_endpoint_create(struct mseg_agent *a, struct mseg_endpoint_spec *spec,
			       struct mseg_agent_endpoint **ret, struct mseg_op_error *e)
{
	struct mseg_container_net_config ncfg = {0};
	struct mseg_container_net_info info = {0};
	struct mseg_agent_endpoint *ep;
	char ip[MSEG_CIDR_STRLEN], pool[MSEG_CIDR_STRLEN];
	struct step_clock clock;
	const char *step = NULL;
	int r;

	step_clock_start(&clock);
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	r = mseg_ipam_allocate(a->ipam, &ep->ep.ip);
	if (r < 0) {
		free(ep);
		if (r == -ENOSPC)
			return mseg_op_error_set(e, r, NULL,
						 "pod CIDR %s is exhausted: no free address for "
						 "'%s/%s'",
						 mseg_cidr_format(&a->cfg.pod_cidr, false, pool),
						 spec->namespace, spec->name);
		return mseg_op_error_set(e, r, NULL, "cannot allocate an address: %s",
					 strerror(-r));
	}
	ep->ep.id = a->state->next_endpoint_id++;
	ep->ep.namespace = strdup(spec->namespace);
	ep->ep.name = strdup(spec->name);
	if (asprintf(&ep->netns, "%s%s_%s", a->cfg.netns_prefix, spec->namespace, spec->name) < 0)
		ep->netns = NULL;
	snprintf(ep->ifname, sizeof(ep->ifname), "mseg%08x", ep->ep.id);
	if (spec->argv)
		ep->command = argv_join(spec->argv);
	ep->state = MSEG_EP_CREATING;
	if (!ep->ep.namespace || !ep->ep.name || !ep->netns || (spec->argv && !ep->command)) {
		mseg_ipam_release(a->ipam, &ep->ep.ip);
		mseg_agent_endpoint_free(ep);
		return -ENOMEM;
	}
	ep->ep.labels = spec->labels;
	ep->ep.ports = spec->ports;
	ep->ep.n_ports = spec->n_ports;

	/* The intent goes to disk before the kernel sees anything, so a crash can be undone. */
	r = mseg_state_endpoint_add(a->state, ep);
	if (r < 0)
		goto fail_unowned;
	r = mseg_state_intent_save(a->state, ep);
	if (r < 0) {
		mseg_state_endpoint_unlink(a->state, ep);
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
				  "cannot record endpoint '%s/%s' in %s: %s", spec->namespace,
				  spec->name, a->cfg.state_dir, strerror(-r));
		goto fail_unowned;
	}
	mseg_fault_point("after-intent");
	step_clock_mark(&clock, "intent");

	r = mseg_netns_create(ep->netns, NULL);
	if (r < 0) {
		mseg_op_error_set(e, r, r == -EEXIST ? MSEG_ERR_EXISTS : MSEG_ERR_INTERNAL,
				  "cannot create network namespace '%s': %s", ep->netns,
				  strerror(-r));
		/* Not ours (a leftover or someone else's): leave it alone. */
		goto fail_forget;
	}
	mseg_fault_point("after-netns");
	step_clock_mark(&clock, "netns");

	ncfg.netns_name = ep->netns;
	ncfg.host_ifname = ep->ifname;
	ncfg.addr = ep->ep.ip;
	ncfg.mtu = mseg_cluster_container_mtu(a); /* 0 (default) outside a cluster */
	r = mseg_container_net_setup(&ncfg, &info);
	if (r < 0) {
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
				  "cannot set up the network of '%s/%s' (%s on %s): %s",
				  spec->namespace, spec->name,
				  mseg_cidr_format(&ep->ep.ip, true, ip), ep->ifname, strerror(-r));
		goto fail;
	}
	ep->ifindex = info.host_ifindex;
	memcpy(ep->host_mac, info.host_mac, 6);
	memcpy(ep->container_mac, info.container_mac, 6);
	mseg_fault_point("after-network");
	step_clock_mark(&clock, "network");

	/*
	 * Policy before the first packet and before the command starts (fail closed): the
	 * reconcile puts the endpoint's entries and defaults in place, then the attach points
	 * its interface at them.
	 */
	r = mseg_agent_reconcile(a, e);
	if (r < 0)
		goto fail;
	step_clock_mark(&clock, "reconcile");
	r = mseg_agent_endpoint_attach(a, ep);
	if (r < 0) {
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
				  "cannot attach the %s datapath to '%s' of '%s/%s': %s",
				  a->cfg.datapath, ep->ifname, spec->namespace, spec->name,
				  strerror(-r));
		goto fail;
	}
	mseg_fault_point("after-attach");
	step_clock_mark(&clock, "attach");

	if (spec->argv) {
		char log[4096], logdir[4096];

		snprintf(logdir, sizeof(logdir), "%s/logs", a->cfg.state_dir);
		r = mseg_store_dir_ensure(logdir);
		if (r < 0) {
			mseg_op_error_set(e, r, MSEG_ERR_INTERNAL, "cannot create '%s': %s", logdir,
					  strerror(-r));
			goto fail;
		}
		mseg_agent_endpoint_log_path(a, ep, log, sizeof(log));
		r = mseg_launch(ep->netns, spec->argv, log, &ep->pid, e->message,
				sizeof(e->message));
		if (r < 0) {
			e->code = r == -ENOENT ? MSEG_ERR_NOT_FOUND : MSEG_ERR_INTERNAL;
			goto fail;
		}
	}

	ep->state = MSEG_EP_READY;
	r = mseg_state_save_endpoint_change(a->state, ep);
	if (r < 0) {
		ep->state = MSEG_EP_CREATING;
		mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
				  "cannot record endpoint '%s/%s' in %s: %s", spec->namespace,
				  spec->name, a->cfg.state_dir, strerror(-r));
		goto fail;
	}
	/* Recorded: a failure to remove the intent only leaves one that the next load ignores. */
	(void)mseg_state_intent_clear(a->state);
	step_clock_mark(&clock, "record");
	log_debug("endpoint '%s/%s' created in %.3f ms (%s)", ep->ep.namespace, ep->ep.name,
		  now_ms() - clock.start, clock.text);
	*ret = ep;
	return 0;

fail:
	/* The spec's labels and ports stay the caller's on failure. */
	ep->ep.labels = (struct mseg_labels){0};
	ep->ep.ports = NULL;
	ep->ep.n_ports = 0;
	if (mseg_agent_endpoint_detach(a, ep) < 0)
		log_warn("endpoint '%s/%s': cannot detach the datapath while undoing a failed "
			 "create",
			 ep->ep.namespace, ep->ep.name);
	if (endpoint_teardown(ep, &step) < 0)
		log_warn("endpoint '%s/%s': cannot %s while undoing a failed create",
			 ep->ep.namespace, ep->ep.name, step);
	if (ep->pid > 0)
		waitpid(ep->pid, NULL, 0);
	endpoint_forget(a, ep);
	/* its entries leave the datapath too */
	mseg_agent_reconcile(a, NULL);
	return r;

fail_forget:
	ep->ep.labels = (struct mseg_labels){0};
	ep->ep.ports = NULL;
	ep->ep.n_ports = 0;
	endpoint_forget(a, ep);
	return r;

fail_unowned:
	ep->ep.labels = (struct mseg_labels){0};
	ep->ep.ports = NULL;
	ep->ep.n_ports = 0;
	mseg_ipam_release(a->ipam, &ep->ep.ip);
	mseg_agent_endpoint_free(ep);
	return r;
}

/*
 * A removal that failed half-way stays "deleting" in endpoints.json too: the next intent
 * written (another endpoint's) replaces this one's, and the next start must still reap it.
 */
static void deleting_record(struct mseg_agent *a, struct mseg_agent_endpoint *ep)
{
	if (mseg_state_save_endpoint_change(a->state, ep) < 0)
		log_warn("endpoint '%s/%s': cannot record that its removal is unfinished",
			 ep->ep.namespace, ep->ep.name);
}

int mseg_agent_endpoint_delete(struct mseg_agent *a, struct mseg_agent_endpoint *ep,
			       struct mseg_op_error *e)
{
	struct step_clock clock;
	const char *step = NULL;
	char name[512];
	int r;

	step_clock_start(&clock);
	snprintf(name, sizeof(name), "%s/%s", ep->ep.namespace, ep->ep.name);
	ep->state = MSEG_EP_DELETING;
	r = mseg_state_intent_save(a->state, ep);
	if (r < 0) {
		ep->state = MSEG_EP_READY;
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
					 "cannot record the removal of '%s/%s': %s",
					 ep->ep.namespace, ep->ep.name, strerror(-r));
	}
	mseg_fault_point("after-delete-intent");
	step_clock_mark(&clock, "intent");

	/* Before the interface disappears; its entries go with the reconcile below. */
	r = mseg_agent_endpoint_detach(a, ep);
	if (r < 0) {
		deleting_record(a, ep);
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
					 "cannot detach the %s datapath from '%s/%s': %s",
					 a->cfg.datapath, ep->ep.namespace, ep->ep.name,
					 strerror(-r));
	}
	step_clock_mark(&clock, "detach");

	r = endpoint_teardown(ep, &step);
	if (r < 0) {
		/* Stays "deleting": a retry or the next start finishes the job. */
		deleting_record(a, ep);
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL, "cannot %s of '%s/%s': %s", step,
					 ep->ep.namespace, ep->ep.name, strerror(-r));
	}
	step_clock_mark(&clock, "teardown");
	r = endpoint_forget(a, ep);
	if (r < 0)
		return mseg_op_error_set(e, r, MSEG_ERR_INTERNAL,
					 "endpoint removed, but the state file could not be "
					 "written: %s",
					 strerror(-r));
	step_clock_mark(&clock, "record");
	r = mseg_agent_reconcile(a, e);
	step_clock_mark(&clock, "reconcile");
	log_debug("endpoint '%s' removed in %.3f ms (%s)", name, now_ms() - clock.start,
		  clock.text);
	return r;
}

int mseg_agent_endpoints_recover(struct mseg_agent *a)
{
	struct mseg_state *s = a->state;
	char ip[MSEG_CIDR_STRLEN];
	int reaped = 0, r;

	for (size_t i = 0; i < s->n_endpoints; i++) {
		struct mseg_agent_endpoint *ep = s->endpoints[i];

		/* Interrupted endpoints may hold an address too: reserve it until reaped. */
		r = mseg_ipam_reserve(a->ipam, &ep->ep.ip);
		if (r < 0)
			return log_errno(r,
					 "endpoint '%s/%s': cannot reserve its address %s in "
					 "pod CIDR",
					 ep->ep.namespace, ep->ep.name,
					 mseg_cidr_format(&ep->ep.ip, true, ip));
	}
	for (size_t i = 0; i < s->n_endpoints;) {
		struct mseg_agent_endpoint *ep = s->endpoints[i];
		const char *step = NULL;

		if (ep->state == MSEG_EP_READY) {
			i++;
			continue;
		}
		log_info("reaping endpoint '%s/%s' left %s by an interrupted agent",
			 ep->ep.namespace, ep->ep.name, mseg_ep_state_name(ep->state));
		/*
		 * A crash may have come after the attach. A restarted backend only removes what
		 * it knows (the nft chains of an endpoint it never attached stay), so let it know
		 * the endpoint first; without an interface there is nothing to find anyway.
		 */
		if (if_nametoindex(ep->ifname))
			mseg_agent_endpoint_attach(a, ep);
		r = mseg_agent_endpoint_detach(a, ep);
		if (r < 0)
			log_warn("endpoint '%s/%s': cannot detach the datapath: %s",
				 ep->ep.namespace, ep->ep.name, strerror(-r));
		r = endpoint_teardown(ep, &step);
		if (r < 0)
			return log_errno(r, "endpoint '%s/%s': cannot %s", ep->ep.namespace,
					 ep->ep.name, step);
		r = endpoint_forget(a, ep);
		if (r < 0)
			return log_errno(r, "cannot write the state in '%s'", a->cfg.state_dir);
		reaped++;
	}
	return reaped;
}
