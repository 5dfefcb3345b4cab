// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_errors: well-formed kvio-blk requests whose I/O fails in the
 * backend, wholly or in part.
 *
 * virtio-blk has one answer for them, VIRTIO_BLK_S_IOERR, and the request
 * must still complete exactly once.  Failures are real ones: sectors a
 * null_blk reports bad (its configfs "badblocks"), a write-back error that
 * only FLUSH can report, and a file on a filesystem with room for part of a
 * write only (a short write is an error, not a success).  After each, the
 * device keeps serving requests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE))
#define NUM 16
#define SLOT (256 * 1024)

enum { S_OK = VIRTIO_BLK_S_OK, S_IOERR = VIRTIO_BLK_S_IOERR };

/* "+first-last" marks sectors bad, "-first-last" makes them good again. */
static int nullb_badblocks(const struct kt_nullb *n, char op,
			   unsigned long first, unsigned long last)
{
	char path[160], val[64];
	int fd, len, r = 0;

	snprintf(path, sizeof(path), "%s/badblocks", n->dir);
	len = snprintf(val, sizeof(val), "%c%lu-%lu", op, first, last);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kt_skip("no %s: %s", path, kt_errname(errno));
	if (write(fd, val, len) != len)
		r = kt_fail("%s <- %s: %s", path, val, kt_errname(errno));
	close(fd);
	return r ? r : KT_PASS;
}

struct rig {
	struct kt_blk b;
	struct kt_nullb nb;
	int fd;
	char mnt[64];
};

static void rig_init(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->b.d.fd = -1;
	g->b.d.mem.fd = -1;
}

static void rig_close(struct rig *g)
{
	kt_blk_close(&g->b);
	if (g->fd >= 0)
		close(g->fd);
	kt_nullb_destroy(&g->nb);
	if (g->mnt[0]) {
		umount2(g->mnt, MNT_DETACH);
		rmdir(g->mnt);
	}
}

static int rig_attach(struct rig *g, const struct kt_target *t)
{
	int r;

	KT_TRY(kt_blk_open(&g->b, t, FEAT, 1, NUM, SLOT, false));
	r = kt_blk_backend(&g->b, g->fd);
	KT_ASSERT(!r, "KVIO_BLK_SET_BACKEND: %s", kt_errname(-r));
	return KT_PASS;
}

static int rig_nullb(struct rig *g, const struct kt_target *t, int flags)
{
	struct kt_nullb_opts o = { .size_mb = 16 };

	KT_TRY(kt_nullb_create(&g->nb, &o));
	g->fd = open(g->nb.dev, O_RDWR | O_CLOEXEC | flags);
	KT_ASSERT(g->fd >= 0, "open %s: %s", g->nb.dev, kt_errname(errno));
	return rig_attach(g, t);
}

/* One request, its status and used length checked. */
static int expect(struct rig *g, uint32_t type, uint64_t sector, void *buf,
		  uint32_t len, int want, const char *what)
{
	uint32_t used = 0;
	int st;

	st = kt_blk_do(&g->b, 0, type, sector, buf, len, &used);
	KT_ASSERT(st >= 0, "%s: %s", what, kt_errname(-st));
	KT_ASSERT(st == want, "%s: status %d, want %d", what, st, want);
	/* IN answers cover data and status, anything else the status. */
	KT_ASSERT(used == (type == VIRTIO_BLK_T_IN ? len + 1 : 1),
		  "%s: used length %u", what, used);
	return KT_PASS;
}

/*
 * O_DIRECT on a null_blk whose sectors 64..71 are bad: a request that
 * touches one of them, even by a single sector at either end, fails; its
 * neighbours do not; once the sectors are good again the same requests
 * work and the data is what was written.
 */
static int body_badblocks_direct(struct rig *g)
{
	uint8_t *buf = kt_blk_alloc(SLOT), *want = kt_blk_alloc(SLOT);

	KT_TRY(nullb_badblocks(&g->nb, '+', 64, 71));
	kt_fill_pattern(buf, 8192, 11);
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 48, buf, 8192, S_OK,
		      "write 48..63"));
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 72, buf, 8192, S_OK,
		      "write 72..87"));
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 56, buf, 8192, S_IOERR,
		      "write 56..71 (last 8 bad)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 71, buf, 512, S_IOERR,
		      "write 71 (bad)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 32, buf, 128 * 1024, S_IOERR,
		      "write 32..287 (bad in the middle)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 64, buf, 512, S_IOERR,
		      "read 64 (bad)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 40, buf, 16384, S_IOERR,
		      "read 40..71 (bad at the end)"));
	/* The neighbours: written and read back. */
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 72, buf, 8192, S_OK, "read 72..87"));
	kt_fill_pattern(want, 8192, 11);
	KT_ASSERT(kt_bytes_equal(buf, 8192, want, 8192, "sectors 72..87"),
		  "read back 72..87");
	/* Good again: the requests that failed now work. */
	KT_TRY(nullb_badblocks(&g->nb, '-', 64, 71));
	kt_fill_pattern(want, 8192, 12);
	memcpy(buf, want, 8192);
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 56, buf, 8192, S_OK,
		      "write 56..71 after repair"));
	memset(buf, 0, 8192);
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 56, buf, 8192, S_OK,
		      "read 56..71 after repair"));
	KT_ASSERT(kt_bytes_equal(buf, 8192, want, 8192, "sectors 56..71"),
		  "read back 56..71");
	return KT_PASS;
}

