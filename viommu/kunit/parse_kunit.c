// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite "kvio_iommu_parse": the virtio-iommu request parser
 * (viommu/parse.c), one rule at a time, with requests that follow it and
 * requests that break it, asserting the exact verdict, status, tail offset
 * and decoded fields.  The readable part is a buffer in kernel memory that
 * the read op copies from, checking the parser never reads past it.
 */
#include <kunit/test.h>
#include <linux/string.h>
#include <linux/virtio_iommu.h>

#include "../parse.h"

#define KT_PROBE	512
#define KT_TAIL		sizeof(struct virtio_iommu_req_tail)

struct kt_iommu {
	struct kvio_iommu_params p;
	struct kvio_iommu_parse r;
	struct kvio_iommu_resv resv[2];
	u8 buf[256];
	unsigned int reads;
	bool fail_read;
};

static int kt_read(struct kvio_iommu_parse *r, void *buf, size_t len)
{
	struct kt_iommu *t = r->priv;

	t->reads++;
	if (t->fail_read || len > r->out_len || len > sizeof(t->buf))
		return -EFAULT;
	memcpy(buf, t->buf, len);
	return 0;
}

static int kt_init(struct kunit *test)
{
	struct kt_iommu *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->p.granule = 4096;
	t->p.input_start = 0;
	t->p.input_end = U64_MAX;
	t->p.domain_start = 1;
	t->p.domain_end = 1000;
	t->p.probe_size = KT_PROBE;
	t->p.map_unmap = true;
	t->p.probe = true;
	t->p.bypass_config = true;
	t->resv[0].start = 0xfee00000;
	t->resv[0].end = 0xfeefffff;
	t->resv[0].subtype = VIRTIO_IOMMU_RESV_MEM_T_MSI;
	t->p.resv = t->resv;
	t->p.nresv = 1;
	t->r.p = &t->p;
	t->r.read = kt_read;
	t->r.priv = t;
	test->priv = t;
	return 0;
}

/* Parses @len bytes of @req with @in_len writable bytes. */
static enum kvio_iommu_verdict kt_parse(struct kunit *test, const void *req,
					size_t len, size_t in_len)
{
	struct kt_iommu *t = test->priv;

	memset(t->buf, 0, sizeof(t->buf));
	memcpy(t->buf, req, len);
	t->r.out_len = len;
	t->r.in_len = in_len;
	return kvio_iommu_parse_req(&t->r);
}

static void kt_expect_answer(struct kunit *test, const void *req, size_t len,
			     u8 status)
{
	struct kt_iommu *t = test->priv;

	KUNIT_EXPECT_EQ(test, kt_parse(test, req, len, KT_TAIL),
			KVIO_IOMMU_ANSWER);
	KUNIT_EXPECT_EQ(test, t->r.status, status);
	KUNIT_EXPECT_EQ(test, t->r.tail_off, 0);
}

static struct virtio_iommu_req_attach kt_attach(u32 domain, u32 ep, u32 flags)
{
	struct virtio_iommu_req_attach a = {
		.head.type = VIRTIO_IOMMU_T_ATTACH,
		.domain = cpu_to_le32(domain),
		.endpoint = cpu_to_le32(ep),
		.flags = cpu_to_le32(flags),
	};
	return a;
}

static struct virtio_iommu_req_map kt_map(u32 domain, u64 start, u64 end,
					  u64 phys, u32 flags)
{
	struct virtio_iommu_req_map m = {
		.head.type = VIRTIO_IOMMU_T_MAP,
		.domain = cpu_to_le32(domain),
		.virt_start = cpu_to_le64(start),
		.virt_end = cpu_to_le64(end),
		.phys_start = cpu_to_le64(phys),
		.flags = cpu_to_le32(flags),
	};
	return m;
}

#define KT_BODY(type, field) offsetof(type, field)
#define KT_RW (VIRTIO_IOMMU_MAP_F_READ | VIRTIO_IOMMU_MAP_F_WRITE)

static void parse_drop(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_attach a = kt_attach(1, 1, 0);
	struct virtio_iommu_req_head h = { .type = 0x42 };
	struct virtio_iommu_req_probe pr = { .head.type = VIRTIO_IOMMU_T_PROBE };
	const size_t n = KT_BODY(typeof(a), tail);

	/* No head, no room for a tail. */
	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, 3, KT_TAIL), KVIO_IOMMU_DROP);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, n, KT_TAIL - 1),
			KVIO_IOMMU_DROP);
	KUNIT_EXPECT_EQ(test, t->r.err, 0);
	/* An unknown type. */
	KUNIT_EXPECT_EQ(test, kt_parse(test, &h, sizeof(h), KT_TAIL),
			KVIO_IOMMU_DROP);
	KUNIT_EXPECT_EQ(test, t->r.type, 0x42);
	/* PROBE without F_PROBE. */
	t->p.probe = false;
	KUNIT_EXPECT_EQ(test, kt_parse(test, &pr, sizeof(pr),
				       KT_PROBE + KT_TAIL),
			KVIO_IOMMU_DROP);
	/* The read op failing: DROP with its error (the ring breaks). */
	t->fail_read = true;
	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, n, KT_TAIL), KVIO_IOMMU_DROP);
	KUNIT_EXPECT_EQ(test, t->r.err, -EFAULT);
}

