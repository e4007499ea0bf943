// SPDX-License-Identifier: GPL-2.0
/*
 * The string module parameter of rustre_mdt, which the Rust module API cannot declare.
 */

#include <linux/moduleparam.h>

static char targets[4096];
module_param_string(targets, targets, sizeof(targets), 0444);
MODULE_PARM_DESC(targets, "Targets to attach at load: NAME:MOUNTPOINT:CATALOG[,...]");

const char *rustre_mdt_targets_param(void);

/* Returns the targets parameter for the Rust side. */
const char *rustre_mdt_targets_param(void)
{
	return targets;
}
