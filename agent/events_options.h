/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msegd's options for inspecting traffic (issue 6), parsed by main.c's getopt loop through
 * MSEG_EVENTS_LONG_OPTIONS and mseg_events_option(), so adding one touches this file only.
 * Zero values mean the defaults of agent/events.h; metrics are off unless an address is given.
 */
#ifndef MSEG_AGENT_EVENTS_OPTIONS_H
#define MSEG_AGENT_EVENTS_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mseg_events_options {
	int flows;	     /* enum mseg_events_flows */
	uint64_t log_max;    /* --flow-log-max BYTES */
	unsigned log_files;  /* --flow-log-files N */
	size_t ring;	     /* --event-ring N */
	double rate;	     /* --event-rate N per endpoint and second; < 0: unlimited */
	const char *metrics; /* --metrics ADDR:PORT */
	bool metrics_any;    /* --metrics-any */
};

#define MSEG_EVENTS_OPTIONS_N 7
#define MSEG_EVENTS_LONG_OPTIONS(base)                                                             \
	{"flows", required_argument, NULL, (base) + 0},                                            \
	    {"flow-log-max", required_argument, NULL, (base) + 1},                                 \
	    {"flow-log-files", required_argument, NULL, (base) + 2},                               \
	    {"event-ring", required_argument, NULL, (base) + 3},                                   \
	    {"event-rate", required_argument, NULL, (base) + 4},                                   \
	    {"metrics", required_argument, NULL, (base) + 5},                                      \
	{                                                                                          \
		"metrics-any", no_argument, NULL, (base) + 6                                       \
	}

#define MSEG_EVENTS_OPTIONS_USAGE                                                                  \
	"  --flows none|new|all   also report allowed new connections (default none)\n"            \
	"  --flow-log-max BYTES   rotate <state-dir>/flows.jsonl past this size (default 16M)\n"   \
	"  --flow-log-files N     flow log files kept, with the current one (default 4)\n"         \
	"  --event-ring N         events kept in memory for mseg observe (default 8192)\n"         \
	"  --event-rate N         events per second and endpoint before shedding (default 1000;\n" \
	"                         0: unlimited)\n"                                                 \
	"  --metrics ADDR:PORT    serve Prometheus metrics (off by default; loopback only)\n"      \
	"  --metrics-any          allow --metrics on a non-loopback address\n"

/* Option index (0..MSEG_EVENTS_OPTIONS_N-1) with its argument; logs and returns -EINVAL. */
int mseg_events_option(struct mseg_events_options *o, int index, const char *arg);

#endif
