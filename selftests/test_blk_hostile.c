// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_hostile: request chains laid out the way a careless or hostile
 * guest would.
 *
 * Each case takes a fresh device on a 1 MiB (or sparse 2 GiB) file filled
 * with a known pattern, writes one chain by hand, kicks and checks
 *  - the status and used length a request with a status byte gets (IOERR
 *    or UNSUPP, or OK where the layout is merely unusual; the used length
 *    always the whole device-writable length, as QEMU reports it);
 *  - that no byte reached the file and no guest buffer but the status byte
 *    was written, for every refused request;
 *  - for a chain without any status byte (nothing to answer it with), that
 *    the error eventfd fires and no used entry appears;
 *  - that the ring still serves a valid request afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES) |	\
	      F(VIRTIO_RING_F_INDIRECT_DESC))
#define NUM 128
#define FILE_SIZE (1ULL << 20)
#define SEED 7
#define CANARY 0xa5
#define WAIT_MS 3000

enum { S_OK = VIRTIO_BLK_S_OK, S_IOERR = VIRTIO_BLK_S_IOERR,
       S_UNSUPP = VIRTIO_BLK_S_UNSUPP };

struct hb {
	struct kt_blk b;
	struct kt_vq *vq;
	struct kt_mem *mem;
	int fd;
	uint64_t size;
	uint64_t status;	/* GPA of a status byte */
};

static void hb_close(struct hb *h)
{
	kt_blk_close(&h->b);
	if (h->fd >= 0)
		close(h->fd);
}

static int hb_open_size(struct hb *h, const struct kt_target *t,
			const struct kvio_blk_config *cfg, uint64_t size,
			uint32_t seed)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->b.d.fd = -1;
	h->size = size;
	h->fd = kt_blk_tmpfile(size, seed, 0);
	if (h->fd < 0)
		return kt_fail("tmpfile: %s", kt_errname(-h->fd));
	KT_TRY(kt_blk_open(&h->b, t, FEAT, 1, NUM, 4096, false));
	h->vq = &h->b.q[0].vq;
	h->mem = &h->b.d.mem;
	if (cfg) {
		r = kt_blk_set_config(&h->b, cfg);
		if (r)
			return kt_fail("SET_CONFIG: %s", kt_errname(-r));
	}
	r = kt_blk_backend(&h->b, h->fd);
	if (r)
		return kt_fail("SET_BACKEND: %s", kt_errname(-r));
	h->status = kt_mem_alloc(h->mem, 1, 1);
	return KT_PASS;
}

static int hb_open(struct hb *h, const struct kt_target *t,
		   const struct kvio_blk_config *cfg)
{
	return hb_open_size(h, t, cfg, FILE_SIZE, SEED);
}

/* Guest memory of len bytes, every byte @fill. */
static uint64_t hb_buf(struct hb *h, uint32_t len, uint8_t fill)
{
	uint64_t gpa = kt_mem_alloc(h->mem, len, 512);

	if (gpa)
		memset(kt_gpa(h->mem, gpa), fill, len);
	return gpa;
}

static uint64_t hb_hdr(struct hb *h, uint32_t type, uint64_t sector)
{
	uint64_t gpa = kt_mem_alloc(h->mem, 16, 16);
	struct virtio_blk_outhdr *hdr = kt_gpa(h->mem, gpa);

	hdr->type = htole32(type);
	hdr->ioprio = 0;
	hdr->sector = htole64(sector);
	return gpa;
}

static bool filled(struct hb *h, uint64_t gpa, uint32_t len, uint8_t fill)
{
	const uint8_t *p = kt_gpa(h->mem, gpa);
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i] != fill) {
			kt_diag("guest byte %u of 0x%llx is 0x%02x, want 0x%02x",
				i, (unsigned long long)gpa, p[i], fill);
			return false;
		}
	return true;
}

/* Add the chain, kick, and expect one completion with this outcome. */
static int hb_expect(struct hb *h, const struct kt_buf *out, unsigned int nout,
		     const struct kt_buf *in, unsigned int nin, bool indirect,
		     uint64_t status_gpa, int want_status)
{
	uint8_t *st = kt_gpa(h->mem, status_gpa);
	uint32_t used, want_used = 0;
	unsigned int i;
	int r;

	/* Every answer: the whole writable part (the status its last byte). */
	for (i = 0; i < nin; i++)
		want_used += in[i].len;

	*st = 0xee;
	r = kt_vq_add(h->vq, out, nout, in, nin, indirect, 0);
	KT_ASSERT(r >= 0, "add: %s", kt_errname(-r));
	kt_vq_kick(h->vq);
	r = kt_vq_wait_used(h->vq, NULL, &used, NULL, WAIT_MS);
	KT_ASSERT(r == 1, "no completion (%d); error eventfd %s", r,
		  kt_wait_eventfd(h->vq->err, 0) > 0 ? "fired" : "quiet");
	KT_ASSERT(*st == want_status, "status %u, want %d", *st, want_status);
	KT_ASSERT(used == want_used, "used length %u, want %u", used,
		  want_used);
	return KT_PASS;
}

/* A chain nobody can answer: error eventfd, no used entry. */
static int hb_expect_broken(struct hb *h, const struct kt_buf *out,
			    unsigned int nout, const struct kt_buf *in,
			    unsigned int nin, bool indirect)
{
	int r;

	r = kt_vq_add(h->vq, out, nout, in, nin, indirect, 0);
	KT_ASSERT(r >= 0, "add: %s", kt_errname(-r));
	kt_vq_kick(h->vq);
	KT_ASSERT(kt_wait_eventfd(h->vq->err, WAIT_MS) == 1,
		  "error eventfd did not fire");
	kt_sleep_ms(100);
	KT_ASSERT(kt_vq_used_pending(h->vq) == 0, "used entry for a broken chain");
	return KT_PASS;
}

