// SPDX-License-Identifier: Apache-2.0
#include "tools/optional_graphviz.h"
#include "tools/optional_pcap.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

typeof(gvContext) *sym_gvContext;
typeof(gvFreeContext) *sym_gvFreeContext;
typeof(gvLayout) *sym_gvLayout;
typeof(gvFreeLayout) *sym_gvFreeLayout;
typeof(gvRenderData) *sym_gvRenderData;
typeof(gvFreeRenderData) *sym_gvFreeRenderData;
typeof(agmemread) *sym_agmemread;
typeof(agclose) *sym_agclose;

typeof(pcap_open_dead) *sym_pcap_open_dead;
typeof(pcap_close) *sym_pcap_close;
typeof(pcap_geterr) *sym_pcap_geterr;
typeof(pcap_dump_open) *sym_pcap_dump_open;
typeof(pcap_dump) *sym_pcap_dump;
typeof(pcap_dump_flush) *sym_pcap_dump_flush;
typeof(pcap_dump_close) *sym_pcap_dump_close;

struct symbol {
	void **where;
	const char *name;
};

#define SYMBOL(fn)                                                                                 \
	{                                                                                          \
		(void **)&sym_##fn, #fn                                                            \
	}

/*
 * Open the first of the names that loads (the runtime package's SONAME, then the -dev
 * package's unversioned link) and resolve every symbol, or nothing: a half-resolved table
 * would crash later instead of failing here. The handle is never closed: the symbols stay
 * in use until the process exits.
 */
static int library_load(const char *const *names, const struct symbol *syms, size_t n_syms)
{
	void *handle = NULL;
	const char *err = NULL;

	for (const char *const *name = names; *name && !handle; name++) {
		handle = dlopen(*name, RTLD_NOW | RTLD_LOCAL);
		if (!handle && !err)
			err = dlerror();
	}
	if (!handle) {
		fprintf(stderr, "mseg: cannot load %s: %s\n", names[0], err ?: "not found");
		return -ENOENT;
	}
	for (size_t i = 0; i < n_syms; i++) {
		*syms[i].where = dlsym(handle, syms[i].name);
		if (!*syms[i].where) {
			fprintf(stderr, "mseg: %s has no symbol %s\n", names[0], syms[i].name);
			for (size_t j = 0; j < i; j++)
				*syms[j].where = NULL;
			return -ENOSYS;
		}
	}
	return 0;
}

int mseg_optional_graphviz_load(void)
{
	/* libgvc links libcgraph, so agmemread and agclose resolve through its handle. */
	static const char *const names[] = {"libgvc.so.6", "libgvc.so", NULL};
	static const struct symbol syms[] = {
	    SYMBOL(gvContext),	  SYMBOL(gvFreeContext),    SYMBOL(gvLayout),  SYMBOL(gvFreeLayout),
	    SYMBOL(gvRenderData), SYMBOL(gvFreeRenderData), SYMBOL(agmemread), SYMBOL(agclose),
	};

	if (sym_gvContext)
		return 0;
	return library_load(names, syms, sizeof(syms) / sizeof(syms[0]));
}

int mseg_optional_pcap_load(void)
{
	static const char *const names[] = {"libpcap.so.0.8", "libpcap.so.1", "libpcap.so", NULL};
	static const struct symbol syms[] = {
	    SYMBOL(pcap_open_dead),  SYMBOL(pcap_close), SYMBOL(pcap_geterr),
	    SYMBOL(pcap_dump_open),  SYMBOL(pcap_dump),	 SYMBOL(pcap_dump_flush),
	    SYMBOL(pcap_dump_close),
	};

	if (sym_pcap_open_dead)
		return 0;
	return library_load(names, syms, sizeof(syms) / sizeof(syms[0]));
}
