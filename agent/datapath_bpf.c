// SPDX-License-Identifier: Apache-2.0
/*
 * The eBPF backend's life cycle: load the precompiled object (build/bpf/tc.skel.h), pin its
 * maps and programs under the agent's bpffs directory, adopt what an earlier agent pinned,
 * attach the program pair to endpoint interfaces, and purge it all. Map contents:
 * datapath_bpf_maps.c; events and counters: datapath_bpf_events.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "agent/datapath_bpf_internal.h"
#include "build/bpf/tc.skel.h"
#include "macro.h"

/* Both programs sit at this (handle, priority) of clsact on every endpoint interface. */
#define MSEG_TC_HANDLE 1
#define MSEG_TC_PRIORITY 1

static const char *prog_pin_name(uint8_t dir)
{
	return dir == MSEG_DIR_EGRESS ? MSEG_PIN_PROG_FROM_EP : MSEG_PIN_PROG_TO_EP;
}

/* enum mseg_dir the endpoint enforces -> the tc hook carrying it on the host-side veth. */
static enum bpf_tc_attach_point tc_point(uint8_t dir)
{
	return dir == MSEG_DIR_EGRESS ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

static int ensure_bpffs(const char *dir)
{
	struct statfs st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (statfs(dir, &st) < 0)
		return -errno;
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", dir, "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	uint32_t len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len) < 0)
		return -errno;
	return 0;
}

/*
 * Chooses the program endpoints get: the pinned one when it is the same code (so attached
 * interfaces need nothing), else the freshly loaded one, pinned in its place (atomic rename,
 * so the pin never disappears).
 */
static int adopt_prog(struct mseg_datapath *dp, struct bpf_program *prog, uint8_t dir)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct bpf_prog_info fresh, pinned;
	int fd = bpf_program__fd(prog), pfd, r;

	snprintf(path, sizeof(path), "%s/%s", dp->bpf_dir, prog_pin_name(dir));
	r = prog_info(fd, &fresh);
	if (r < 0)
		return r;

	pfd = bpf_obj_get(path);
	if (pfd >= 0) {
		r = prog_info(pfd, &pinned);
		if (r == 0 && memcmp(fresh.tag, pinned.tag, sizeof(fresh.tag)) == 0) {
			dp->prog_fd[dir] = pfd;
			dp->prog_id[dir] = pinned.id;
			return 0;
		}
		close(pfd);
	}

	/* bpffs refuses dots in names */
	snprintf(tmp, sizeof(tmp), "%s/%s_new", dp->bpf_dir, prog_pin_name(dir));
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	fd = dup(fd);
	if (fd < 0)
		return -errno;
	dp->prog_fd[dir] = fd;
	dp->prog_id[dir] = fresh.id;
	return 0;
}

static void dp_free(struct mseg_datapath *dp)
{
	if (!dp)
		return;
	ring_buffer__free(dp->rb);
	for (int d = 0; d < 2; d++)
		if (dp->prog_fd[d] >= 0)
			close(dp->prog_fd[d]);
	mseg_tc__destroy(dp->skel);
	free(dp->bpf_dir);
	free(dp);
}

static int64_t mono_to_real(void)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (real.tv_sec - mono.tv_sec) * 1000000000LL + (real.tv_nsec - mono.tv_nsec);
}

