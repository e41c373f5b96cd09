// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler's sort (see compile_internal.h): an update sorts arrays that are mostly in
 * order already, so runs are found first and merged; only a shuffled array goes to qsort().
 */
#include <stdlib.h>
#include <string.h>

#include "policy/compile_internal.h"

/* Stable merge of the sorted runs [lo, mid) and [mid, hi) of p, through tmp. */
static void merge_runs(char *p, char *tmp, size_t lo, size_t mid, size_t hi, size_t size,
		       int (*cmp)(const void *, const void *))
{
	size_t a = lo, b = mid, k = 0;

	while (a < mid && b < hi) {
		/* on a tie the left run's element goes first: stable */
		size_t from = cmp(p + b * size, p + a * size) < 0 ? b++ : a++;

		memcpy(tmp + k++ * size, p + from * size, size);
	}
	/* what is left of the right run is already in place */
	memcpy(tmp + k * size, p + a * size, (mid - a) * size);
	k += mid - a;
	memcpy(p + lo * size, tmp, k * size);
}

#define SORT_MAX_RUNS 16

void mseg_compile_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	size_t runs[SORT_MAX_RUNS + 1], n_runs = 1;
	char *p = base, *tmp;

	if (n < 2)
		return;
	runs[0] = 0;
	for (size_t i = 1; i < n; i++) {
		if (cmp(p + (i - 1) * size, p + i * size) <= 0)
			continue;
		if (n_runs == SORT_MAX_RUNS) {
			qsort(base, n, size, cmp);
			return;
		}
		runs[n_runs++] = i;
	}
	if (n_runs == 1)
		return;
	tmp = malloc(n * size);
	if (!tmp) {
		qsort(base, n, size, cmp);
		return;
	}
	/* merge neighbouring runs pairwise until one is left */
	while (n_runs > 1) {
		size_t w = 0;

		runs[n_runs] = n;
		for (size_t r = 0; r < n_runs; r += 2) {
			if (r + 1 < n_runs)
				merge_runs(p, tmp, runs[r], runs[r + 1], runs[r + 2], size, cmp);
			runs[w++] = runs[r];
		}
		n_runs = w;
	}
	free(tmp);
}