/* The file still holds its pattern. */
static int hb_unchanged(struct hb *h)
{
	uint8_t *got = kt_blk_alloc(FILE_SIZE), *want = kt_blk_alloc(FILE_SIZE);
	int r;

	KT_ASSERT(!kt_pread_all(h->fd, got, FILE_SIZE, 0), "pread");
	kt_fill_pattern(want, FILE_SIZE, SEED);
	r = kt_bytes_equal(got, FILE_SIZE, want, FILE_SIZE, "file") ? KT_PASS :
								    KT_FAIL;
	free(got);
	free(want);
	return r;
}

/* A plain read still works, with the right bytes. */
static int hb_alive(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_IN, 8);
	uint64_t data = hb_buf(h, 4096, 0);
	struct kt_buf out = { hdr, 16 };
	struct kt_buf in[2] = { { data, 4096 }, { h->status, 1 } };
	uint8_t want[8 * 512 + 4096];

	KT_TRY(hb_expect(h, &out, 1, in, 2, false, h->status, S_OK));
	kt_fill_pattern(want, sizeof(want), SEED);
	return kt_bytes_equal(kt_gpa(h->mem, data), 4096, want + 8 * 512, 4096,
			      "read after the bad request") ? KT_PASS : KT_FAIL;
}

/* Refused: status, used length, file and listed guest buffers intact. */
static int hb_refused(struct hb *h, const struct kt_buf *out, unsigned int nout,
		      const struct kt_buf *in, unsigned int nin,
		      int want_status)
{
	KT_TRY(hb_expect(h, out, nout, in, nin, false, h->status, want_status));
	KT_TRY(hb_unchanged(h));
	return hb_alive(h);
}

#define RUN(body) do {							\
	struct hb h_;							\
	int r_ = hb_open(&h_, t, NULL);					\
	if (r_ == KT_PASS)						\
		r_ = body(&h_);						\
	hb_close(&h_);							\
	return r_;							\
} while (0)

#define RUN_CFG(cfg, body) do {						\
	struct hb h_;							\
	int r_ = hb_open(&h_, t, cfg);					\
	if (r_ == KT_PASS)						\
		r_ = body(&h_);						\
	hb_close(&h_);							\
	return r_;							\
} while (0)

/* ------------------------------------------------- unusual but valid */

/* OUT with the header split over three descriptors (5 + 6 + 5 bytes). */
static int b_hdr_split3(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_OUT, 16);
	uint64_t data = hb_buf(h, 512, 0);
	struct kt_buf out[4] = { { hdr, 5 }, { hdr + 5, 6 }, { hdr + 11, 5 },
				 { data, 512 } };
	struct kt_buf in = { h->status, 1 };
	uint8_t got[512];

	kt_fill_pattern(kt_gpa(h->mem, data), 512, 31);
	KT_TRY(hb_expect(h, out, 4, &in, 1, false, h->status, S_OK));
	KT_ASSERT(!kt_pread_all(h->fd, got, 512, 16 * 512), "pread");
	return kt_bytes_equal(got, 512, kt_gpa(h->mem, data), 512, "file") ?
	       KT_PASS : KT_FAIL;
}

static int case_hdr_split3(const struct kt_target *t) { RUN(b_hdr_split3); }

/* Header and data in one descriptor (ANY_LAYOUT), split header for IN. */
static int b_hdr_with_data(struct hb *h)
{
	uint64_t buf = hb_buf(h, 16 + 512, 0);
	struct virtio_blk_outhdr *hdr = kt_gpa(h->mem, buf);
	struct kt_buf out = { buf, 16 + 512 };
	struct kt_buf in = { h->status, 1 };
	uint64_t ihdr = hb_hdr(h, VIRTIO_BLK_T_IN, 24);
	uint64_t data = hb_buf(h, 513, 0);
	struct kt_buf iout[2] = { { ihdr, 1 }, { ihdr + 1, 15 } };
	struct kt_buf iin = { data, 513 };	/* data + status together */
	uint8_t got[512];

	hdr->type = htole32(VIRTIO_BLK_T_OUT);
	hdr->sector = htole64(24);
	kt_fill_pattern(kt_gpa(h->mem, buf + 16), 512, 32);
	KT_TRY(hb_expect(h, &out, 1, &in, 1, false, h->status, S_OK));
	KT_ASSERT(!kt_pread_all(h->fd, got, 512, 24 * 512), "pread");
	KT_ASSERT(kt_bytes_equal(got, 512, kt_gpa(h->mem, buf + 16), 512,
				 "file"), "written data");
	/* Status is the last byte of the only writable descriptor. */
	KT_TRY(hb_expect(h, iout, 2, &iin, 1, false, data + 512, S_OK));
	return kt_bytes_equal(kt_gpa(h->mem, data), 512, got, 512, "read") ?
	       KT_PASS : KT_FAIL;
}

static int case_hdr_with_data(const struct kt_target *t)
{
	RUN(b_hdr_with_data);
}

/* Empty descriptors in the chain carry nothing and change nothing. */
static int b_empty_desc(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_OUT, 32);
	uint64_t data = hb_buf(h, 512, 0);
	uint64_t other = hb_buf(h, 16, CANARY);
	struct kt_buf out[3] = { { hdr, 16 }, { other, 0 }, { data, 512 } };
	struct kt_buf in[2] = { { other, 0 }, { h->status, 1 } };

	kt_fill_pattern(kt_gpa(h->mem, data), 512, 33);
	KT_TRY(hb_expect(h, out, 3, in, 2, false, h->status, S_OK));
	KT_ASSERT(filled(h, other, 16, CANARY), "empty buffer written");
	return hb_alive(h);
}