static int bpf_open(const struct mseg_datapath_config *cfg, struct mseg_datapath **ret)
{
	struct mseg_datapath *dp;
	struct bpf_map *map;
	int r;

	if (!cfg->bpf_dir || !*cfg->bpf_dir)
		return -EINVAL;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->prog_fd[0] = dp->prog_fd[1] = -1;
	dp->bpf_dir = strdup(cfg->bpf_dir);
	if (!dp->bpf_dir) {
		r = -ENOMEM;
		goto fail;
	}
	r = ensure_bpffs(dp->bpf_dir);
	if (r < 0)
		goto fail;

	dp->skel = mseg_tc__open();
	if (!dp->skel) {
		r = -errno;
		goto fail;
	}
	/* Pinned maps are reused as they are (libbpf checks that their shape matches), so a
	 * restarted agent keeps the rules, conntrack and counters enforcement runs on. */
	bpf_object__for_each_map(map, dp->skel->obj)
	{
		char path[PATH_MAX];

		if (bpf_map__is_internal(map))
			continue; /* .rodata: constants of this load only */
		snprintf(path, sizeof(path), "%s/%s", dp->bpf_dir, bpf_map__name(map));
		if (access(path, F_OK) == 0)
			dp->adopted = true;
		r = bpf_map__set_pin_path(map, path);
		if (r < 0)
			goto fail;
	}
	r = mseg_tc__load(dp->skel);
	if (r < 0)
		goto fail;

	r = adopt_prog(dp, dp->skel->progs.mseg_tc_ingress, MSEG_DIR_EGRESS);
	if (r < 0)
		goto fail;
	r = adopt_prog(dp, dp->skel->progs.mseg_tc_egress, MSEG_DIR_INGRESS);
	if (r < 0)
		goto fail;

	dp->rb = ring_buffer__new(bpf_map__fd(dp->skel->maps.mseg_events),
				  mseg_datapath_bpf_event_cb, dp, NULL);
	if (!dp->rb) {
		r = -errno;
		goto fail;
	}
	dp->mono_to_real_ns = mono_to_real();
	*ret = dp;
	return 0;
fail:
	dp_free(dp);
	return r;
}

static void bpf_close(struct mseg_datapath *dp)
{
	dp_free(dp); /* pins and attachments stay: enforcement continues */
}

int mseg_datapath_bpf_endpoint_put(struct mseg_datapath *dp, const struct mseg_dp_endpoint *ep)
{
	struct mseg_endpoint_value v = {.id = ep->id, .identity = ep->identity};
	uint32_t ifindex;

	if (ep->ifindex <= 0 || ep->ip.family != MSEG_AF_INET)
		return -EINVAL;
	ifindex = (uint32_t)ep->ifindex;
	v.family = MSEG_ABI_AF_INET;
	memcpy(v.ip, ep->ip.addr, 4);
	memcpy(v.mac, ep->mac, 6);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.mseg_endpoints), &ifindex, &v, BPF_ANY) <
	    0)
		return -errno;
	return 0;
}

static int bpf_endpoint_attach(struct mseg_datapath *dp, const struct mseg_dp_endpoint *ep)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ep->ifindex,
			    .attach_point = BPF_TC_INGRESS);
	int r;

	/* The endpoint entry first: until it exists our programs drop everything. */
	r = mseg_datapath_bpf_endpoint_put(dp, ep);
	if (r < 0)
		return r;
	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return r;

	for (uint8_t dir = 0; dir < 2; dir++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = MSEG_TC_HANDLE,
				    .priority = MSEG_TC_PRIORITY);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, a, .handle = MSEG_TC_HANDLE,
				    .priority = MSEG_TC_PRIORITY, .prog_fd = dp->prog_fd[dir],
				    .flags = BPF_TC_F_REPLACE);

		hook.attach_point = tc_point(dir);
		/* Already ours (e.g. after an agent restart): leave it untouched. */
		if (bpf_tc_query(&hook, &q) == 0 && q.prog_id == dp->prog_id[dir])
			continue;
		r = bpf_tc_attach(&hook, &a);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Is the program with this id one of ours (any version)? Matched by name. */
static bool prog_is_mseg(uint32_t id)
{
	struct bpf_prog_info info;
	_cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0 || prog_info(fd, &info) < 0)
		return false;
	return strcmp(info.name, MSEG_PIN_PROG_FROM_EP) == 0 ||
	       strcmp(info.name, MSEG_PIN_PROG_TO_EP) == 0;
}

/* Removes our filters from one interface; a vanished interface is not an error. */
static int tc_detach_ours(int ifindex)
{
	int r = 0;

	for (uint8_t dir = 0; dir < 2; dir++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = tc_point(dir));
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = MSEG_TC_HANDLE,
				    .priority = MSEG_TC_PRIORITY);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, d, .handle = MSEG_TC_HANDLE,
				    .priority = MSEG_TC_PRIORITY);
		int k;

		if (bpf_tc_query(&hook, &q) < 0 || !prog_is_mseg(q.prog_id))
			continue;
		k = bpf_tc_detach(&hook, &d);
		if (k < 0 && k != -ENOENT && k != -ENODEV && r == 0)
			r = k;
	}
	return r;
}

