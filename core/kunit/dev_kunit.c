// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_dev": what kvio_dev_init() accepts, for the device
 * shapes the engine serves: rings and a worker (kvio_net, kvio_blk), and no
 * rings and no worker (a device that only needs the owner's memory table
 * and address spaces).  Ioctls need an owner process, so the selftests
 * cover them.
 */
#include <kunit/test.h>
#include <linux/slab.h>

#include <kvio/vhost.h>

static const struct kvio_dev_ops kt_ring_ops = {
	.features = KVIO_FEATURES,
};

static const struct kvio_dev_ops kt_ringless_ops = {
	.features = KVIO_FEATURES,
	.flags = KVIO_DEV_NO_WORKER,
};

static void kt_nop_kick(struct kvio_work *work)
{
}

static void dev_ringless(struct kunit *test)
{
	struct kvio_dev *dev = kunit_kzalloc(test, sizeof(*dev), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, dev);
	KUNIT_ASSERT_EQ(test, kvio_dev_init(dev, NULL, 0, &kt_ringless_ops,
					    1, 1, 0), 0);
	KUNIT_EXPECT_EQ(test, dev->nvqs, 0);
	KUNIT_EXPECT_FALSE(test, kvio_dev_has_owner(dev));
	/* Nothing to flush or stop; cleanup frees what init set up. */
	kvio_dev_cleanup(dev);
	/* Without the flag, no rings is fine too (a worker, no rings). */
	KUNIT_ASSERT_EQ(test, kvio_dev_init(dev, NULL, 0, &kt_ring_ops, 1, 1,
					    0), 0);
	kvio_dev_cleanup(dev);
}

static void dev_rings_need_worker(struct kunit *test)
{
	struct kvio_dev *dev = kunit_kzalloc(test, sizeof(*dev), GFP_KERNEL);
	struct kvio_vq *vq = kunit_kzalloc(test, sizeof(*vq), GFP_KERNEL);
	struct kvio_vq *vqs[1] = { vq };

	KUNIT_ASSERT_NOT_NULL(test, dev);
	KUNIT_ASSERT_NOT_NULL(test, vq);
	vq->handle_kick = kt_nop_kick;
	KUNIT_EXPECT_EQ(test, kvio_dev_init(dev, vqs, 1, &kt_ringless_ops, 1,
					    1, 0), -EINVAL);
	kvio_dev_cleanup(dev);
	/* Rings named but no array; a negative count. */
	KUNIT_EXPECT_EQ(test, kvio_dev_init(dev, NULL, 1, &kt_ring_ops, 1, 1,
					    0), -EINVAL);
	kvio_dev_cleanup(dev);
	KUNIT_EXPECT_EQ(test, kvio_dev_init(dev, vqs, -1, &kt_ring_ops, 1, 1,
					    0), -EINVAL);
	kvio_dev_cleanup(dev);
	KUNIT_ASSERT_EQ(test, kvio_dev_init(dev, vqs, 1, &kt_ring_ops, 1, 1,
					    0), 0);
	KUNIT_EXPECT_EQ(test, dev->nvqs, 1);
	KUNIT_EXPECT_PTR_EQ(test, vq->dev, dev);
	kvio_dev_cleanup(dev);
}

static struct kunit_case kvio_dev_cases[] = {
	KUNIT_CASE(dev_ringless),
	KUNIT_CASE(dev_rings_need_worker),
	{}
};

static struct kunit_suite kvio_dev_suite = {
	.name = "kvio_dev",
	.test_cases = kvio_dev_cases,
};

kunit_test_suites(&kvio_dev_suite);