static int case_empty_desc(const struct kt_target *t) { RUN(b_empty_desc); }

/* ------------------------------------------------------ refused: IOERR */

/* IN whose data buffer is device-readable: nothing written into it. */
static int b_in_data_readable(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_IN, 0);
	uint64_t data = hb_buf(h, 512, CANARY);
	struct kt_buf out[2] = { { hdr, 16 }, { data, 512 } };
	struct kt_buf in = { h->status, 1 };

	KT_TRY(hb_refused(h, out, 2, &in, 1, S_IOERR));
	KT_ASSERT(filled(h, data, 512, CANARY),
		  "device wrote into a device-readable buffer");
	return KT_PASS;
}

static int case_in_data_readable(const struct kt_target *t)
{
	RUN(b_in_data_readable);
}

/* IN with its data readable and a writable buffer too: still refused. */
static int b_in_data_both(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_IN, 0);
	uint64_t rd = hb_buf(h, 512, CANARY), wr = hb_buf(h, 512, CANARY);
	struct kt_buf out[2] = { { hdr, 16 }, { rd, 512 } };
	struct kt_buf in[2] = { { wr, 512 }, { h->status, 1 } };

	KT_TRY(hb_refused(h, out, 2, in, 2, S_IOERR));
	KT_ASSERT(filled(h, rd, 512, CANARY) && filled(h, wr, 512, CANARY),
		  "buffers written");
	return KT_PASS;
}

static int case_in_data_both(const struct kt_target *t)
{
	RUN(b_in_data_both);
}

/* OUT whose data is device-writable: nothing reaches the file. */
static int b_out_data_writable(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = hb_buf(h, 512, CANARY);
	struct kt_buf out = { hdr, 16 };
	struct kt_buf in[2] = { { data, 512 }, { h->status, 1 } };

	KT_TRY(hb_refused(h, &out, 1, in, 2, S_IOERR));
	KT_ASSERT(filled(h, data, 512, CANARY), "data buffer written");
	return KT_PASS;
}

static int case_out_data_writable(const struct kt_target *t)
{
	RUN(b_out_data_writable);
}

/* GET_ID into a readable buffer, FLUSH with data: refused. */
static int b_other_directions(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_GET_ID, 0);
	uint64_t fhdr = hb_hdr(h, VIRTIO_BLK_T_FLUSH, 0);
	uint64_t data = hb_buf(h, 512, CANARY);
	struct kt_buf out[2] = { { hdr, 16 }, { data, 20 } };
	struct kt_buf in = { h->status, 1 };
	struct kt_buf fout[2] = { { fhdr, 16 }, { data, 512 } };
	struct kt_buf fin[2] = { { data, 512 }, { h->status, 1 } };

	KT_TRY(hb_refused(h, out, 2, &in, 1, S_IOERR));
	KT_TRY(hb_refused(h, fout, 2, &in, 1, S_IOERR));
	KT_TRY(hb_refused(h, fout, 1, fin, 2, S_IOERR));
	KT_ASSERT(filled(h, data, 512, CANARY), "data buffer written");
	return KT_PASS;
}

static int case_other_directions(const struct kt_target *t)
{
	RUN(b_other_directions);
}

/* No data at all, for IN and OUT. */
static int b_zero_data(struct hb *h)
{
	struct kt_buf out = { hb_hdr(h, VIRTIO_BLK_T_IN, 0), 16 };
	struct kt_buf in = { h->status, 1 };

	KT_TRY(hb_refused(h, &out, 1, &in, 1, S_IOERR));
	out.gpa = hb_hdr(h, VIRTIO_BLK_T_OUT, 0);
	return hb_refused(h, &out, 1, &in, 1, S_IOERR);
}

static int case_zero_data(const struct kt_target *t) { RUN(b_zero_data); }

/* Lengths that are not whole sectors. */
static int b_partial_sector(struct hb *h)
{
	uint64_t data = hb_buf(h, 1024, CANARY);
	struct kt_buf out[2] = { { hb_hdr(h, VIRTIO_BLK_T_OUT, 0), 16 },
				 { data, 700 } };
	struct kt_buf in[2] = { { h->status, 1 } };

	KT_TRY(hb_refused(h, out, 2, in, 1, S_IOERR));
	out[1].len = 511;
	KT_TRY(hb_refused(h, out, 2, in, 1, S_IOERR));
	/* 513 bytes read: one byte too many. */
	out[0].gpa = hb_hdr(h, VIRTIO_BLK_T_IN, 0);
	in[0] = (struct kt_buf){ data, 513 };
	in[1] = (struct kt_buf){ h->status, 1 };
	KT_TRY(hb_refused(h, out, 1, in, 2, S_IOERR));
	KT_ASSERT(filled(h, data, 1024, CANARY), "data buffer written");
	in[0].len = 1;
	KT_TRY(hb_refused(h, out, 1, in, 2, S_IOERR));
	return KT_PASS;
}

static int case_partial_sector(const struct kt_target *t)
{
	RUN(b_partial_sector);
}

/* Header shorter than 16 bytes, or no readable bytes at all. */
static int b_short_hdr(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = hb_buf(h, 512, CANARY);
	struct kt_buf out = { hdr, 8 };
	struct kt_buf in[2] = { { h->status, 1 } };

	KT_TRY(hb_refused(h, &out, 1, in, 1, S_IOERR));
	/* Only writable buffers: the "header" is in one of them. */
	in[0] = (struct kt_buf){ data, 512 };
	in[1] = (struct kt_buf){ h->status, 1 };
	memcpy(kt_gpa(h->mem, data), kt_gpa(h->mem, hdr), 16);
	KT_TRY(hb_expect(h, NULL, 0, in, 2, false, h->status, S_IOERR));
	KT_ASSERT(!memcmp(kt_gpa(h->mem, data), kt_gpa(h->mem, hdr), 16) &&
		  filled(h, data + 16, 496, CANARY), "writable buffer written");
	KT_TRY(hb_unchanged(h));
	return hb_alive(h);
}

