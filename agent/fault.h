/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fault injection for the crash-recovery tests only: when the environment variable
 * MSEG_TEST_CRASH_AT names a point, msegd _exit(1)s there, as if killed at that instant.
 * Points: after-intent, after-netns, after-network, after-attach, after-delete-intent.
 */
#ifndef MSEG_AGENT_FAULT_H
#define MSEG_AGENT_FAULT_H

void mseg_fault_point(const char *name);

#endif
