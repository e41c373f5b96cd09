// SPDX-License-Identifier: Apache-2.0
/* The Prometheus endpoint: libmicrohttpd in external epoll mode, and the reconcile histogram. */
#include "agent/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct mseg_metrics {
	struct MHD_Daemon *d;
	int fd;
	mseg_metrics_render_fn fn;
	void *userdata;
};

/* Buckets in seconds: a reconcile takes from a fraction of a millisecond to seconds. */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				 0.05,	 0.1,	0.25,	0.5,   1,    2.5};
#define N_BUCKETS (sizeof(buckets) / sizeof(*buckets))
static unsigned long long hist_counts[N_BUCKETS];
static unsigned long long hist_count;
static double hist_sum;

void mseg_metrics_observe_reconcile(double seconds)
{
	if (seconds < 0)
		seconds = 0;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= buckets[i])
			hist_counts[i]++;
	hist_count++;
	hist_sum += seconds;
}

void mseg_metrics_reconcile_render(FILE *f)
{
	fputs("# HELP mseg_reconcile_duration_seconds Time to compile and program a change.\n"
	      "# TYPE mseg_reconcile_duration_seconds histogram\n",
	      f);
	for (size_t i = 0; i < N_BUCKETS; i++)
		fprintf(f, "mseg_reconcile_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
			hist_counts[i]);
	fprintf(f, "mseg_reconcile_duration_seconds_bucket{le=\"+Inf\"} %llu\n", hist_count);
	fprintf(f, "mseg_reconcile_duration_seconds_sum %.9f\n", hist_sum);
	fprintf(f, "mseg_reconcile_duration_seconds_count %llu\n", hist_count);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct mseg_metrics *m = cls;
	struct MHD_Response *resp;
	char *body = NULL;
	size_t len = 0;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;
	FILE *f;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	else if (strcmp(url, "/metrics") && strcmp(url, "/"))
		status = MHD_HTTP_NOT_FOUND;
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	if (status == MHD_HTTP_OK)
		m->fn(f, m->userdata);
	else
		fputs(status == MHD_HTTP_NOT_FOUND ? "not found: try /metrics\n"
						   : "method not allowed\n",
		      f);
	if (fclose(f) != 0) {
		free(body);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int addr_parse(const char *s, struct sockaddr_in *sa, const char **why)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[64], *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host) || colon == s) {
		*why = "expected ADDR:PORT, e.g. 127.0.0.1:9963";
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535) {
		*why = "the port must be 1-65535";
		return -EINVAL;
	}
	*sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		*why = "the address must be an IPv4 address";
		return -EINVAL;
	}
	return 0;
}

int mseg_metrics_start(struct mseg_metrics **ret, const char *addr_port, bool allow_any,
		       mseg_metrics_render_fn fn, void *userdata, const char **why)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	struct mseg_metrics *m;
	int r;

	*why = NULL;
	r = addr_parse(addr_port, &sa, why);
	if (r < 0)
		return r;
	if (!allow_any && (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		*why = "not a loopback address (use --metrics-any to serve it anyway)";
		return -EPERM;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->userdata = userdata;
	m->d = MHD_start_daemon(MHD_USE_EPOLL, ntohs(sa.sin_port), NULL, NULL, answer, m,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!m->d) {
		free(m);
		*why = "cannot listen there (address in use, or not on this host)";
		return -EADDRNOTAVAIL;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(m->d);
		free(m);
		*why = "libmicrohttpd has no epoll support";
		return -ENOTSUP;
	}
	m->fd = info->epoll_fd;
	*ret = m;
	return 0;
}

void mseg_metrics_stop(struct mseg_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}

int mseg_metrics_fd(const struct mseg_metrics *m)
{
	return m->fd;
}

void mseg_metrics_process(struct mseg_metrics *m)
{
	MHD_run(m->d);
}