static int case_badblocks_direct(const struct kt_target *t)
{
	struct rig g;
	int r;

	rig_init(&g);
	r = rig_nullb(&g, t, O_DIRECT);
	if (r == KT_PASS)
		r = body_badblocks_direct(&g);
	rig_close(&g);
	return r;
}

/*
 * Through the page cache: a read over a bad sector fails; a write over one
 * lands in the cache and succeeds (writeback mode), and its failure to
 * reach the device is what the next FLUSH reports.
 */
static int body_badblocks_buffered(struct rig *g)
{
	uint8_t *buf = kt_blk_alloc(SLOT);

	KT_TRY(nullb_badblocks(&g->nb, '+', 2048, 2055));
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 2048, buf, 4096, S_IOERR,
		      "read 2048..2055 (bad)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_IN, 0, buf, 4096, S_OK, "read 0..7"));
	KT_TRY(nullb_badblocks(&g->nb, '+', 4096, 4103));
	kt_fill_pattern(buf, 4096, 13);
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 4096, buf, 4096, S_OK,
		      "write 4096..4103 (bad, into the cache)"));
	KT_TRY(expect(g, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, S_IOERR,
		      "FLUSH after a write-back failure"));
	/* The device still serves good sectors. */
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 16, buf, 4096, S_OK,
		      "write 16..23"));
	return KT_PASS;
}

static int case_badblocks_buffered(const struct kt_target *t)
{
	struct rig g;
	int r;

	rig_init(&g);
	r = rig_nullb(&g, t, 0);
	if (r == KT_PASS)
		r = body_badblocks_buffered(&g);
	rig_close(&g);
	return r;
}

/*
 * A file on a 256 KiB tmpfs: a 192 KiB write into a hole, with room
 * left for part of it only, is a short write and so an IOERR; smaller
 * writes into blocks the file already has still work.
 */
static int body_short_write(struct rig *g)
{
	uint8_t *buf = kt_blk_alloc(SLOT), *want = kt_blk_alloc(SLOT);
	uint64_t big = 2ULL << 20;

	kt_fill_pattern(buf, 192 * 1024, 14);
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, big / 512, buf, 192 * 1024,
		      S_IOERR, "192 KiB write, room for part of it"));
	/* Allocated at setup: overwriting needs no room. */
	kt_fill_pattern(want, 4096, 15);
	memcpy(buf, want, 4096);
	KT_TRY(expect(g, VIRTIO_BLK_T_OUT, 8, buf, 4096, S_OK,
		      "write 8..15 (allocated)"));
	KT_ASSERT(!kt_pread_all(g->fd, buf, 4096, 8 * 512), "pread");
	KT_ASSERT(kt_bytes_equal(buf, 4096, want, 4096, "file at 4 KiB"),
		  "file content");
	KT_TRY(expect(g, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, S_OK, "FLUSH"));
	return KT_PASS;
}

static int case_short_write(const struct kt_target *t)
{
	uint8_t *fill = kt_blk_alloc(128 * 1024);
	char path[96];
	struct rig g;
	int r;

	rig_init(&g);
	snprintf(g.mnt, sizeof(g.mnt), "/tmp/kt-small-%d", (int)getpid());
	if (mkdir(g.mnt, 0700) < 0) {
		g.mnt[0] = '\0';
		return kt_fail("mkdir: %s", kt_errname(errno));
	}
	if (mount("kt-small", g.mnt, "tmpfs", 0, "size=256k") < 0) {
		r = kt_fail("mount tmpfs: %s", kt_errname(errno));
		rmdir(g.mnt);
		g.mnt[0] = '\0';
		return r;
	}
	snprintf(path, sizeof(path), "%s/disk", g.mnt);
	g.fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	r = g.fd >= 0 ? KT_PASS : kt_fail("open: %s", kt_errname(errno));
	/* 4 MiB, sparse but for its first 128 KiB. */
	if (r == KT_PASS && ftruncate(g.fd, 4 << 20) < 0)
		r = kt_fail("ftruncate: %s", kt_errname(errno));
	kt_fill_pattern(fill, 128 * 1024, 16);
	if (r == KT_PASS && kt_pwrite_all(g.fd, fill, 128 * 1024, 0))
		r = kt_fail("fill: %s", kt_errname(errno));
	if (r == KT_PASS)
		r = rig_attach(&g, t);
	if (r == KT_PASS)
		r = body_short_write(&g);
	rig_close(&g);
	return r;
}

static const struct kt_case cases[] = {
	{ "bad sectors, O_DIRECT: requests touching them IOERR, neighbours OK, usable after repair", case_badblocks_direct },
	{ "bad sectors, page cache: read IOERR, write-back failure reported by FLUSH", case_badblocks_buffered },
	{ "file system full: a write that fits in part is IOERR, not OK", case_short_write },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
