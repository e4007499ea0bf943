// SPDX-License-Identifier: GPL-2.0
/*
 * rustre: wrappers for static inline functions the rustre abstractions use.
 * Each wraps exactly one inline function or macro.
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

__rust_helper unsigned int rust_helper_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}

__rust_helper void rust_helper_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

__rust_helper unsigned int rust_helper_memalloc_noreclaim_save(void)
{
	return memalloc_noreclaim_save();
}

__rust_helper void rust_helper_memalloc_noreclaim_restore(unsigned int flags)
{
	memalloc_noreclaim_restore(flags);
}

__rust_helper struct inode *rust_helper_fsnotify_data_inode(const void *data, int data_type)
{
	return fsnotify_data_inode(data, data_type);
}

__rust_helper struct dentry *rust_helper_fsnotify_data_dentry(const void *data, int data_type)
{
	return fsnotify_data_dentry(data, data_type);
}

__rust_helper struct inode *rust_helper_d_inode(const struct dentry *dentry)
{
	return d_inode(dentry);
}

__rust_helper u32 rust_helper_rustre_current_fsuid(void)
{
	return from_kuid_munged(&init_user_ns, current_fsuid());
}

__rust_helper u32 rust_helper_rustre_current_fsgid(void)
{
	return from_kgid_munged(&init_user_ns, current_fsgid());
}

__rust_helper void rust_helper_rustre_current_comm(char (*buf)[TASK_COMM_LEN])
{
	get_task_comm(*buf, current);
}

__rust_helper int rust_helper_rustre_current_syscall_nr(void)
{
	return current->mm && !in_compat_syscall() ?
		syscall_get_nr(current, task_pt_regs(current)) : -1;
}

__rust_helper void rust_helper_rustre_current_syscall_args(unsigned long *args)
{
	syscall_get_arguments(current, task_pt_regs(current), args);
}

__rust_helper u32 rust_helper_rustre_inode_uid(const struct inode *inode)
{
	return from_kuid_munged(&init_user_ns, inode->i_uid);
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

/* kiocb_start_write() without waiting for a frozen filesystem: false if it would wait. */
__rust_helper bool rust_helper_rustre_kiocb_start_write_nowait(struct kiocb *iocb)
{
	struct super_block *sb = file_inode(iocb->ki_filp)->i_sb;

	if (!sb_start_write_trylock(sb))
		return false;
	__sb_writers_release(sb, SB_FREEZE_WRITE);
	return true;
}

/* file_update_time() under freeze protection; -EBUSY, and nothing done, if frozen. */
__rust_helper int rust_helper_rustre_file_update_time(struct file *file)
{
	struct super_block *sb = file_inode(file)->i_sb;
	int ret;

	if (!sb_start_write_trylock(sb))
		return -EBUSY;
	ret = file_update_time(file);
	sb_end_write(sb);
	return ret;
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

__rust_helper unsigned int rust_helper_rustre_local_throttle_save(void)
{
	unsigned int old = current->flags & PF_LOCAL_THROTTLE;

	current->flags |= PF_LOCAL_THROTTLE;
	return old;
}

__rust_helper void rust_helper_rustre_local_throttle_restore(unsigned int old)
{
	current->flags = (current->flags & ~PF_LOCAL_THROTTLE) | old;
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
__rust_helper struct rpc_clnt *rust_helper_NFS_CLIENT(const struct inode *inode)
{
	return NFS_CLIENT(inode);
}

__rust_helper const struct nfs_rpc_ops *rust_helper_NFS_PROTO(const struct inode *inode)
{
	return NFS_PROTO(inode);
}

/* Without CONFIG_SUNRPC_SWAP these two are inline stubs (activation fails with -EINVAL). */
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
