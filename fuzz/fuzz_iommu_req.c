// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the virtio-iommu request parser, viommu/parse.c,
 * compiled unchanged in userspace.
 *
 * The input is the device configuration, what the driver negotiated, the
 * size of the writable part and the readable part's bytes.  Layout,
 * little-endian, missing bytes read 0:
 *
 *   u8  cfg      bit 0 F_MAP_UNMAP, 1 F_PROBE, 2 F_BYPASS_CONFIG,
 *                3 the read op fails
 *   u8  granule  page size 1 << (12 + granule % 20)
 *   u64 input_start, u64 input_end         (swapped if start > end)
 *   u32 domain_start, u32 domain_end       (swapped likewise)
 *   u16 probe_size                          probe_size % 4097
 *   u8  nresv    reserved regions nresv % 4, each u64 start, u64 end
 *   u16 in_len   bytes of the writable part
 *   rest         the readable part (at most 256 bytes)
 *
 * Beyond the sanitizers, each run checks the parser against a naive model
 * written from the rules at the top of viommu/parse.c, reading fields at
 * their byte offsets in the spec's layout: the verdict, the status and
 * where the tail goes must agree, and on SERVE every decoded field; the
 * read op checks the parser reads only the readable part, at most twice.
 * Any mismatch aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../viommu/parse.h"
#include "harness.h"

#define OUT_MAX		256

struct input {
	struct kvio_iommu_params p;
	struct kvio_iommu_resv resv[3];
	bool fail_read;
	size_t in_len, out_len;
	u8 out[OUT_MAX];
	unsigned int reads;
};

static void parse(struct input *in, const u8 *data, size_t size)
{
	struct cursor cur = { data, size };
	unsigned int cfg, i;
	u64 a, b;

	memset(in, 0, sizeof(*in));
	cfg = take(&cur, 1);
	in->p.map_unmap = cfg & 1;
	in->p.probe = cfg & 2;
	in->p.bypass_config = cfg & 4;
	in->fail_read = cfg & 8;
	in->p.granule = 1ULL << (12 + take(&cur, 1) % 20);
	a = take(&cur, 8);
	b = take(&cur, 8);
	in->p.input_start = a < b ? a : b;
	in->p.input_end = a < b ? b : a;
	a = take(&cur, 4);
	b = take(&cur, 4);
	in->p.domain_start = a < b ? a : b;
	in->p.domain_end = a < b ? b : a;
	in->p.probe_size = take(&cur, 2) % 4097;
	in->p.nresv = take(&cur, 1) % 4;
	for (i = 0; i < in->p.nresv; i++) {
		a = take(&cur, 8);
		b = take(&cur, 8);
		in->resv[i].start = a < b ? a : b;
		in->resv[i].end = a < b ? b : a;
	}
	in->p.resv = in->resv;
	in->in_len = take(&cur, 2);
	in->out_len = cur.n < OUT_MAX ? cur.n : OUT_MAX;
	memcpy(in->out, cur.p, in->out_len);
}

static int op_read(struct kvio_iommu_parse *r, void *buf, size_t len)
{
	struct input *in = r->priv;

	check(++in->reads <= 2);
	check(len > 0 && len <= in->out_len);
	if (in->fail_read)
		return -EFAULT;
	memcpy(buf, in->out, len);
	return 0;
}

/* Little-endian fields at byte offsets of the readable part. */
static u64 le(const struct input *in, size_t off, unsigned int bytes)
{
	u64 v = 0;
	unsigned int i;

	for (i = 0; i < bytes; i++)
		v |= (u64)in->out[off + i] << (8 * i);
	return v;
}

static bool zero(const struct input *in, size_t off, size_t len)
{
	while (len--)
		if (in->out[off++])
			return false;
	return true;
}

struct model {
	enum kvio_iommu_verdict v;
	u8 status;
	size_t tail_off;
	/* SERVE: the fields as the spec's layout has them. */
	u32 domain, endpoint;
	bool bypass, read_ok, write_ok;
	u64 start, end, phys;
};

static struct model answer(u8 status, size_t tail_off)
{
	struct model m = { .v = KVIO_IOMMU_ANSWER, .status = status,
			   .tail_off = tail_off };

	return m;
}

static bool aligned(const struct input *in, u64 a)
{
	return a % in->p.granule == 0;
}

/* The rules, from the spec's byte layout (5.13.6). */
static struct model model(const struct input *in)
{
	const struct kvio_iommu_params *p = &in->p;
	/* Readable bytes of each type, head included. */
	static const size_t body[6] = { 0, 20, 20, 36, 28, 72 };
	struct model m = { .v = KVIO_IOMMU_DROP };
	unsigned __int128 top;
	unsigned int i;
	u64 flags;
	u8 type;