static int case_short_hdr(const struct kt_target *t) { RUN(b_short_hdr); }

/* More data segments than seg_max; segments longer than size_max. */
static int b_segments(struct hb *h)
{
	uint64_t hdr = hb_hdr(h, VIRTIO_BLK_T_OUT, 0);
	uint64_t data = hb_buf(h, 8192, CANARY);
	struct kt_buf out[6], in = { h->status, 1 };
	uint8_t got[2048];
	int i;

	out[0] = (struct kt_buf){ hdr, 16 };
	for (i = 0; i < 5; i++)
		out[i + 1] = (struct kt_buf){ data + i * 1024, 512 };
	KT_TRY(hb_refused(h, out, 6, &in, 1, S_IOERR));
	/* Four is the limit: accepted. */
	KT_TRY(hb_expect(h, out, 5, &in, 1, true, h->status, S_OK));
	KT_ASSERT(!kt_pread_all(h->fd, got, 2048, 0), "pread");
	KT_ASSERT(filled(h, data, 512, CANARY), "data");
	memset(kt_gpa(h->mem, data), CANARY, 8192);
	/* size_max 4096: one 8192-byte segment is refused, 2 x 4096 not. */
	out[0].gpa = hb_hdr(h, VIRTIO_BLK_T_OUT, 64);
	out[1] = (struct kt_buf){ data, 8192 };
	KT_TRY(hb_expect(h, out, 2, &in, 1, false, h->status, S_IOERR));
	out[1] = (struct kt_buf){ data, 4096 };
	out[2] = (struct kt_buf){ data + 4096, 4096 };
	KT_TRY(hb_expect(h, out, 3, &in, 1, false, h->status, S_OK));
	/* The same limits on the IN side (the status byte is no segment). */
	out[0].gpa = hb_hdr(h, VIRTIO_BLK_T_IN, 64);
	{
		struct kt_buf iin[6];

		for (i = 0; i < 5; i++)
			iin[i] = (struct kt_buf){ data + i * 1024, 512 };
		iin[5] = (struct kt_buf){ h->status, 1 };
		KT_TRY(hb_expect(h, out, 1, iin, 6, true, h->status, S_IOERR));
		iin[4] = iin[5];
		KT_TRY(hb_expect(h, out, 1, iin, 5, true, h->status, S_OK));
		iin[0] = (struct kt_buf){ data, 8192 };
		iin[1] = iin[4];
		KT_TRY(hb_expect(h, out, 1, iin, 2, true, h->status, S_IOERR));
		/* 4096 of data plus the status byte in one segment: fine. */
		iin[0] = (struct kt_buf){ data, 4097 };
		KT_TRY(hb_expect(h, out, 1, iin, 1, true, data + 4096, S_OK));
	}
	return hb_alive(h);
}

static int case_segments(const struct kt_target *t)
{
	struct kvio_blk_config cfg;

	kt_blk_config_default(&cfg);
	cfg.seg_max = 4;
	cfg.size_max = 4096;
	RUN_CFG(&cfg, b_segments);
}

/*
 * seg_max counts the guest's descriptors, not the iovecs they become: with
 * the memory table cut in two regions, the second mapped at another address
 * of the owner (a second mapping of the same memfd: the engine merges
 * pieces that are contiguous in the owner), a descriptor across the cut is
 * two iovecs, and a request of seg_max descriptors is still served.  One
 * descriptor more is still refused.
 */
static int hb_set_mem_cut(struct hb *h, uint64_t cut, uint8_t *alias)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region region[2];
	} m;

	memset(&m, 0, sizeof(m));
	m.hdr.nregions = 2;
	m.region[0].guest_phys_addr = h->mem->gpa;
	m.region[0].memory_size = cut - h->mem->gpa;
	m.region[0].userspace_addr = (uintptr_t)h->mem->hva;
	m.region[1].guest_phys_addr = cut;
	m.region[1].memory_size = h->mem->gpa + h->mem->size - cut;
	m.region[1].userspace_addr = (uintptr_t)alias + (cut - h->mem->gpa);
	KT_ASSERT(!ioctl(h->b.d.fd, VHOST_SET_MEM_TABLE, &m),
		  "SET_MEM_TABLE, two regions: %s", kt_errname(errno));
	return KT_PASS;
}

