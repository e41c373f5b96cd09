/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Libraries only one or two commands need are loaded when used (tools/optional_libs.c):
 * linked in, graphviz and libpcap and what they pull in (dbus, systemd, gcrypt, ...) cost
 * every start of the CLI ~14 ms of dynamic loading: more than msegd spends creating a
 * container for `mseg run`. The sym_* pointers have the libraries' own prototypes (their
 * headers stay the reference) and are valid after a successful load, which returns 0, or
 * -ENOENT/-ENOSYS after printing the missing library or symbol on stderr.
 */
#ifndef MSEG_TOOLS_OPTIONAL_GRAPHVIZ_H
#define MSEG_TOOLS_OPTIONAL_GRAPHVIZ_H

/* graphviz's headers declare globals named port and path: include this one only where the
 * map is drawn. */
#include <gvc.h>

extern typeof(gvContext) *sym_gvContext;
extern typeof(gvFreeContext) *sym_gvFreeContext;
extern typeof(gvLayout) *sym_gvLayout;
extern typeof(gvFreeLayout) *sym_gvFreeLayout;
extern typeof(gvRenderData) *sym_gvRenderData;
extern typeof(gvFreeRenderData) *sym_gvFreeRenderData;
extern typeof(agmemread) *sym_agmemread;
extern typeof(agclose) *sym_agclose;

/* `mseg map --format svg|html` */
int mseg_optional_graphviz_load(void);

#endif
