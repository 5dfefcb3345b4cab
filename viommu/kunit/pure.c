// SPDX-License-Identifier: GPL-2.0-only
/*
 * kvio_iommu_kunit.ko: KUnit suite for kvio_iommu's logic that needs no
 * device, the request parser (parse_kunit.c).
 *
 * The parser is compiled into this module a second time, from the very same
 * source, so the module depends on neither kvio_core nor kvio_iommu.  Built
 * only against a kernel with CONFIG_KUNIT (viommu/Kbuild), loaded by
 * scripts/vm/run-kunit on the debug kernel.
 */
#include <linux/module.h>

#include "../parse.c"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("KUnit suite for kvio_iommu: the request parser");
