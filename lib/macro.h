/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers every module uses: scope-bound cleanup of locals and ownership hand-off.
 * Modelled on systemd's _cleanup_ family; kept to the handful mseg actually needs.
 */
#ifndef MSEG_MACRO_H
#define MSEG_MACRO_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void mseg_freep(void *p)
{
	free(*(void **)p);
}

static inline void mseg_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void mseg_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(mseg_freep)
#define _cleanup_close_ _cleanup_(mseg_closep)
#define _cleanup_fclose_ _cleanup_(mseg_fclosep)

/* Takes ownership out of a cleanup-managed local: the local becomes NULL, the value returns. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _tp = (p);                                                           \
		(p) = NULL;                                                                        \
		_tp;                                                                               \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _tfd = (fd);                                                                   \
		(fd) = -1;                                                                         \
		_tfd;                                                                              \
	})

/* Declares a cleanup function for a type whose destructor is void f(T *). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

#endif