static void parse_unsupp_and_short(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_map m = kt_map(1, 0, 0xfff, 0, KT_RW);
	struct virtio_iommu_req_probe pr = { .head.type = VIRTIO_IOMMU_T_PROBE };

	/* A short body: INVAL in the tail, nothing else read. */
	kt_expect_answer(test, &m, KT_BODY(typeof(m), tail) - 1,
			 VIRTIO_IOMMU_S_INVAL);
	KUNIT_EXPECT_EQ(test, t->reads, 1U);
	/* A PROBE with a short body and a short writable part. */
	KUNIT_EXPECT_EQ(test, kt_parse(test, &pr, 8, 100), KVIO_IOMMU_ANSWER);
	KUNIT_EXPECT_EQ(test, t->r.status, VIRTIO_IOMMU_S_INVAL);
	KUNIT_EXPECT_EQ(test, t->r.tail_off, 100 - KT_TAIL);
	/* MAP and UNMAP without F_MAP_UNMAP. */
	t->p.map_unmap = false;
	kt_expect_answer(test, &m, KT_BODY(typeof(m), tail),
			 VIRTIO_IOMMU_S_UNSUPP);
	m.head.type = VIRTIO_IOMMU_T_UNMAP;
	kt_expect_answer(test, &m, 4, VIRTIO_IOMMU_S_UNSUPP);
}

