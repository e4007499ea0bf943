// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the in-kernel interface, whose functions are defined in Rust (mdt/api.rs): the
 * Rust module API cannot export symbols.
 */

#include <linux/export.h>
#include "rustre_mdt.h"

EXPORT_SYMBOL_GPL(rustre_mdt_observe);
EXPORT_SYMBOL_GPL(rustre_mdt_unobserve);
EXPORT_SYMBOL_GPL(rustre_mdt_get);
EXPORT_SYMBOL_GPL(rustre_mdt_ref);
EXPORT_SYMBOL_GPL(rustre_mdt_put);
EXPORT_SYMBOL_GPL(rustre_mdt_open);
EXPORT_SYMBOL_GPL(rustre_mdt_close);
EXPORT_SYMBOL_GPL(rustre_mdt_read);
EXPORT_SYMBOL_GPL(rustre_mdt_wait);
EXPORT_SYMBOL_GPL(rustre_mdt_clear);
EXPORT_SYMBOL_GPL(rustre_mdt_user_mask);
EXPORT_SYMBOL_GPL(rustre_mdt_append);
EXPORT_SYMBOL_GPL(rustre_mdt_mount);
