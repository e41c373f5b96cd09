// SPDX-License-Identifier: Apache-2.0
/*
 * events.list, events.follow, events.stats: the event pipeline (agent/events.h) over the
 * control socket. events.follow answers with the stored matches (like events.list) and then
 * keeps the connection: every later matching record follows as one JSON line until the
 * client closes.
 */
#include "agent/agent.h"
#include "agent/events.h"

#include <errno.h>

static struct mseg_events *events_of(void *ctx, struct mseg_op_error *e)
{
	struct mseg_agent *a = ctx;

	if (!a->events)
		mseg_op_error_set(e, -ENOTSUP, MSEG_ERR_INTERNAL, "the event pipeline is not running");
	return a->events;
}

int mseg_op_events_list(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_filter *f = NULL;
	struct mseg_events_stats st;
	json_t *list = NULL;
	int r;

	if (!ev)
		return -ENOTSUP;
	r = mseg_events_filter_parse(args, &f, e);
	if (r < 0)
		return r;
	r = mseg_events_list(ev, f, &list);
	mseg_events_filter_free(f);
	if (r < 0)
		return r;
	mseg_events_stats_get(ev, &st);
	*result = json_pack("{s:o,s:o}", "events", list, "stats", mseg_events_stats_to_json(&st));
	return *result ? 0 : -ENOMEM;
}

int mseg_op_events_follow(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_filter *f = NULL;
	json_t *list = NULL;
	int r;

	if (!ev)
		return -ENOTSUP;
	r = mseg_events_filter_parse(args, &f, e);
	if (r < 0)
		return r;
	r = mseg_events_list(ev, f, &list);
	if (r == 0)
		r = mseg_events_follow(ev, f);
	if (r < 0) {
		json_decref(list);
		mseg_events_filter_free(f);
		return mseg_op_error_set(e, r, NULL, "cannot follow events");
	}
	*result = json_pack("{s:o,s:b}", "events", list, "following", 1);
	return *result ? 0 : -ENOMEM;
}

int mseg_op_events_stats(void *ctx, json_t *args, json_t **result, struct mseg_op_error *e)
{
	struct mseg_events *ev = events_of(ctx, e);
	struct mseg_events_stats st;

	if (!ev)
		return -ENOTSUP;
	mseg_events_stats_get(ev, &st);
	*result = mseg_events_stats_to_json(&st);
	json_object_set_new(*result, "followers", json_integer((json_int_t)mseg_events_followers(ev)));
	return *result ? 0 : -ENOMEM;
}