/*
 * The ifindexes whose entry belongs to endpoint_id (normally one). One batched lookup reads
 * the whole map: walking it key by key costs two syscalls per endpoint on the node, which at
 * 500 endpoints made each `mseg rm` ~20 ms slower (loaded machine). Kernels without batch
 * ops on hash maps (before 5.6) get the walk.
 */
static int endpoint_ifindexes(int fd, uint32_t endpoint_id, uint32_t *found, size_t max,
			      size_t *n_found)
{
	const size_t chunk = 1024;
	_cleanup_free_ uint32_t *keys = calloc(chunk, sizeof(*keys));
	_cleanup_free_ struct mseg_endpoint_value *vals = calloc(chunk, sizeof(*vals));
	uint32_t batch = 0, key, next, *prev = NULL;
	bool first = true;
	size_t n = 0;

	if (!keys || !vals)
		return -ENOMEM;
	for (;;) {
		__u32 count = chunk;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals, &count,
					     NULL);

		if (r < 0 && r != -ENOENT) {
			if (!first)
				return r;
			goto walk; /* no batch ops on this kernel */
		}
		for (__u32 i = 0; i < count && n < max; i++)
			if (vals[i].id == endpoint_id)
				found[n++] = keys[i];
		if (r == -ENOENT)
			break;
		first = false;
	}
	*n_found = n;
	return 0;
walk:
	while (n < max && bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct mseg_endpoint_value v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) == 0 && v.id == endpoint_id)
			found[n++] = key;
	}
	*n_found = n;
	return 0;
}

static int bpf_endpoint_detach(struct mseg_datapath *dp, uint32_t endpoint_id)
{
	int fd = bpf_map__fd(dp->skel->maps.mseg_endpoints);
	uint32_t found[64];
	size_t n = 0;
	int r;

	r = endpoint_ifindexes(fd, endpoint_id, found, ARRAY_SIZE(found), &n);
	if (r < 0)
		return r;
	if (n == 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		int k;

		/* Detach first: with the entry gone, a still attached program drops everything. */
		k = tc_detach_ours((int)found[i]);
		if (k < 0 && r == 0)
			r = k;
		if (bpf_map_delete_elem(fd, &found[i]) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	return r;
}

static int bpf_event_fd(struct mseg_datapath *dp)
{
	return ring_buffer__epoll_fd(dp->rb);
}

static int bpf_purge(const struct mseg_datapath_config *cfg)
{
	struct if_nameindex *ifs = if_nameindex();
	DIR *d;
	int r = 0;

	if (!ifs)
		return -errno;
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		int k = tc_detach_ours((int)i->if_index);

		if (k < 0 && r == 0)
			r = k;
	}
	if_freenameindex(ifs);

	if (!cfg->bpf_dir)
		return r;
	d = opendir(cfg->bpf_dir);
	if (!d)
		return errno == ENOENT ? r : -errno;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, "mseg_", 5) != 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

int mseg_datapath_bpf_prog_fd(struct mseg_datapath *dp, uint8_t dir)
{
	return dir < 2 ? dp->prog_fd[dir] : -EINVAL;
}

int mseg_datapath_bpf_map_fd(struct mseg_datapath *dp, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(dp->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int mseg_datapath_bpf_set_flags(struct mseg_datapath *dp, uint32_t flags)
{
	struct mseg_config c = {.flags = flags};
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.mseg_config), &zero, &c, BPF_ANY) < 0)
		return -errno;
	return 0;
}

const struct mseg_datapath_ops mseg_datapath_bpf = {
    .name = "bpf",
    .open = bpf_open,
    .close = bpf_close,
    .endpoint_attach = bpf_endpoint_attach,
    .endpoint_detach = bpf_endpoint_detach,
    .apply = mseg_datapath_bpf_apply,
    .event_fd = bpf_event_fd,
    .events_read = mseg_datapath_bpf_events_read,
    .purge = bpf_purge,
};
