/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Libraries only one or two commands need are loaded when used (tools/optional_libs.c):
 * linked in, graphviz and libpcap and what they pull in (dbus, systemd, gcrypt, ...) cost
 * every start of the CLI ~14 ms of dynamic loading: more than msegd spends creating a
 * container for `mseg run`. The sym_* pointers have the libraries' own prototypes (their
 * headers stay the reference) and are valid after a successful load, which returns 0, or
 * -ENOENT/-ENOSYS after printing the missing library or symbol on stderr.
 */
#ifndef MSEG_TOOLS_OPTIONAL_PCAP_H
#define MSEG_TOOLS_OPTIONAL_PCAP_H

#include <pcap/pcap.h>

extern typeof(pcap_open_dead) *sym_pcap_open_dead;
extern typeof(pcap_close) *sym_pcap_close;
extern typeof(pcap_geterr) *sym_pcap_geterr;
extern typeof(pcap_dump_open) *sym_pcap_dump_open;
extern typeof(pcap_dump) *sym_pcap_dump;
extern typeof(pcap_dump_flush) *sym_pcap_dump_flush;
extern typeof(pcap_dump_close) *sym_pcap_dump_close;

/* `mseg observe --pcap FILE` */
int mseg_optional_pcap_load(void);

#endif