static void parse_attach(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_attach a = kt_attach(7, 0x12345678, 0);
	const size_t n = KT_BODY(typeof(a), tail);

	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_EQ(test, t->r.type, VIRTIO_IOMMU_T_ATTACH);
	KUNIT_EXPECT_EQ(test, t->r.domain, 7U);
	KUNIT_EXPECT_EQ(test, t->r.endpoint, 0x12345678U);
	KUNIT_EXPECT_FALSE(test, t->r.bypass);
	KUNIT_EXPECT_EQ(test, t->r.tail_off, 0);
	a = kt_attach(7, 1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_TRUE(test, t->r.bypass);
	a = kt_attach(7, 1, 2);
	kt_expect_answer(test, &a, n, VIRTIO_IOMMU_S_INVAL);
	a = kt_attach(7, 1, 0);
	a.reserved[3] = 1;
	kt_expect_answer(test, &a, n, VIRTIO_IOMMU_S_INVAL);
	a = kt_attach(0, 1, 0);
	kt_expect_answer(test, &a, n, VIRTIO_IOMMU_S_RANGE);
	a = kt_attach(1001, 1, 0);
	kt_expect_answer(test, &a, n, VIRTIO_IOMMU_S_RANGE);
	a = kt_attach(1000, 1, 0);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &a, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	t->p.bypass_config = false;
	a = kt_attach(7, 1, VIRTIO_IOMMU_ATTACH_F_BYPASS);
	kt_expect_answer(test, &a, n, VIRTIO_IOMMU_S_INVAL);
}

static void parse_detach(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_detach d = {
		.head.type = VIRTIO_IOMMU_T_DETACH,
		.domain = cpu_to_le32(9),
		.endpoint = cpu_to_le32(3),
	};
	const size_t n = KT_BODY(typeof(d), tail);

	KUNIT_EXPECT_EQ(test, kt_parse(test, &d, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_EQ(test, t->r.domain, 9U);
	KUNIT_EXPECT_EQ(test, t->r.endpoint, 3U);
	d.reserved[0] = 1;
	kt_expect_answer(test, &d, n, VIRTIO_IOMMU_S_INVAL);
}

static void parse_map(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_map m;
	const size_t n = KT_BODY(typeof(m), tail);

	m = kt_map(5, 0x10000, 0x1ffff, 0x200000, VIRTIO_IOMMU_MAP_F_READ);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &m, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_EQ(test, t->r.domain, 5U);
	KUNIT_EXPECT_EQ(test, t->r.start, 0x10000ULL);
	KUNIT_EXPECT_EQ(test, t->r.end, 0x1ffffULL);
	KUNIT_EXPECT_EQ(test, t->r.phys, 0x200000ULL);
	KUNIT_EXPECT_TRUE(test, t->r.read_ok);
	KUNIT_EXPECT_FALSE(test, t->r.write_ok);
	/* To the very top of the space: end + 1 wraps to 0, aligned. */
	m = kt_map(5, 0xfffffffffffff000ULL, U64_MAX, 0, KT_RW);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &m, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	/* Flags: MMIO (not offered), none. */
	m = kt_map(5, 0x10000, 0x1ffff, 0, KT_RW | VIRTIO_IOMMU_MAP_F_MMIO);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_INVAL);
	m = kt_map(5, 0x10000, 0x1ffff, 0, 0);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_INVAL);
	/* Alignment of start, end + 1 and phys; end below start. */
	m = kt_map(5, 0x10800, 0x1ffff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	m = kt_map(5, 0x10000, 0x1fffe, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	m = kt_map(5, 0x10000, 0x1ffff, 0x800, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	m = kt_map(5, 0x20000, 0x1ffff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	/* The input range. */
	t->p.input_start = 0x10000;
	t->p.input_end = 0xffffffff;
	m = kt_map(5, 0, 0xfff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	m = kt_map(5, 0xfffff000, 0x100000fff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
	m = kt_map(5, 0xfffff000, 0xffffffff, 0, KT_RW);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &m, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	/* Reserved regions: touching the first or last byte is enough. */
	m = kt_map(5, 0xfed00000, 0xfee00fff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_INVAL);
	m = kt_map(5, 0xfeeff000, 0xfef00fff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_INVAL);
	m = kt_map(5, 0xfef00000, 0xfef00fff, 0, KT_RW);
	KUNIT_EXPECT_EQ(test, kt_parse(test, &m, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	/* A larger granule. */
	t->p.granule = 0x10000;
	m = kt_map(5, 0x11000, 0x1ffff, 0, KT_RW);
	kt_expect_answer(test, &m, n, VIRTIO_IOMMU_S_RANGE);
}

static void parse_unmap(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_unmap u = {
		.head.type = VIRTIO_IOMMU_T_UNMAP,
		.domain = cpu_to_le32(5),
		.virt_start = cpu_to_le64(0),
		.virt_end = cpu_to_le64(U64_MAX),
	};
	const size_t n = KT_BODY(typeof(u), tail);

	/* Anything goes but end below start: the domain says the rest. */
	KUNIT_EXPECT_EQ(test, kt_parse(test, &u, n, KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_EQ(test, t->r.end, U64_MAX);
	u.virt_start = cpu_to_le64(0x2000);
	u.virt_end = cpu_to_le64(0x1fff);
	kt_expect_answer(test, &u, n, VIRTIO_IOMMU_S_RANGE);
	u.virt_end = cpu_to_le64(0x2fff);
	u.reserved[3] = 1;
	kt_expect_answer(test, &u, n, VIRTIO_IOMMU_S_INVAL);
}

static void parse_probe(struct kunit *test)
{
	struct kt_iommu *t = test->priv;
	struct virtio_iommu_req_probe pr = {
		.head.type = VIRTIO_IOMMU_T_PROBE,
		.endpoint = cpu_to_le32(77),
	};
	const size_t n = KT_BODY(typeof(pr), properties);

	KUNIT_EXPECT_EQ(test, kt_parse(test, &pr, n, KT_PROBE + KT_TAIL),
			KVIO_IOMMU_SERVE);
	KUNIT_EXPECT_EQ(test, t->r.endpoint, 77U);
	KUNIT_EXPECT_EQ(test, t->r.tail_off, KT_PROBE);
	/* No room for the properties: INVAL in the last 4 bytes. */
	KUNIT_EXPECT_EQ(test, kt_parse(test, &pr, n, KT_PROBE + KT_TAIL - 1),
			KVIO_IOMMU_ANSWER);
	KUNIT_EXPECT_EQ(test, t->r.status, VIRTIO_IOMMU_S_INVAL);
	KUNIT_EXPECT_EQ(test, t->r.tail_off, KT_PROBE - 1);
}

static struct kunit_case kt_cases[] = {
	KUNIT_CASE(parse_drop),
	KUNIT_CASE(parse_unsupp_and_short),
	KUNIT_CASE(parse_attach),
	KUNIT_CASE(parse_detach),
	KUNIT_CASE(parse_map),
	KUNIT_CASE(parse_unmap),
	KUNIT_CASE(parse_probe),
	{}
};

static struct kunit_suite kt_suite = {
	.name = "kvio_iommu_parse",
	.init = kt_init,
	.test_cases = kt_cases,
};

kunit_test_suite(kt_suite);
