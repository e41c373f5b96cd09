// SPDX-License-Identifier: Apache-2.0
/*
 * agent/cluster_worker.c: the thread that runs the agent's etcd calls off its epoll loop.
 * Jobs run in submission order on the worker thread, their done() on the caller's thread
 * once the eventfd in the cluster's epoll descriptor says so, and a slow job never holds up
 * the caller. The etcd endpoint is a closed local port: a call fails at once, with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent/cluster_internal.h"

#define N_JOBS 64

struct record {
	pthread_t loop;
	int ran[N_JOBS], done[N_JOBS];
	size_t n_ran, n_done;
	bool run_on_loop; /* a run() on the loop's thread (checked there: cmocka is not thread-safe)
			   */
	pthread_mutex_t lock;
	int last_r;
	char last_error[256];
};

static struct record rec;

struct job {
	int n;
	unsigned sleep_ms;
	bool call_etcd;
	int *freed;
};

static int job_run(struct mseg_etcd *etcd, void *data)
{
	struct job *j = data;
	int r = 0;

	if (pthread_equal(pthread_self(), rec.loop))
		rec.run_on_loop = true;
	if (j->sleep_ms)
		usleep(j->sleep_ms * 1000);
	if (j->call_etcd) {
		int64_t id;

		r = mseg_etcd_lease_grant(etcd, 5, &id);
	}
	pthread_mutex_lock(&rec.lock);
	rec.ran[rec.n_ran++] = j->n;
	pthread_mutex_unlock(&rec.lock);
	return r;
}

static void job_done(struct mseg_agent *a, void *data, int r, const char *error)
{
	struct job *j = data;

	(void)a;
	assert_true(pthread_equal(pthread_self(), rec.loop));
	assert_false(rec.run_on_loop);
	rec.done[rec.n_done++] = j->n;
	rec.last_r = r;
	snprintf(rec.last_error, sizeof(rec.last_error), "%s", error);
}

static void job_free(void *data)
{
	struct job *j = data;

	if (j->freed)
		(*j->freed)++;
	free(j);
}

static int submit(struct mseg_cluster *c, int n, unsigned sleep_ms, bool call_etcd, int *freed)
{
	struct job *j = calloc(1, sizeof(*j));

	assert_non_null(j);
	*j = (struct job){.n = n, .sleep_ms = sleep_ms, .call_etcd = call_etcd, .freed = freed};
	return mseg_cluster_submit(c, job_run, job_done, job_free, j);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Waits on the cluster's epoll descriptor (as the agent's loop does) until n jobs are done. */
static void loop_until(struct mseg_agent *a, size_t n, int max_ms)
{
	double end = now_ms() + max_ms;

	while (rec.n_done < n && now_ms() < end) {
		struct epoll_event ev;

		if (epoll_wait(a->cluster->epfd, &ev, 1, 100) > 0)
			mseg_cluster_worker_process(a);
	}
}

static int setup(void **state)
{
	struct mseg_agent *a = calloc(1, sizeof(*a));
	struct mseg_cluster *c = calloc(1, sizeof(*c));

	if (!a || !c)
		return -1;
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.lock, NULL);
	rec.loop = pthread_self();
	/* port 1 on loopback: nothing listens there, connections are refused at once */
	c->opt.endpoints = "http://127.0.0.1:1";
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (c->epfd < 0 || mseg_cluster_worker_start(c, 500) < 0)
		return -1;
	a->cluster = c;
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	struct mseg_agent *a = *state;

	mseg_cluster_worker_stop(a->cluster);
	close(a->cluster->epfd);
	free(a->cluster);
	free(a);
	pthread_mutex_destroy(&rec.lock);
	return 0;
}

static void test_order(void **state)
{
	struct mseg_agent *a = *state;
	int freed = 0;

	for (int i = 0; i < N_JOBS; i++)
		assert_int_equal(submit(a->cluster, i, i % 8 == 0 ? 2 : 0, false, &freed), 0);
	loop_until(a, N_JOBS, 5000);
	assert_int_equal(rec.n_done, N_JOBS);
	for (int i = 0; i < N_JOBS; i++) {
		assert_int_equal(rec.ran[i], i);
		assert_int_equal(rec.done[i], i);
	}
	assert_int_equal(freed, N_JOBS);
	assert_int_equal(mseg_cluster_worker_pending(a->cluster), 0);
}

/* A job that takes long keeps the worker, not the caller. */
static void test_submit_does_not_wait(void **state)
{
	struct mseg_agent *a = *state;
	double t0 = now_ms();

	assert_int_equal(submit(a->cluster, 1, 300, false, NULL), 0);
	assert_int_equal(submit(a->cluster, 2, 0, false, NULL), 0);
	assert_true(now_ms() - t0 < 100);
	assert_int_equal(mseg_cluster_worker_pending(a->cluster), 2);
	mseg_cluster_worker_process(a); /* nothing finished yet: returns at once */
	assert_int_equal(rec.n_done, 0);
	loop_until(a, 2, 5000);
	assert_int_equal(rec.n_done, 2);
	assert_int_equal(rec.done[0], 1);
	assert_int_equal(rec.done[1], 2);
}

/* An etcd call that fails reaches done() as -errno with the client's message. */
static void test_etcd_failure_reported(void **state)
{
	struct mseg_agent *a = *state;

	assert_int_equal(submit(a->cluster, 7, 0, true, NULL), 0);
	loop_until(a, 1, 5000);
	assert_int_equal(rec.n_done, 1);
	assert_int_equal(rec.last_r, -ECONNREFUSED);
	assert_non_null(strstr(rec.last_error, "127.0.0.1:1"));
}

/* Stopping with jobs queued: they are freed, never reported. */
static void test_stop_frees_queued(void **state)
{
	struct mseg_agent *a = *state;
	int freed = 0;

	assert_int_equal(submit(a->cluster, 1, 100, false, &freed), 0);
	for (int i = 2; i < 10; i++)
		assert_int_equal(submit(a->cluster, i, 0, false, &freed), 0);
	mseg_cluster_worker_stop(a->cluster);
	assert_int_equal(freed, 9);
	assert_int_equal(rec.n_done, 0);
	assert_null(a->cluster->worker);
	/* submitting without a worker fails and still frees the data */
	assert_int_equal(submit(a->cluster, 11, 0, false, &freed), -ENOTCONN);
	assert_int_equal(freed, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_submit_does_not_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_etcd_failure_reported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_frees_queued, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
