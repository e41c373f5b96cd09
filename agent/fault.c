// SPDX-License-Identifier: Apache-2.0
#include "agent/fault.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mseg_fault_point(const char *name)
{
	const char *at = getenv("MSEG_TEST_CRASH_AT");

	if (at && !strcmp(at, name))
		_exit(1);
}
