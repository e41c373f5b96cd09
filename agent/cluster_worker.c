// SPDX-License-Identifier: Apache-2.0
/*
 * The cluster's etcd worker: one thread with its own etcd client runs the calls the agent
 * makes while it serves (lease renewal, full resyncs, publishing), one at a time in the order
 * they were queued, and hands each result back to the agent's epoll loop through an eventfd.
 * A hung or unreachable etcd then costs the worker its call timeout, never the loop: `mseg
 * status`, `ps` and `run` keep answering while etcd is away.
 *
 * Why a thread and not curl's multi interface on the loop: the calls are short request/answer
 * pairs whose results feed code that is written as sequences (a publish is many puts, stopping
 * at the first failure); a thread keeps those sequences as they are and moves only the waiting
 * off the loop. The loop never shares the worker's curl handle or any cluster state with it:
 * a job owns its data from submission until its done() runs on the loop.
 */
#include "agent/cluster_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct mseg_cluster_job {
	struct mseg_cluster_job *next;
	mseg_cluster_job_run_fn run;
	mseg_cluster_job_done_fn done;
	void (*free_data)(void *data);
	void *data;
	int r;
	char error[256];
};

struct mseg_cluster_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mseg_cluster_job *todo, **todo_tail; /* FIFO */
	struct mseg_cluster_job *done, **done_tail; /* FIFO */
	bool stop;
	int efd;
	struct mseg_etcd *etcd; /* the worker's own client: curl handles are per thread */
	size_t pending;		/* queued or running, seen from the loop */
};

static void job_free(struct mseg_cluster_job *j)
{
	if (!j)
		return;
	if (j->free_data)
		j->free_data(j->data);
	free(j);
}

static void *worker_main(void *arg)
{
	struct mseg_cluster_worker *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct mseg_cluster_job *j;

		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->lock);

		j->next = NULL;
		j->r = j->run(w->etcd, j->data);
		if (j->r < 0)
			snprintf(j->error, sizeof(j->error), "%s", mseg_etcd_last_error(w->etcd));

		pthread_mutex_lock(&w->lock);
		*w->done_tail = j;
		w->done_tail = &j->next;
		/* a full eventfd counter cannot happen (one write per job); nothing to undo */
		if (write(w->efd, &one, sizeof(one)) < 0) {
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int mseg_cluster_worker_start(struct mseg_cluster *c, long timeout_ms)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct mseg_cluster_worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		r = -errno;
		free(w);
		return r;
	}
	r = mseg_etcd_new(&w->etcd, c->opt.endpoints, timeout_ms);
	if (r < 0)
		goto fail_efd;
	ev.data.fd = w->efd;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, w->efd, &ev) < 0) {
		r = -errno;
		goto fail_etcd;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0)
		goto fail_sync;
	c->worker = w;
	return 0;

fail_sync:
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, w->efd, NULL);
fail_etcd:
	mseg_etcd_free(w->etcd);
fail_efd:
	close(w->efd);
	free(w);
	return r;
}

void mseg_cluster_worker_stop(struct mseg_cluster *c)
{
	struct mseg_cluster_worker *w = c->worker;
	struct mseg_cluster_job *j;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* waits for the call in progress, at most its timeout */
	pthread_join(w->thread, NULL);
	/* jobs never run or never reported: their results are of no use to a stopping agent */
	while ((j = w->todo)) {
		w->todo = j->next;
		job_free(j);
	}
	while ((j = w->done)) {
		w->done = j->next;
		job_free(j);
	}
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	mseg_etcd_free(w->etcd);
	close(w->efd);
	free(w);
	c->worker = NULL;
}

int mseg_cluster_submit(struct mseg_cluster *c, mseg_cluster_job_run_fn run,
			mseg_cluster_job_done_fn done, void (*free_data)(void *), void *data)
{
	struct mseg_cluster_worker *w = c->worker;
	struct mseg_cluster_job *j;

	if (!w) {
		if (free_data)
			free_data(data);
		return -ENOTCONN;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		if (free_data)
			free_data(data);
		return -ENOMEM;
	}
	j->run = run;
	j->done = done;
	j->free_data = free_data;
	j->data = data;
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = j;
	w->todo_tail = &j->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	w->pending++;
	return 0;
}

size_t mseg_cluster_worker_pending(const struct mseg_cluster *c)
{
	return c->worker ? c->worker->pending : 0;
}

void mseg_cluster_worker_process(struct mseg_agent *a)
{
	struct mseg_cluster_worker *w = a->cluster->worker;
	struct mseg_cluster_job *list, *j;
	uint64_t n;

	if (!w)
		return;
	if (read(w->efd, &n, sizeof(n)) < 0) {
		/* nothing signalled: another descriptor woke the loop */
	}
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->lock);
	while ((j = list)) {
		list = j->next;
		w->pending--;
		/* a done() may submit again, or even stop the cluster: nothing of w after it */
		j->done(a, j->data, j->r, j->error);
		job_free(j);
		if (!a->cluster || a->cluster->worker != w) {
			while ((j = list)) {
				list = j->next;
				job_free(j);
			}
			return;
		}
	}
}