	if (in->out_len < 4 || in->in_len < 4 || in->fail_read)
		return m;
	type = in->out[0];
	if (type < 1 || type > 5)
		return m;
	if (type == 5) {
		if (!p->probe)
			return m;
		m.tail_off = p->probe_size;
	} else if (!p->map_unmap && (type == 3 || type == 4)) {
		return answer(2, 0);
	}
	if (in->in_len < m.tail_off + 4)
		m.tail_off = in->in_len - 4;
	if (in->out_len < body[type])
		return answer(4, m.tail_off);
	m.v = KVIO_IOMMU_SERVE;
	switch (type) {
	case 1:	/* ATTACH: domain, endpoint, flags, reserved[4] */
		m.domain = le(in, 4, 4);
		m.endpoint = le(in, 8, 4);
		flags = le(in, 12, 4);
		m.bypass = flags & 1;
		if (!zero(in, 16, 4) || flags > 1 ||
		    (m.bypass && !p->bypass_config))
			return answer(4, 0);
		if (m.domain < p->domain_start || m.domain > p->domain_end)
			return answer(5, 0);
		return m;
	case 2:	/* DETACH: domain, endpoint, reserved[8] */
		m.domain = le(in, 4, 4);
		m.endpoint = le(in, 8, 4);
		return zero(in, 12, 8) ? m : answer(4, 0);
	case 3:	/* MAP: domain, start, end, phys, flags */
		m.domain = le(in, 4, 4);
		m.start = le(in, 8, 8);
		m.end = le(in, 16, 8);
		m.phys = le(in, 24, 8);
		flags = le(in, 32, 4);
		m.read_ok = flags & 1;
		m.write_ok = flags & 2;
		if (flags > 3 || !flags)
			return answer(4, 0);
		/* The size, in 128 bits: a mapping may end at 2^64 - 1. */
		top = (unsigned __int128)m.end + 1;
		if (m.end < m.start || !aligned(in, m.start) ||
		    !aligned(in, m.phys) || top % p->granule ||
		    m.start < p->input_start || m.end > p->input_end)
			return answer(5, 0);
		for (i = 0; i < p->nresv; i++)
			if (!(m.end < p->resv[i].start ||
			      m.start > p->resv[i].end))
				return answer(4, 0);
		return m;
	case 4:	/* UNMAP: domain, start, end, reserved[4] */
		m.domain = le(in, 4, 4);
		m.start = le(in, 8, 8);
		m.end = le(in, 16, 8);
		if (!zero(in, 24, 4))
			return answer(4, 0);
		if (m.end < m.start)
			return answer(5, 0);
		return m;
	default:	/* PROBE: endpoint, reserved[64] */
		m.endpoint = le(in, 4, 4);
		if (m.tail_off < p->probe_size)
			return answer(4, m.tail_off);
		return m;
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size);

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static struct input in;
	struct kvio_iommu_parse r = { 0 };
	enum kvio_iommu_verdict v;
	struct model m;

	parse(&in, data, size);
	r.p = &in.p;
	r.out_len = in.out_len;
	r.in_len = in.in_len;
	r.read = op_read;
	r.priv = &in;
	v = kvio_iommu_parse_req(&r);
	m = model(&in);

	check(v == m.v);
	check(!r.err == !(in.fail_read && v == KVIO_IOMMU_DROP &&
			  in.reads > 0));
	if (v == KVIO_IOMMU_DROP)
		return 0;
	/* The tail always fits the writable part. */
	check(r.tail_off + 4 <= in.in_len);
	check(r.tail_off == m.tail_off);
	check(r.type == in.out[0]);
	if (v == KVIO_IOMMU_ANSWER) {
		check(r.status == m.status);
		check(r.status != VIRTIO_IOMMU_S_OK);
		return 0;
	}
	check(r.status == VIRTIO_IOMMU_S_OK);
	switch (r.type) {
	case VIRTIO_IOMMU_T_ATTACH:
		check(r.bypass == m.bypass);
		/* fall through */
	case VIRTIO_IOMMU_T_DETACH:
		check(r.domain == m.domain && r.endpoint == m.endpoint);
		break;
	case VIRTIO_IOMMU_T_MAP:
		check(r.phys == m.phys && r.read_ok == m.read_ok &&
		      r.write_ok == m.write_ok);
		/* fall through */
	case VIRTIO_IOMMU_T_UNMAP:
		check(r.domain == m.domain && r.start == m.start &&
		      r.end == m.end);
		break;
	default:
		check(r.endpoint == m.endpoint);
	}
	return 0;
}