static int b_segments_split(struct hb *h)
{
	uint64_t data = hb_buf(h, 16384, CANARY);
	uint64_t cut = ((data + 4095) & ~4095ULL) + 4096;
	/* Four 512-byte segments, the third across the cut; a fifth after. */
	const uint64_t seg[5] = { cut - 2048, cut - 1024, cut - 256,
				  cut + 1024, cut + 2048 };
	struct kt_buf out[6], in = { h->status, 1 };
	uint8_t want[2048], got[2048], *alias;
	int i, r;

	out[0] = (struct kt_buf){ hb_hdr(h, VIRTIO_BLK_T_OUT, 0), 16 };
	for (i = 0; i < 5; i++) {
		memset(kt_gpa(h->mem, seg[i]), 0x31 + i, 512);
		out[i + 1] = (struct kt_buf){ seg[i], 512 };
	}
	alias = mmap(NULL, h->mem->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     h->mem->fd, 0);
	KT_ASSERT(alias != MAP_FAILED, "mmap: %s", kt_errname(errno));
	r = hb_set_mem_cut(h, cut, alias);
	if (r == KT_PASS)
		r = hb_refused(h, out, 6, &in, 1, S_IOERR);
	if (r == KT_PASS)
		r = hb_expect(h, out, 5, &in, 1, true, h->status, S_OK);
	if (kt_dev_set_mem(&h->b.d) && r == KT_PASS) {
		kt_diag("SET_MEM_TABLE back to one region failed");
		r = KT_FAIL;
	}
	munmap(alias, h->mem->size);
	KT_TRY(r);
	KT_ASSERT(!kt_pread_all(h->fd, got, sizeof(got), 0), "pread");
	for (i = 0; i < 4; i++)
		memset(want + 512 * i, 0x31 + i, 512);
	KT_ASSERT(kt_bytes_equal(got, sizeof(got), want, sizeof(want), "file"),
		  "the four segments did not reach the file");
	return hb_alive(h);
}

static int case_segments_split(const struct kt_target *t)
{
	struct kvio_blk_config cfg;

	kt_blk_config_default(&cfg);
	cfg.seg_max = 4;
	RUN_CFG(&cfg, b_segments_split);
}

/*
 * More than 1 GiB in one request (the same 16 MiB of guest memory named 65
 * times) on a sparse 2 GiB file: refused before anything is read or
 * written.
 */
static int b_huge(struct hb *h)
{
	unsigned int n = 65, i;
	uint64_t table = kt_mem_alloc(h->mem, (n + 2) * 16, 16);
	struct vring_desc *d = kt_gpa(h->mem, table);
	uint8_t *st = kt_gpa(h->mem, h->status);
	struct stat sb;
	uint32_t used;

	d[0] = (struct vring_desc){ hb_hdr(h, VIRTIO_BLK_T_OUT, 0), 16,
				    VRING_DESC_F_NEXT, 1 };
	for (i = 1; i <= n; i++)
		d[i] = (struct vring_desc){ h->mem->gpa, 16 << 20,
					    VRING_DESC_F_NEXT, i + 1 };
	d[n + 1] = (struct vring_desc){ h->status, 1, VRING_DESC_F_WRITE, 0 };
	*st = 0xee;
	kt_vq_raw_desc(h->vq, 0, table, (n + 2) * 16, VRING_DESC_F_INDIRECT,
		       0);
	kt_vq_raw_publish(h->vq, 0);
	kt_vq_kick(h->vq);
	KT_ASSERT(kt_wait_eventfd(h->vq->call, WAIT_MS) == 1, "no completion");
	KT_ASSERT(kt_vq_used_idx(h->vq) == 1, "used index %u",
		  kt_vq_used_idx(h->vq));
	used = h->vq->used->ring[0].len;
	KT_ASSERT(*st == S_IOERR && used == 1, "status %u used %u", *st, used);
	KT_ASSERT(!fstat(h->fd, &sb) && sb.st_blocks == 0,
		  "%lld blocks written", (long long)sb.st_blocks);
	return KT_PASS;
}

static int case_huge(const struct kt_target *t)
{
	struct hb h;
	int r = hb_open_size(&h, t, NULL, 2ULL << 30, 0);

	if (r == KT_PASS)
		r = b_huge(&h);
	hb_close(&h);
	return r;
}

/* ------------------------------------------- DISCARD and WRITE_ZEROES */

static uint64_t hb_segs(struct hb *h, unsigned int n, const uint64_t *sector,
			const uint32_t *count, const uint32_t *flags)
{
	uint64_t gpa = kt_mem_alloc(h->mem, n * 16, 16);
	struct virtio_blk_discard_write_zeroes *s = kt_gpa(h->mem, gpa);
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].sector = htole64(sector[i]);
		s[i].num_sectors = htole32(count[i]);
		s[i].flags = htole32(flags[i]);
	}
	return gpa;
}

static int dwz_one(struct hb *h, uint32_t type, uint64_t sector, uint32_t count,
		   uint32_t flags, int want)
{
	struct kt_buf out[2] = { { hb_hdr(h, type, 0), 16 },
				 { hb_segs(h, 1, &sector, &count, &flags), 16 } };
	struct kt_buf in = { h->status, 1 };

	KT_TRY(hb_expect(h, out, 2, &in, 1, false, h->status, want));
	return hb_unchanged(h);
}

static int b_dwz_flags(struct hb *h)
{
	/* Unmap on a discard, unknown flags on either: UNSUPP. */
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, 0, 8,
		       VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, S_UNSUPP));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, 0, 8, 2, S_UNSUPP));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 2, S_UNSUPP));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x80000001,
		       S_UNSUPP));
	return hb_alive(h);
}

static int case_dwz_flags(const struct kt_target *t) { RUN(b_dwz_flags); }

static int b_dwz_limits(struct hb *h)
{
	/* Over the per-segment maximum (64), zero sectors, not aligned. */
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, 0, 72, 0, S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, 0, 72, 0, S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0xffffffff, 0,
		       S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, 0, 0, 0, S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, 4, 8, 0, S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, 8, 12, 0, S_IOERR));
	/* Past the end, sector * 512 overflowing. */
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_DISCARD, FILE_SIZE / 512, 8, 0,
		       S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, (1ULL << 55) - 8, 16, 0,
		       S_IOERR));
	KT_TRY(dwz_one(h, VIRTIO_BLK_T_WRITE_ZEROES, ~0ULL - 7, 8, 0,
		       S_IOERR));
	return hb_alive(h);
}

