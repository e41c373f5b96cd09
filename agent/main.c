// SPDX-License-Identifier: Apache-2.0
/* msegd: the node agent. Options, start-up (state, recovery, control socket), the epoll loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/cluster.h"
#include "agent/control.h"
#include "agent/endpoint.h"
#include "agent/events.h"
#include "agent/reconcile.h"
#include "agent/store.h"
#include "lib/version.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "policy/cidr.h"
#include "runtime/ipam.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: msegd [OPTIONS]\n"
		"The mseg node agent: runs containers' network namespaces and enforces "
		"policy on them.\n\n"
		"  --state-dir DIR        state directory (default " MSEG_DEFAULT_STATE_DIR ")\n"
		"  --socket PATH          control socket (default " MSEG_DEFAULT_SOCKET ")\n"
		"  --node NAME            node name (default: the hostname)\n"
		"  --pod-cidr CIDR        this node's container addresses "
		"(default " MSEG_DEFAULT_POD_CIDR ")\n"
		"  --foreground           do not daemonize\n"
		"  --bpf-dir DIR          bpffs directory for pinned maps "
		"(default " MSEG_DEFAULT_BPF_DIR ")\n"
		"  --netns-prefix PREFIX  container namespace names start with this (default "
		"\"" MSEG_DEFAULT_NETNS_PREFIX "\")\n"
		"  --datapath bpf|nft     enforcement backend (default bpf)\n"
		"  --default-deny         deny traffic no policy allows\n" MSEG_EVENTS_OPTIONS_USAGE
		    MSEG_CLUSTER_OPTIONS_USAGE "  -v, --verbose          debug logging\n"
		"  -h, --help             this text\n"
		"      --version          print the version\n");
}

enum {
	OPT_STATE_DIR = 256,
	OPT_SOCKET,
	OPT_NODE,
	OPT_POD_CIDR,
	OPT_FOREGROUND,
	OPT_BPF_DIR,
	OPT_NETNS_PREFIX,
	OPT_DATAPATH,
	OPT_DEFAULT_DENY,
	OPT_EVENTS_FIRST,
	OPT_EVENTS_LAST = OPT_EVENTS_FIRST + MSEG_EVENTS_OPTIONS_N - 1,
	OPT_CLUSTER_FIRST,
	OPT_CLUSTER_LAST = OPT_CLUSTER_FIRST + MSEG_CLUSTER_OPTIONS_N - 1,
};

static int parse_args(int argc, char **argv, struct mseg_agent_config *cfg, bool *foreground,
		      bool *verbose)
{
	static const struct option opts[] = {
	    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"node", required_argument, NULL, OPT_NODE},
	    {"pod-cidr", required_argument, NULL, OPT_POD_CIDR},
	    {"foreground", no_argument, NULL, OPT_FOREGROUND},
	    {"bpf-dir", required_argument, NULL, OPT_BPF_DIR},
	    {"netns-prefix", required_argument, NULL, OPT_NETNS_PREFIX},
	    {"datapath", required_argument, NULL, OPT_DATAPATH},
	    {"default-deny", no_argument, NULL, OPT_DEFAULT_DENY},
	    MSEG_EVENTS_LONG_OPTIONS(OPT_EVENTS_FIRST),
	    MSEG_CLUSTER_LONG_OPTIONS(OPT_CLUSTER_FIRST),
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static char hostname[256];
	const char *cidr = MSEG_DEFAULT_POD_CIDR, *why;
	int c;

	cfg->state_dir = MSEG_DEFAULT_STATE_DIR;
	cfg->socket_path = MSEG_DEFAULT_SOCKET;
	cfg->bpf_dir = MSEG_DEFAULT_BPF_DIR;
	cfg->netns_prefix = MSEG_DEFAULT_NETNS_PREFIX;
	cfg->datapath = "bpf";
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			cfg->state_dir = optarg;
			break;
		case OPT_SOCKET:
			cfg->socket_path = optarg;
			break;
		case OPT_NODE:
			cfg->node = optarg;
			break;
		case OPT_POD_CIDR:
			cidr = optarg;
			break;
		case OPT_FOREGROUND:
			*foreground = true;
			break;
		case OPT_BPF_DIR:
			cfg->bpf_dir = optarg;
			break;
		case OPT_NETNS_PREFIX:
			cfg->netns_prefix = optarg;
			break;
		case OPT_DATAPATH:
			cfg->datapath = optarg;
			break;
		case OPT_DEFAULT_DENY:
			cfg->default_deny = true;
			break;
		case OPT_EVENTS_FIRST ... OPT_EVENTS_LAST:
			if (mseg_events_option(&cfg->events, c - OPT_EVENTS_FIRST, optarg) < 0)
				return -EINVAL;
			break;
		case OPT_CLUSTER_FIRST ... OPT_CLUSTER_LAST:
			if (mseg_cluster_option(&cfg->cluster, c - OPT_CLUSTER_FIRST, optarg) < 0)
				return -EINVAL;
			break;
		case 'v':
			*verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("msegd %s\n", MSEG_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (mseg_cluster_options_check(&cfg->cluster) < 0)
		return -EINVAL;
	if (mseg_cidr_parse(cidr, false, &cfg->pod_cidr, &why) < 0) {
		log_err("invalid --pod-cidr '%s': %s", cidr, why);
		return -EINVAL;
	}
	if (cfg->pod_cidr.family != MSEG_AF_INET || cfg->pod_cidr.prefixlen > 30) {
		log_err("invalid --pod-cidr '%s': need an IPv4 prefix of /30 or shorter", cidr);
		return -EINVAL;
	}
	if (strcmp(cfg->datapath, "bpf") && strcmp(cfg->datapath, "nft")) {
		log_err("invalid --datapath '%s': must be bpf or nft", cfg->datapath);
		return -EINVAL;
	}
	/* The prefix becomes part of a file name under /run/netns. */
	if (strchr(cfg->netns_prefix, '/') || strlen(cfg->netns_prefix) > 64) {
		log_err("invalid --netns-prefix '%s': no '/', at most 64 characters",
			cfg->netns_prefix);
		return -EINVAL;
	}
	if (!cfg->node) {
		if (gethostname(hostname, sizeof(hostname) - 1) < 0)
			return log_errno(-errno, "gethostname");
		cfg->node = hostname;
	}
	return 0;
}

