// SPDX-License-Identifier: GPL-2.0
/*
 * rustre: wrappers for static inline functions the rustre abstractions use.
 * Each wraps exactly one inline function.
 */

#include <linux/sched/mm.h>

__rust_helper unsigned int rust_helper_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}

__rust_helper void rust_helper_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}
