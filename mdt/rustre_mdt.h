/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-kernel interface of rustre_mdt, for the changelog device and the HSM dispatcher.
 * Implemented in Rust (mdt/api.rs); used from Rust through mdt/client.rs. See
 * Documentation/mdt.rst, "The in-kernel interface".
 */
#ifndef RUSTRE_MDT_H
#define RUSTRE_MDT_H

#include <linux/types.h>

/* A metadata target, counted: every pointer handed out holds one reference. */
struct rustre_mdt_target;

struct dentry;
struct kobject;

/* Called, under the target registry lock, when a target is attached (with a new reference
 * that the observer owns) and when one is about to be detached (no file is open on it). Each
 * callback gets the table it was registered with: embed it in the observer's own state and
 * find that with container_of(). attached() also gets the target's sysfs directory,
 * /sys/fs/lustre/mdt/<target>/, and its debugfs directory, lustre/mdt/<target>/ (NULL or an
 * error pointer without debugfs), borrowed for the call (kobject_get() keeps the first): the
 * observer's attribute groups and debugfs entries there must be removed by the time its
 * detaching() returns. */
struct rustre_mdt_observer {
	void (*attached)(const struct rustre_mdt_observer *o, struct rustre_mdt_target *t,
			 const char *name, struct kobject *dir, struct dentry *debug);
	void (*detaching)(const struct rustre_mdt_observer *o, struct rustre_mdt_target *t);
};

/* observe() calls attached() for every target attached now; unobserve() calls detaching() for
 * every target still attached, then forgets the observer. */
int rustre_mdt_observe(const struct rustre_mdt_observer *ops);
void rustre_mdt_unobserve(const struct rustre_mdt_observer *ops);

struct rustre_mdt_target *rustre_mdt_get(const char *name);
struct rustre_mdt_target *rustre_mdt_ref(struct rustre_mdt_target *t);
void rustre_mdt_put(struct rustre_mdt_target *t);

/* Holders (open files): detach fails with -EBUSY while there is one. */
int rustre_mdt_open(struct rustre_mdt_target *t);
void rustre_mdt_close(struct rustre_mdt_target *t);

ssize_t rustre_mdt_read(struct rustre_mdt_target *t, u64 from, u8 *buf, size_t len, u64 *next);
int rustre_mdt_wait(struct rustre_mdt_target *t, u64 after, u32 timeout_ms);
int rustre_mdt_clear(struct rustre_mdt_target *t, const u8 *id, size_t id_len, u64 endrec);
int rustre_mdt_user_mask(struct rustre_mdt_target *t, u32 id, const u8 *name, size_t name_len,
			 u32 *mask);
s64 rustre_mdt_append(struct rustre_mdt_target *t, const u8 *rec, size_t len);

/* Where the target's filesystem is mounted; returns the length, or -ERANGE. */
ssize_t rustre_mdt_mount(struct rustre_mdt_target *t, char *buf, size_t len);

#endif
