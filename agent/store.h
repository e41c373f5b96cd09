/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local store's file primitives: one JSON document per file in the state directory,
 * replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves
 * either the old or the new document, never a mix. Reading reports a torn or corrupt file
 * with its path and what is wrong; nothing here ever discards or rewrites a bad file.
 */
#ifndef MSEG_AGENT_STORE_H
#define MSEG_AGENT_STORE_H

#include <jansson.h>
#include <stddef.h>

#define MSEG_STORE_WHY_LEN 512

/* Creates dir (and missing parents) with mode 0700 when absent. */
int mseg_store_dir_ensure(const char *dir);
/* Atomically replaces DIR/NAME with doc (compact JSON plus a newline), mode 0600. */
int mseg_store_write_json(const char *dir, const char *name, const json_t *doc);
/* How much of a replacement must survive a power cut. */
enum mseg_store_sync {
	/* the data and the rename: for what must outlive the boot (policies, namespaces) */
	MSEG_STORE_SYNC_ALL,
	/* the data only: a power cut may bring back the previous file, never a torn one; for
	 * records of kernel objects that die with the boot anyway (agent/state.h) */
	MSEG_STORE_SYNC_DATA,
};
/* Atomically replaces DIR/NAME with text exactly as given (the caller ends it with a
 * newline), mode 0600. */
int mseg_store_replace(const char *dir, const char *name, const char *text, size_t len,
		       enum mseg_store_sync sync);
/*
 * Reads DIR/NAME into *ret (a new reference). -ENOENT when the file does not exist (no message);
 * -EBADMSG when it is empty, not JSON or not a JSON object: why (MSEG_STORE_WHY_LEN bytes)
 * then says "PATH: line L column C: what"; other errors are negative errno with why set too.
 */
int mseg_store_read_json(const char *dir, const char *name, json_t **ret, char *why);
/* Removes DIR/NAME; 0 when already absent. */
int mseg_store_remove(const char *dir, const char *name);

#endif