static int case_dwz_limits(const struct kt_target *t)
{
	struct kvio_blk_config cfg;

	kt_blk_config_default(&cfg);
	cfg.blk_size = 4096;
	cfg.max_discard_sectors = 64;
	cfg.max_write_zeroes_sectors = 64;
	RUN_CFG(&cfg, b_dwz_limits);
}

static int b_dwz_layout(struct hb *h)
{
	uint64_t sec[3] = { 0, 64, 128 };
	uint32_t cnt[3] = { 8, 8, 8 }, flg[3] = { 0, 0, 0 };
	uint64_t segs = hb_segs(h, 3, sec, cnt, flg);
	struct kt_buf in[2] = { { h->status, 1 } };
	struct kt_buf out[2] = { { hb_hdr(h, VIRTIO_BLK_T_DISCARD, 0), 16 },
				 { segs, 48 } };

	/* Three segments, two allowed. */
	KT_TRY(hb_expect(h, out, 2, in, 1, false, h->status, S_IOERR));
	KT_TRY(hb_unchanged(h));
	/* Not a whole number of segments; no segment. */
	out[1].len = 15;
	KT_TRY(hb_expect(h, out, 2, in, 1, false, h->status, S_IOERR));
	KT_TRY(hb_expect(h, out, 1, in, 1, false, h->status, S_IOERR));
	/* Segments in a writable buffer. */
	in[0] = (struct kt_buf){ segs, 16 };
	in[1] = (struct kt_buf){ h->status, 1 };
	KT_TRY(hb_expect(h, out, 1, in, 2, false, h->status, S_IOERR));
	KT_TRY(hb_unchanged(h));
	/* One bad segment spoils the request: nothing done. */
	sec[1] = FILE_SIZE / 512;
	out[1] = (struct kt_buf){ hb_segs(h, 2, sec, cnt, flg), 32 };
	out[0].gpa = hb_hdr(h, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	in[0] = (struct kt_buf){ h->status, 1 };
	KT_TRY(hb_expect(h, out, 2, in, 1, false, h->status, S_IOERR));
	KT_TRY(hb_unchanged(h));
	flg[1] = 4;
	sec[1] = 64;
	out[1] = (struct kt_buf){ hb_segs(h, 2, sec, cnt, flg), 32 };
	KT_TRY(hb_expect(h, out, 2, in, 1, false, h->status, S_UNSUPP));
	KT_TRY(hb_unchanged(h));
	/* Two good segments: both done. */
	flg[1] = 0;
	out[1] = (struct kt_buf){ hb_segs(h, 2, sec, cnt, flg), 32 };
	KT_TRY(hb_expect(h, out, 2, in, 1, false, h->status, S_OK));
	{
		uint8_t got[8 * 512];
		unsigned int i, j;

		for (j = 0; j < 2; j++) {
			KT_ASSERT(!kt_pread_all(h->fd, got, sizeof(got),
						sec[j] * 512), "pread");
			for (i = 0; i < sizeof(got); i++)
				KT_ASSERT(!got[i], "segment %u not zeroed", j);
		}
	}
	return hb_alive(h);
}

static int case_dwz_layout(const struct kt_target *t)
{
	struct kvio_blk_config cfg;

	kt_blk_config_default(&cfg);
	cfg.max_discard_seg = 2;
	cfg.max_write_zeroes_seg = 2;
	RUN_CFG(&cfg, b_dwz_layout);
}

/* ------------------------------------------------- no status byte */

static int b_no_status_out(struct hb *h)
{
	uint64_t data = hb_buf(h, 512, CANARY);
	struct kt_buf out[2] = { { hb_hdr(h, VIRTIO_BLK_T_OUT, 0), 16 },
				 { data, 512 } };

	KT_TRY(hb_expect_broken(h, out, 2, NULL, 0, false));
	return hb_unchanged(h);
}

static int case_no_status_out(const struct kt_target *t)
{
	RUN(b_no_status_out);
}

static int b_no_status_in(struct hb *h)
{
	struct kt_buf out = { hb_hdr(h, VIRTIO_BLK_T_IN, 0), 16 };

	return hb_expect_broken(h, &out, 1, NULL, 0, true);
}

static int case_no_status_in(const struct kt_target *t)
{
	RUN(b_no_status_in);
}

/* Only empty writable descriptors: still no status byte. */
static int b_no_status_empty(struct hb *h)
{
	struct kt_buf out = { hb_hdr(h, VIRTIO_BLK_T_FLUSH, 0), 16 };
	struct kt_buf in = { h->status, 0 };

	return hb_expect_broken(h, &out, 1, &in, 1, false);
}

static int case_no_status_empty(const struct kt_target *t)
{
	RUN(b_no_status_empty);
}

/*
 * 1100 data segments in an indirect table: more iovecs than the device
 * holds for one chain, so the engine refuses the chain and the ring.
 */
static int b_too_many_iovecs(struct hb *h)
{
	unsigned int n = 1100, i;
	uint64_t table = kt_mem_alloc(h->mem, (n + 2) * 16, 16);
	uint64_t data = hb_buf(h, 512, CANARY);
	struct vring_desc *d = kt_gpa(h->mem, table);

	d[0] = (struct vring_desc){ hb_hdr(h, VIRTIO_BLK_T_OUT, 0), 16,
				    VRING_DESC_F_NEXT, 1 };
	for (i = 1; i <= n; i++)
		d[i] = (struct vring_desc){ data, 512, VRING_DESC_F_NEXT,
					    i + 1 };
	d[n + 1] = (struct vring_desc){ h->status, 1, VRING_DESC_F_WRITE, 0 };
	kt_vq_raw_desc(h->vq, 0, table, (n + 2) * 16, VRING_DESC_F_INDIRECT,
		       0);
	kt_vq_raw_publish(h->vq, 0);
	kt_vq_kick(h->vq);
	KT_ASSERT(kt_wait_eventfd(h->vq->err, WAIT_MS) == 1,
		  "error eventfd did not fire");
	kt_sleep_ms(100);
	KT_ASSERT(kt_vq_used_idx(h->vq) == 0, "used entry written");
	return hb_unchanged(h);
}

static int case_too_many_iovecs(const struct kt_target *t)
{
	RUN(b_too_many_iovecs);
}

/* A burst of every bad layout at once, then good requests: all answered. */
static int b_burst(struct hb *h)
{
	uint64_t st = kt_mem_alloc(h->mem, 32, 1);
	uint64_t data = hb_buf(h, 4096, CANARY);
	struct kt_buf in[2], out[2];
	unsigned int i, seen = 0;
	uint8_t *s = kt_gpa(h->mem, st);
	uint32_t used;
	uint64_t token;

	memset(s, 0xee, 32);
	for (i = 0; i < 24; i++) {
		uint32_t type = i % 6 == 0 ? VIRTIO_BLK_T_IN :
				i % 6 == 1 ? VIRTIO_BLK_T_OUT :
				i % 6 == 2 ? 77 : i % 6 == 3 ? VIRTIO_BLK_T_GET_ID :
				i % 6 == 4 ? VIRTIO_BLK_T_FLUSH :
				VIRTIO_BLK_T_DISCARD;

		out[0] = (struct kt_buf){ hb_hdr(h, type, i % 2 ? ~0ULL : 0),
					  16 };
		out[1] = (struct kt_buf){ data, 100 + i };
		in[0] = (struct kt_buf){ data + 2048, 300 };
		in[1] = (struct kt_buf){ st + i, 1 };
		bool indirect = !(i % 3);

		KT_ASSERT(kt_vq_add(h->vq, out, 2, in, 2, indirect, i) >= 0,
			  "add %u", i);
	}
	kt_vq_kick(h->vq);
	while (seen < 24) {
		int r = kt_vq_wait_used(h->vq, NULL, &used, &token, WAIT_MS);

		KT_ASSERT(r == 1, "%u of 24 answered", seen);
		KT_ASSERT(used == 301, "request %llu: used length %u, want 301",
			  (unsigned long long)token, used);
		int want = token % 6 == 2 || token % 6 == 5 ? S_UNSUPP :
							       S_IOERR;

		KT_ASSERT(s[token] == want, "request %llu: status %u",
			  (unsigned long long)token, s[token]);
		seen++;
	}
	KT_ASSERT(filled(h, data, 4096, CANARY), "a data buffer was written");
	KT_TRY(hb_unchanged(h));
	return hb_alive(h);
}

static int case_burst(const struct kt_target *t)
{
	struct hb h;
	int r;

	/* DISCARD not negotiated here: UNSUPP before its layout is seen. */
	memset(&h, 0, sizeof(h));
	h.b.d.fd = -1;
	h.size = FILE_SIZE;
	h.fd = kt_blk_tmpfile(FILE_SIZE, SEED, 0);
	r = h.fd < 0 ? KT_FAIL : kt_blk_open(&h.b, t, F(VIRTIO_F_VERSION_1) |
					     F(VIRTIO_RING_F_INDIRECT_DESC),
					     1, NUM, 4096, false);
	if (r == KT_PASS) {
		h.vq = &h.b.q[0].vq;
		h.mem = &h.b.d.mem;
		h.status = kt_mem_alloc(h.mem, 1, 1);
		r = kt_blk_backend(&h.b, h.fd) ? KT_FAIL : b_burst(&h);
	}
	hb_close(&h);
	return r;
}

/*
 * A guest that posts the 16 heads of a 16-entry ring and, while they are in
 * flight on a slow disk, posts the same heads again (its avail index 32
 * ahead of the used index): the device keeps at most 16 requests in flight
 * (the disk's inflight count says so), takes the second round only as the
 * first ends, answers 32 times, no more, and serves requests afterwards.
 */
#define RP_NUM 16

static int b_repost(struct kt_blk *b, struct kt_nullb *nb)
{
	struct kt_vq *vq = &b->q[0].vq;
	uint16_t heads[RP_NUM], idx;
	long n, most = 0, deadline;
	uint8_t buf[4096], seen[RP_NUM] = { 0 };
	unsigned int i;
	uint8_t status;
	int r;

	for (i = 0; i < RP_NUM; i++) {
		kt_fill_pattern(kt_blk_data(b, 0, i), 4096, SEED + i);
		/* 64 KiB apart: no two requests merge in the block layer. */
		r = kt_blk_post(b, 0, i, VIRTIO_BLK_T_OUT, i * 128ULL, 4096,
				true);
		KT_ASSERT(r >= 0, "post %u: %s", i, kt_errname(-r));
		heads[i] = r;
	}
	kt_vq_kick(vq);
	deadline = kt_deadline(WAIT_MS);
	while (kt_nullb_inflight(nb) < RP_NUM) {
		KT_ASSERT(kt_now_ms() < deadline, "%ld of %u in flight",
			  kt_nullb_inflight(nb), RP_NUM);
		kt_sleep_ms(1);
	}
	/* The same heads again, behind the driver library's back. */
	idx = vq->avail_idx;
	for (i = 0; i < RP_NUM; i++)
		vq->avail->ring[(uint16_t)(idx + i) % vq->num] = heads[i];
	__atomic_store_n(&vq->avail->idx, (uint16_t)(idx + RP_NUM),
			 __ATOMIC_RELEASE);
	vq->avail_idx = idx + RP_NUM;
	kt_vq_kick(vq);
	deadline = kt_deadline(WAIT_MS * 2);
	while (kt_vq_used_idx(vq) != (uint16_t)(2 * RP_NUM)) {
		n = kt_nullb_inflight(nb);
		/*
		 * The disk counts a request until its tag is freed, a moment
		 * after its bio completed; by then the device may have taken
		 * the head again and submitted its next request (seen on the
		 * debug kernel: 17 for an instant).  A second request per head
		 * would stay for a whole completion time (100 ms at least):
		 * look again well within it.
		 */
		if (n > RP_NUM) {
			kt_sleep_ms(20);
			n = kt_nullb_inflight(nb);
		}
		if (n > most)
			most = n;
		KT_ASSERT(n <= RP_NUM, "%ld requests in flight on a %u-entry ring",
			  n, RP_NUM);
		KT_ASSERT(kt_now_ms() < deadline, "used index %u, want %u",
			  kt_vq_used_idx(vq), 2 * RP_NUM);
		kt_sleep_ms(1);
	}
	kt_diag("at most %ld requests in flight seen", most);
	kt_sleep_ms(50);
	KT_ASSERT(kt_vq_used_idx(vq) == 2 * RP_NUM,
		  "used index %u after 32 answers", kt_vq_used_idx(vq));
	KT_ASSERT(kt_nullb_stat(nb, KT_STAT_WRITES) == 2 * RP_NUM,
		  "%lld writes reached the disk, want %u",
		  kt_nullb_stat(nb, KT_STAT_WRITES), 2 * RP_NUM);
	/*
	 * The first round, read raw (the driver library would refuse 32
	 * entries on a 16-entry ring): each head once.  Then the second
	 * round through the library, which frees the heads.
	 */
	for (i = 0; i < RP_NUM; i++) {
		struct vring_used_elem *e =
			&vq->used->ring[(uint16_t)(vq->last_used + i) %
					vq->num];

		KT_ASSERT(e->id < RP_NUM && !seen[e->id]++,
			  "first round entry %u: id %u", i, e->id);
	}
	for (i = 0; i < RP_NUM; i++)
		KT_ASSERT(seen[heads[i]] == 1, "head %u answered %u times",
			  heads[i], seen[heads[i]]);
	vq->last_used += RP_NUM;
	for (i = 0; i < RP_NUM; i++) {
		r = kt_blk_reap(b, 0, NULL, &status, NULL, 0);
		KT_ASSERT(r == 1 && status == VIRTIO_BLK_S_OK,
			  "second round %u: %d, status %u", i, r, status);
	}
	KT_ASSERT(kt_vq_used_pending(vq) == 0, "extra used entries");
	/* Still serving. */
	kt_fill_pattern(buf, sizeof(buf), SEED + 99);
	KT_TRY(kt_blk_expect(b, 0, VIRTIO_BLK_T_OUT, 4096, buf, sizeof(buf),
			     VIRTIO_BLK_S_OK, ~0U));
	return kt_blk_expect(b, 0, VIRTIO_BLK_T_IN, 4096, buf, sizeof(buf),
			     VIRTIO_BLK_S_OK, ~0U);
}

static int case_repost(const struct kt_target *t)
{
	struct kt_nullb_opts o = { .size_mb = 16, .irqmode = 2,
				   .completion_nsec = 100000000UL *
						      kt_timeout_scale(),
				   .hw_queue_depth = 256 };
	struct kt_nullb nb;
	struct kt_blk b;
	int fd, r;

	KT_TRY(kt_nullb_create_direct(&nb, &o, &fd));
	r = kt_blk_open(&b, t, FEAT, 1, RP_NUM, 4096, false);
	if (r == KT_PASS) {
		r = kt_blk_backend(&b, fd) ? kt_fail("SET_BACKEND") :
					     b_repost(&b, &nb);
		kt_blk_close(&b);
	}
	close(fd);
	kt_nullb_destroy(&nb);
	return r;
}

static const struct kt_case cases[] = {
	{ "header split over 3 descriptors: OK", case_hdr_split3 },
	{ "header with data in one descriptor, status with data: OK", case_hdr_with_data },
	{ "empty descriptors in the chain: ignored", case_empty_desc },
	{ "IN with data in a device-readable buffer: IOERR, not written", case_in_data_readable },
	{ "IN with data readable and writable: IOERR, neither written", case_in_data_both },
	{ "OUT with data in a device-writable buffer: IOERR, file intact", case_out_data_writable },
	{ "GET_ID into a readable buffer, FLUSH with data: IOERR", case_other_directions },
	{ "zero-length data: IOERR", case_zero_data },
	{ "lengths not a multiple of 512: IOERR", case_partial_sector },
	{ "header short or only writable: IOERR", case_short_hdr },
	{ "segments over seg_max, segment over size_max: IOERR", case_segments },
	{ "seg_max counts descriptors: one split over two regions is served",
	  case_segments_split },
	{ "request over 1 GiB: IOERR, nothing written", case_huge },
	{ "DISCARD/WRITE_ZEROES unknown flags, unmap on discard: UNSUPP", case_dwz_flags },
	{ "DISCARD/WRITE_ZEROES over the limits, unaligned, past the end: IOERR", case_dwz_limits },
	{ "DISCARD/WRITE_ZEROES segment layouts, one bad segment spoils all", case_dwz_layout },
	{ "no status byte (OUT): ring stops, no used entry", case_no_status_out },
	{ "no status byte (IN, indirect): ring stops, no used entry", case_no_status_in },
	{ "only an empty writable descriptor: ring stops", case_no_status_empty },
	{ "1100 segments in one chain: ring stops", case_too_many_iovecs },
	{ "24 bad requests at once: each answered once", case_burst },
	{ "same heads posted again while in flight: at most ring size in flight", case_repost },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
