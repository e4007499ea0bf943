// SPDX-License-Identifier: GPL-2.0
/*
 * rustre: wrappers for static inline functions and macros the rustre abstractions use.
 * Each wraps exactly one inline function or macro and is named after it with a rustre_
 * prefix (but for the two SUNRPC stubs at the end); what is done with the result is in Rust.
 */

#include <linux/blkdev.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fsnotify_backend.h>
#include <linux/mm.h>
#include <linux/nfs_fs.h>
#include <linux/sched/mm.h>
#include <linux/sched/task_stack.h>
#include <asm/syscall.h>

__rust_helper unsigned int rust_helper_rustre_memalloc_flags_save(unsigned int flags)
{
	return memalloc_flags_save(flags);
}

__rust_helper void rust_helper_rustre_memalloc_flags_restore(unsigned int flags)
{
	memalloc_flags_restore(flags);
}

__rust_helper struct inode *rust_helper_rustre_fsnotify_data_inode(const void *data,
								   int data_type)
{
	return fsnotify_data_inode(data, data_type);
}

__rust_helper struct dentry *rust_helper_rustre_fsnotify_data_dentry(const void *data,
								     int data_type)
{
	return fsnotify_data_dentry(data, data_type);
}

__rust_helper struct inode *rust_helper_rustre_d_inode(const struct dentry *dentry)
{
	return d_inode(dentry);
}

/* Inline without CONFIG_USER_NS. */
__rust_helper uid_t rust_helper_rustre_from_kuid_munged(struct user_namespace *to, kuid_t kuid)
{
	return from_kuid_munged(to, kuid);
}

__rust_helper gid_t rust_helper_rustre_from_kgid_munged(struct user_namespace *to, kgid_t kgid)
{
	return from_kgid_munged(to, kgid);
}

__rust_helper void rust_helper_rustre_current_comm(char (*buf)[TASK_COMM_LEN])
{
	get_task_comm(*buf, current);
}

__rust_helper bool rust_helper_rustre_in_compat_syscall(void)
{
	return in_compat_syscall();
}

__rust_helper struct pt_regs *rust_helper_rustre_task_pt_regs(struct task_struct *task)
{
	return task_pt_regs(task);
}

__rust_helper int rust_helper_rustre_syscall_get_nr(struct task_struct *task,
						     struct pt_regs *regs)
{
	return syscall_get_nr(task, regs);
}

__rust_helper void rust_helper_rustre_syscall_get_arguments(struct task_struct *task,
							    struct pt_regs *regs,
							    unsigned long *args)
{
	syscall_get_arguments(task, regs, args);
}

__rust_helper void rust_helper_rustre_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

__rust_helper void rust_helper_rustre_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

__rust_helper const struct cred *rust_helper_rustre_current_cred(void)
{
	return current_cred();
}

__rust_helper void rust_helper_rustre_kiocb_start_write(struct kiocb *iocb)
{
	kiocb_start_write(iocb);
}

__rust_helper bool rust_helper_rustre_sb_start_write_trylock(struct super_block *sb)
{
	return sb_start_write_trylock(sb);
}

__rust_helper void rust_helper_rustre_sb_end_write(struct super_block *sb)
{
	sb_end_write(sb);
}

__rust_helper void rust_helper_rustre_sb_writers_release(struct super_block *sb, int level)
{
	__sb_writers_release(sb, level);
}

__rust_helper void rust_helper_rustre_kiocb_end_write(struct kiocb *iocb)
{
	kiocb_end_write(iocb);
}

__rust_helper int rust_helper_rustre_disk_openers(struct gendisk *disk)
{
	return disk_openers(disk);
}

__rust_helper sector_t rust_helper_rustre_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

__rust_helper void rust_helper_rustre_queue_limits_start_update(struct request_queue *q,
								 struct queue_limits *lim)
{
	*lim = queue_limits_start_update(q);
}

__rust_helper loff_t rust_helper_rustre_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

__rust_helper unsigned int rust_helper_rustre_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

__rust_helper struct gendisk *rust_helper_rustre_dev_to_disk(struct device *dev)
{
	return dev_to_disk(dev);
}

/*
 * Fields of the current task past task_struct.stats, read in C: without CONFIG_SCHEDSTATS,
 * struct sched_statistics is empty but cache-line aligned, which bindgen renders with an
 * alignment of 1, so every later field of its task_struct sits 48 bytes before where the
 * compiler puts it (journal_info at 0x1068 instead of 0x1098 in this build).
 */
__rust_helper bool rust_helper_rustre_current_in_submit_bio(void)
{
	return current->bio_list != NULL;
}

__rust_helper bool rust_helper_rustre_current_in_transaction(void)
{
	return current->journal_info != NULL;
}

__rust_helper bool rust_helper_rustre_current_has_plug(void)
{
	return current->plug != NULL;
}

/* Only for an inode of an NFS client superblock (s_magic NFS_SUPER_MAGIC). */
__rust_helper struct rpc_clnt *rust_helper_rustre_nfs_client(const struct inode *inode)
{
	return NFS_CLIENT(inode);
}

__rust_helper const struct nfs_rpc_ops *rust_helper_rustre_nfs_proto(const struct inode *inode)
{
	return NFS_PROTO(inode);
}

/*
 * Without CONFIG_SUNRPC_SWAP these two are inline stubs (activation fails with -EINVAL); with
 * it they are exported functions. The wrappers keep the functions' own names so that the same
 * Rust call reaches either.
 */
#if !IS_ENABLED(CONFIG_SUNRPC_SWAP)
__rust_helper int rust_helper_rpc_clnt_swap_activate(struct rpc_clnt *clnt)
{
	return rpc_clnt_swap_activate(clnt);
}

__rust_helper void rust_helper_rpc_clnt_swap_deactivate(struct rpc_clnt *clnt)
{
	rpc_clnt_swap_deactivate(clnt);
}
#endif

__rust_helper struct folio *rust_helper_rustre_page_folio(struct page *page)
{
	return page_folio(page);
}

__rust_helper bool rust_helper_rustre_folio_test_slab(const struct folio *folio)
{
	return folio_test_slab(folio);
}

__rust_helper bool rust_helper_rustre_folio_test_large_kmalloc(const struct folio *folio)
{
	return folio_test_large_kmalloc(folio);
}

__rust_helper unsigned int rust_helper_rustre_inode_state_read(struct inode *inode)
{
	return inode_state_read(inode);
}

__rust_helper void rust_helper_rustre_iget(struct inode *inode)
{
	__iget(inode);
}

__rust_helper bool rust_helper_rustre_need_resched(void)
{
	return need_resched();
}

__rust_helper void rust_helper_rustre_cond_resched(void)
{
	cond_resched();
}