/* In the agent's own namespace only (a node namespace in tests), never anywhere else. */
static void enable_forwarding(void)
{
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "1\n", 2) != 2)
		log_warn("cannot enable net.ipv4.ip_forward: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * Without --foreground: fork, and let the parent exit only once the child is ready (0) or
 * has failed (1), so `msegd && mseg ps` works and start-up errors reach the terminal.
 */
static int daemon_start(int *notify_fd)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	*notify_fd = p[1];
	return 0;
}

static void daemon_ready(int notify_fd)
{
	int null = open("/dev/null", O_RDWR);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	if (write(notify_fd, "", 1) != 1) {
		/* the parent is gone: nobody to tell */
	}
	close(notify_fd);
	if (chdir("/") < 0) {
		/* harmless */
	}
}

static void children_reap(struct mseg_agent *a)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (size_t i = 0; i < a->state->n_endpoints; i++)
			if (a->state->endpoints[i]->pid == pid) {
				a->state->endpoints[i]->exited = true;
				a->state->endpoints[i]->exit_status = status;
			}
}

static int run_loop(struct mseg_agent *a, struct mseg_control *ctl, int sigfd)
{
	struct epoll_event ev = {.events = EPOLLIN};
	_cleanup_close_ int epfd = -1;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	ev.data.fd = sigfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &ev) < 0)
		return -errno;
	ev.data.fd = mseg_control_fd(ctl);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	ev.data.fd = mseg_agent_inspect_fd(a);
	if (ev.data.fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	ev.data.fd = mseg_cluster_fd(a); /* etcd watch and timers, one descriptor */
	if (ev.data.fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
		return -errno;
	/* Later sources (store watch, datapath events, timers) join this set. */
	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(epfd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == sigfd) {
				struct signalfd_siginfo si;

				while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						children_reap(a);
					else
						return (int)si.ssi_signo;
				}
			} else if (evs[i].data.fd == mseg_agent_inspect_fd(a)) {
				mseg_agent_inspect_process(a);
			} else if (evs[i].data.fd == mseg_cluster_fd(a)) {
				mseg_cluster_process(a);
			} else {
				mseg_control_process(ctl);
				mseg_cluster_after_request(
				    a); /* publish what the request changed */
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct mseg_agent agent = {0};
	struct mseg_control *ctl = NULL;
	bool foreground = false, verbose = false;
	char why[MSEG_STORE_WHY_LEN] = "";
	char path[4096], cidr[MSEG_CIDR_STRLEN];
	_cleanup_close_ int lock_fd = -1, sigfd = -1;
	int notify_fd = -1, r, reaped;
	sigset_t mask;

	mseg_log_init("msegd", MSEG_LOG_INFO);
	if (parse_args(argc, argv, &agent.cfg, &foreground, &verbose) < 0)
		return 2;
	if (verbose)
		mseg_log_init("msegd", MSEG_LOG_DEBUG);
	if (geteuid() != 0)
		log_warn("not running as root: namespaces and links cannot be created");
	if (!foreground && daemon_start(&notify_fd) < 0)
		return log_errno(-errno, "cannot daemonize"), 1;

	r = mseg_store_dir_ensure(agent.cfg.state_dir);
	if (r < 0)
		return log_errno(r, "cannot create state directory '%s'", agent.cfg.state_dir), 1;
	/* Two agents on one state directory would undo each other's work. */
	snprintf(path, sizeof(path), "%s/lock", agent.cfg.state_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0)
		return log_errno(-errno, "cannot open '%s'", path), 1;
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("another msegd uses state directory '%s'", agent.cfg.state_dir);
		return 1;
	}

	r = mseg_state_load(agent.cfg.state_dir, &agent.state, why);
	if (r < 0) {
		if (why[0])
			log_err("refusing to start: %s (fix or move the file; msegd never discards "
				"state)",
				why);
		else
			log_errno(r, "cannot load the state in '%s'", agent.cfg.state_dir);
		return 1;
	}
	/* In a cluster the pod CIDR comes from etcd. */
	r = mseg_cluster_start(&agent, &agent.cfg.cluster);
	if (r < 0)
		goto out;
	r = mseg_ipam_new(&agent.cfg.pod_cidr, &agent.ipam);
	if (r < 0) {
		log_errno(r, "invalid --pod-cidr '%s'",
			  mseg_cidr_format(&agent.cfg.pod_cidr, false, cidr));
		goto out;
	}
	/* The datapath first: the reaper detaches what it removes. */
	r = mseg_agent_enforce_open(&agent);
	if (r < 0)
		goto out;
	r = mseg_agent_inspect_start(&agent);
	if (r < 0)
		goto out;
	reaped = mseg_agent_endpoints_recover(&agent);
	if (reaped < 0) {
		r = reaped;
		goto out;
	}
	mseg_cluster_sync_start(&agent); /* the cluster's view before the first reconcile */
	r = mseg_agent_enforce_start(&agent);
	if (r < 0)
		goto out;
	enable_forwarding();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0) {
		r = log_errno(-errno, "signalfd");
		goto out;
	}
	r = mseg_control_new(agent.cfg.socket_path, mseg_agent_ops, &agent, &ctl);
	if (r == -EADDRINUSE) {
		log_err("another msegd is listening at '%s'", agent.cfg.socket_path);
		goto out;
	}
	if (r < 0) {
		log_errno(r, "cannot listen at '%s'", agent.cfg.socket_path);
		goto out;
	}
	log_info("node '%s', pod CIDR %s, state in %s, %zu endpoint(s)%s, listening at %s",
		 agent.cfg.node, mseg_cidr_format(&agent.cfg.pod_cidr, false, cidr),
		 agent.cfg.state_dir, agent.state->n_endpoints, reaped ? " (some reaped)" : "",
		 agent.cfg.socket_path);
	if (notify_fd >= 0)
		daemon_ready(notify_fd);

	r = run_loop(&agent, ctl, sigfd);
	if (r > 0) {
		/* Containers and their network stay as they are: the next agent adopts them. */
		log_info("%s: exiting", strsignal(r));
		r = 0;
	}
out:
	mseg_control_free(ctl);
	mseg_agent_inspect_stop(&agent);
	mseg_cluster_stop(&agent);
	/* handles only: enforcement stays as programmed for the next agent */
	mseg_agent_enforce_close(&agent);
	mseg_ipam_free(agent.ipam);
	mseg_state_free(agent.state);
	return r < 0 ? 1 : 0;
}
