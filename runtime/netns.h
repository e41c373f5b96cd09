/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Named network namespaces, bound at /run/netns/NAME exactly as `ip netns add` does, so
 * iproute2 and every other tool see them. Nothing here changes the caller's own namespace:
 * entering a namespace (mseg_netns_run) always returns to the original one.
 *
 * The bind mounts are made in the caller's mount namespace. Run the caller in the host's
 * (enter a node with setns/`nsenter --net=`, not `ip netns exec`, which gives every command a
 * private slave mount namespace): namespaces created from a slave are invisible to everyone
 * else, even to the next `ip netns exec` into the same node.
 */
#ifndef MSEG_RUNTIME_NETNS_H
#define MSEG_RUNTIME_NETNS_H

#include <stdbool.h>

#define MSEG_NETNS_RUN_DIR "/run/netns"

/*
 * New network namespace bound at /run/netns/NAME (as `ip netns add` does, so `ip netns` sees
 * it), loopback up inside. The caller's own namespace is unchanged on return. -EEXIST if the
 * name exists. *ret_fd: an O_CLOEXEC fd of the namespace (pass NULL if not needed).
 */
int mseg_netns_create(const char *name, int *ret_fd);
/* An O_CLOEXEC fd of the named namespace; -ENOENT if absent. */
int mseg_netns_open(const char *name, int *ret_fd);
/* Unmount + unlink; 0 if already gone. */
int mseg_netns_delete(const char *name);
bool mseg_netns_exists(const char *name);
/*
 * Runs fn(arg) with the calling thread inside the namespace, then returns to the original
 * one (setns there and back). Returns fn's result (or a negative errno when entering fails).
 */
int mseg_netns_run(int netns_fd, int (*fn)(void *arg), void *arg);

#endif
