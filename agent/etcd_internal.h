/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by agent/etcd.c and agent/etcd_watch.c only. */
#ifndef MSEG_AGENT_ETCD_INTERNAL_H
#define MSEG_AGENT_ETCD_INTERNAL_H

#include <stddef.h>

#define MSEG_ETCD_MAX_ENDPOINTS 16

/* curl_global_init, once per process (it is not thread-safe in older libcurl). */
int mseg_etcd_curl_init(void);
/* "a,b" -> malloc'd endpoints without trailing '/'; -EINVAL: empty, not http(s)://, too many. */
int mseg_etcd_split_endpoints(const char *list, char **out, size_t max, size_t *n);

#endif
