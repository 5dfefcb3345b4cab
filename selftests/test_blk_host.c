// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_blk_host: what kvio-blk must not take from the host.
 *
 *  - Credentials.  The device's file I/O runs with the VMM's credentials,
 *    not a kernel thread's: a guest write into a set-id file clears its
 *    set-id bits, as the VMM's own pwrite() would, and a guest write on a
 *    file system full for the VMM fails instead of taking root's reserved
 *    blocks.  The VMM here is unprivileged (uid KT_VMM_UID) and gets its
 *    /dev/kvio-blk fd from root, as libvirt hands QEMU its vhost fds.
 *  - Process limits.  Worker threads count against the owner's
 *    RLIMIT_NPROC: past it, SET_OWNER and VHOST_NEW_WORKER fail with EAGAIN
 *    as fork() does.
 *  - Other holders of a block device.  A guest DISCARD on a device that a
 *    mounted file system holds is IOERR and the file system is unharmed;
 *    with no other holder, or held by the VMM's own O_EXCL open, it is done.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt_blk.h"

#define F(bit) (1ULL << (bit))
#define FEAT (F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH) |		\
	      F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE))
#define NUM 16
#define SLOT (256 * 1024)

/* Users no other process of the test VM runs as. */
#define KT_VMM_UID	4711
#define KT_NPROC_UID	4712

enum { S_OK = VIRTIO_BLK_S_OK, S_IOERR = VIRTIO_BLK_S_IOERR };

static uid_t drop_uid;

static int drop_privileges(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(drop_uid, drop_uid, drop_uid) < 0 ||
	    setresuid(drop_uid, drop_uid, drop_uid) < 0)
		return -errno;
	return 0;
}

/*
 * Runs body in a child that becomes uid once it has opened the device
 * node (kt_dev_opened); the caller, still root, cleans up after it.
 */
static int as_user(uid_t uid, int (*body)(const struct kt_target *t, void *arg),
		   const struct kt_target *t, void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return kt_fail("fork: %s", kt_errname(errno));
	if (!pid) {
		drop_uid = uid;
		kt_dev_opened = drop_privileges;
		fflush(stdout);
		_exit(body(t, arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return kt_fail("waitpid: %s", kt_errname(errno));
	if (!WIFEXITED(status))
		return kt_fail("the unprivileged VMM died (status %#x)", status);
	return WEXITSTATUS(status);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* One request on ring 0, its status checked. */
static int expect(struct kt_blk *b, uint32_t type, uint64_t sector, void *buf,
		  uint32_t len, int want, const char *what)
{
	int st = kt_blk_do(b, 0, type, sector, buf, len, NULL);

	KT_ASSERT(st >= 0, "%s: %s", what, kt_errname(-st));
	KT_ASSERT(st == want, "%s: status %d, want %d", what, st, want);
	return KT_PASS;
}

static int discard(struct kt_blk *b, uint64_t sector, uint32_t count,
		   int want, const char *what)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = htole64(sector),
		.num_sectors = htole32(count),
	};

	return expect(b, VIRTIO_BLK_T_DISCARD, 0, &seg, sizeof(seg), want,
		      what);
}

/* A scratch directory (and mount point) that root and the VMM can reach. */
struct scratch {
	char dir[64];
	bool mounted;
	struct kt_nullb nb;
};

static int scratch_make(struct scratch *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/kt-host-%d", (int)getpid());
	if (mkdir(s->dir, 0777) < 0 || chmod(s->dir, 0777) < 0) {
		s->dir[0] = '\0';
		return kt_fail("mkdir: %s", kt_errname(errno));
	}
	return KT_PASS;
}

/* An ext4 file system of size_mb on a fresh null_blk, mounted at s->dir. */
static int scratch_ext4(struct scratch *s, unsigned int size_mb, bool discard)
{
	struct kt_nullb_opts o = { .size_mb = size_mb, .discard = discard };
	char cmd[256];

	KT_TRY(scratch_make(s));
	KT_TRY(kt_nullb_create(&s->nb, &o));
	snprintf(cmd, sizeof(cmd),
		 "mkfs.ext4 -q -F -m 5 -E nodiscard %s >/dev/null 2>&1",
		 s->nb.dev);
	KT_ASSERT(run(cmd) == 0, "%s failed", cmd);
	KT_ASSERT(mount(s->nb.dev, s->dir, "ext4", 0, NULL) == 0,
		  "mount ext4: %s", kt_errname(errno));
	s->mounted = true;
	KT_ASSERT(chmod(s->dir, 0777) == 0, "chmod: %s", kt_errname(errno));
	return KT_PASS;
}

static void scratch_remove(struct scratch *s)
{
	if (s->mounted)
		umount2(s->dir, MNT_DETACH);
	kt_nullb_destroy(&s->nb);
	if (s->dir[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", s->dir);
		run(cmd);
	}
}

/* ------------------------------------------------------ credentials */

/* Pid of the default worker of a device this process owns (kvio-<pid>). */
static pid_t worker_pid(void)
{
	char path[300], comm[64], want[32];
	struct dirent *de;
	pid_t found = 0;
	DIR *d = opendir("/proc");
	FILE *f;

	if (!d)
		return 0;
	snprintf(want, sizeof(want), "kvio-%d\n", (int)getpid());
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			found = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

/*
 * A root-owned 06777 file, which anyone may write: the VMM's guest writes
 * into it, and the set-id bits go as they would for the VMM's own write.
 */
static int body_setid(const struct kt_target *t, void *arg)
{
	const char *path = arg;
	uint8_t *buf = kt_blk_alloc(SLOT), *got = kt_blk_alloc(SLOT);
	struct kt_blk b;
	struct stat st;
	pid_t pid;
	int fd, r;

	KT_TRY(kt_blk_open(&b, t, FEAT, 1, NUM, SLOT, false));
	KT_ASSERT(geteuid() == KT_VMM_UID, "still uid %d", (int)geteuid());
	fd = open(path, O_RDWR | O_CLOEXEC);
	KT_ASSERT(fd >= 0, "open %s as uid %d: %s", path, KT_VMM_UID,
		  kt_errname(errno));
	KT_ASSERT(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 06777,
		  "mode %o before the write", st.st_mode & 07777);
	r = kt_blk_backend(&b, fd);
	KT_ASSERT(!r, "KVIO_BLK_SET_BACKEND: %s", kt_errname(-r));
	/*
	 * The worker is the VMM's now, so the VMM may signal it: a kernel
	 * thread ignores every signal, and the device keeps working.
	 */
	pid = worker_pid();
	KT_ASSERT(pid > 0, "no thread kvio-%d", (int)getpid());
	KT_ASSERT(kill(pid, SIGSTOP) == 0 && kill(pid, SIGTERM) == 0 &&
		  kill(pid, SIGKILL) == 0,
		  "the VMM may not signal its worker: %s", kt_errname(errno));
	kt_sleep_ms(100);
	kt_fill_pattern(buf, 4096, 41);
	KT_TRY(expect(&b, VIRTIO_BLK_T_OUT, 8, buf, 4096, S_OK, "OUT"));
	KT_ASSERT(!kt_pread_all(fd, got, 4096, 8 * 512), "pread");
	KT_ASSERT(kt_bytes_equal(got, 4096, buf, 4096, "file at 4 KiB"),
		  "the guest's write is in the file");
	KT_ASSERT(fstat(fd, &st) == 0, "fstat");
	KT_ASSERT(!(st.st_mode & (S_ISUID | S_ISGID)),
		  "mode %o after the guest's write: set-id bits kept (the write ran with privileges the VMM lacks)",
		  st.st_mode & 07777);
	kt_blk_close(&b);
	close(fd);
	return KT_PASS;
}

static int case_setid(const struct kt_target *t)
{
	struct scratch s;
	char path[96];
	int fd, r;

	r = scratch_make(&s);
	if (r == KT_PASS) {
		snprintf(path, sizeof(path), "%s/setid-program", s.dir);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || ftruncate(fd, 1 << 20) < 0 ||
		    fchmod(fd, 06777) < 0)
			r = kt_fail("%s: %s", path, kt_errname(errno));
		if (fd >= 0)
			close(fd);
	}
	if (r == KT_PASS)
		r = as_user(KT_VMM_UID, body_setid, t, path);
	scratch_remove(&s);
	return r;
}

/*
 * ext4 with 5 % of its blocks reserved for root, filled by the VMM until
 * ENOSPC: a guest write into a hole of the VMM's sparse disk file cannot
 * take the reserve either.
 */
static int body_reserved(const struct kt_target *t, void *arg)
{
	const char *dir = arg;
	uint8_t *buf = kt_blk_alloc(SLOT);
	struct statvfs before, after;
	char path[96];
	struct kt_blk b;
	int fd, filler, r;
	size_t chunk;
	ssize_t n;

	KT_TRY(kt_blk_open(&b, t, FEAT, 1, NUM, SLOT, false));
	snprintf(path, sizeof(path), "%s/disk", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	KT_ASSERT(fd >= 0, "open %s: %s", path, kt_errname(errno));
	KT_ASSERT(ftruncate(fd, 8 << 20) == 0, "ftruncate");
	/* Fill what the VMM may use (bounded by the file system's size). */
	snprintf(path, sizeof(path), "%s/filler", dir);
	filler = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	KT_ASSERT(filler >= 0, "open %s: %s", path, kt_errname(errno));
	memset(buf, 0x5a, SLOT);
	for (chunk = SLOT; chunk >= 4096; chunk /= 4) {
		do
			n = write(filler, buf, chunk);
		while (n > 0);
		KT_ASSERT(n < 0 && errno == ENOSPC, "filling: %s",
			  kt_errname(n < 0 ? errno : 0));
	}
	fsync(filler);
	syncfs(filler);
	KT_ASSERT(statvfs(dir, &before) == 0, "statvfs");
	KT_ASSERT(before.f_bfree > before.f_bavail + 256,
		  "no reserve left to take (%lu free, %lu available)",
		  (unsigned long)before.f_bfree, (unsigned long)before.f_bavail);

	r = kt_blk_backend(&b, fd);
	KT_ASSERT(!r, "KVIO_BLK_SET_BACKEND: %s", kt_errname(-r));
	kt_fill_pattern(buf, 64 * 1024, 42);
	KT_TRY(expect(&b, VIRTIO_BLK_T_OUT, 2048, buf, 64 * 1024, S_IOERR,
		      "64 KiB OUT into a hole, file system full for the VMM"));
	syncfs(fd);
	KT_ASSERT(statvfs(dir, &after) == 0, "statvfs");
	KT_ASSERT(after.f_bfree >= before.f_bfree,
		  "free blocks %lu -> %lu: the guest's write took root's reserve",
		  (unsigned long)before.f_bfree, (unsigned long)after.f_bfree);
	/* The device still answers. */
	KT_TRY(expect(&b, VIRTIO_BLK_T_IN, 0, buf, 4096, S_OK, "IN"));
	kt_blk_close(&b);
	close(fd);
	close(filler);
	return KT_PASS;
}

static int case_reserved(const struct kt_target *t)
{
	struct scratch s;
	int r;

	r = scratch_ext4(&s, 64, false);
	if (r == KT_PASS)
		r = as_user(KT_VMM_UID, body_reserved, t, s.dir);
	scratch_remove(&s);
	return r;
}

/* ------------------------------------------------------ process limit */

/* Tasks (threads included) whose real uid is uid, from /proc. */
static long tasks_of(uid_t uid)
{
	char path[300], line[128];
	struct dirent *de;
	long count = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		unsigned int real = ~0u;
		long threads = 0;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "Uid: %u", &real);
			sscanf(line, "Threads: %ld", &threads);
		}
		fclose(f);
		if (real == uid)
			count += threads;
	}
	closedir(d);
	return count;
}

static int body_nproc(const struct kt_target *t, void *arg)
{
	struct vhost_worker_state w = {};
	struct rlimit rl;
	struct kt_blk b;
	long mine;
	int r, status;
	pid_t pid;

	(void)arg;
	r = kt_dev_open(&b.d, t->path);
	if (r == -ENOENT)
		return kt_skip("%s does not exist", t->path);
	KT_ASSERT(!r, "open %s: %s", t->path, kt_errname(-r));
	/* Dropped to KT_NPROC_UID now: only this process runs as it. */
	mine = tasks_of(KT_NPROC_UID);
	KT_ASSERT(mine >= 1, "tasks of uid %d: %ld", KT_NPROC_UID, mine);
	/* Room for the default worker SET_OWNER makes, and no more. */
	rl.rlim_cur = mine + 1;
	rl.rlim_max = mine + 2;
	KT_ASSERT(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit: %s",
		  kt_errname(errno));
	r = kt_dev_setup(&b.d, FEAT);
	KT_ASSERT(!r, "SET_OWNER with room for one worker: %s",
		  kt_errname(-r));
	KT_ASSERT(tasks_of(KT_NPROC_UID) == mine + 1,
		  "%ld tasks of uid %d after SET_OWNER, want %ld (the worker)",
		  tasks_of(KT_NPROC_UID), KT_NPROC_UID, mine + 1);
	KT_ERRNO(EAGAIN, ioctl(b.d.fd, VHOST_NEW_WORKER, &w));
	/* fork() says the same: the worker counts like a process. */
	pid = fork();
	if (!pid)
		_exit(0);
	if (pid > 0)
		waitpid(pid, &status, 0);
	KT_ASSERT(pid < 0 && errno == EAGAIN, "fork at the limit: %s",
		  pid < 0 ? kt_errname(errno) : "success");
	/* One more allowed: one more worker. */
	rl.rlim_cur = mine + 2;
	KT_ASSERT(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit: %s",
		  kt_errname(errno));
	KT_ERRNO(0, ioctl(b.d.fd, VHOST_NEW_WORKER, &w));
	KT_ERRNO(EAGAIN, ioctl(b.d.fd, VHOST_NEW_WORKER, &w));
	kt_dev_close(&b.d);
	return KT_PASS;
}

static int case_nproc(const struct kt_target *t)
{
	return as_user(KT_NPROC_UID, body_nproc, t, NULL);
}

/* ------------------------------------------------------ other holders */

#define FEAT_DISCARD (FEAT | F(VIRTIO_BLK_F_DISCARD))

/*
 * A mounted ext4 on the device; the VMM opened it O_RDWR without O_EXCL (the
 * kernel allows that).  The guest's DISCARD over the whole device must not
 * pull blocks or page cache from under the file system: IOERR.  Then the
 * file system still works, unmounts and checks clean, and with no holder
 * left the same DISCARD is done.
 */
static int case_discard_mounted(const struct kt_target *t)
{
	uint8_t *buf = kt_blk_alloc(SLOT), *got = kt_blk_alloc(SLOT);
	const uint32_t sectors = 64 << 11;	/* 64 MiB */
	char path[96], cmd[160];
	struct kt_blk b;
	struct scratch s;
	int fd = -1, dev = -1, r;

	memset(&b, 0, sizeof(b));
	b.d.fd = -1;
	b.d.mem.fd = -1;
	r = scratch_ext4(&s, 64, true);
	if (r != KT_PASS)
		goto out;
	snprintf(path, sizeof(path), "%s/before", s.dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	kt_fill_pattern(buf, SLOT, 43);
	r = fd >= 0 && !kt_pwrite_all(fd, buf, SLOT, 0) && !fsync(fd) ?
	    KT_PASS : kt_fail("%s: %s", path, kt_errname(errno));
	if (fd >= 0)
		close(fd);
	fd = -1;
	dev = open(s.nb.dev, O_RDWR | O_CLOEXEC);
	if (r == KT_PASS && dev < 0)
		r = kt_fail("open %s: %s", s.nb.dev, kt_errname(errno));
	if (r == KT_PASS)
		r = kt_blk_open(&b, t, FEAT_DISCARD, 1, NUM, SLOT, false);
	if (r == KT_PASS && kt_blk_backend(&b, dev))
		r = kt_fail("KVIO_BLK_SET_BACKEND: %s", kt_errname(errno));
	if (r == KT_PASS)
		r = discard(&b, 0, sectors, S_IOERR,
			    "DISCARD of a device a mounted file system holds");
	if (r != KT_PASS)
		goto out;

	/* The file system works: a new file and the old one, from disk. */
	snprintf(path, sizeof(path), "%s/after", s.dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	r = fd >= 0 && !kt_pwrite_all(fd, buf, SLOT, 0) && !fsync(fd) ?
	    KT_PASS : kt_fail("%s after the DISCARD: %s", path,
			      kt_errname(errno));
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (r != KT_PASS)
		goto out;
	sync();
	run("echo 3 > /proc/sys/vm/drop_caches");
	snprintf(path, sizeof(path), "%s/before", s.dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || kt_pread_all(fd, got, SLOT, 0) ||
	    !kt_bytes_equal(got, SLOT, buf, SLOT, "file written before"))
		r = kt_fail("%s unreadable or changed after the DISCARD", path);
	if (fd >= 0)
		close(fd);
	fd = -1;
	if (r != KT_PASS)
		goto out;
	if (umount(s.dir) < 0) {
		r = kt_fail("umount: %s", kt_errname(errno));
		goto out;
	}
	s.mounted = false;
	snprintf(cmd, sizeof(cmd), "e2fsck -fn %s >/dev/null 2>&1", s.nb.dev);
	if (run(cmd) != 0) {
		r = kt_fail("e2fsck -fn %s: the file system is damaged",
			    s.nb.dev);
		goto out;
	}
	/* Nobody else holds it now: the guest may discard it. */
	r = discard(&b, 0, sectors, S_OK, "DISCARD once unmounted");
	if (r == KT_PASS)
		r = expect(&b, VIRTIO_BLK_T_IN, 0, got, 4096, S_OK, "IN");
	if (r == KT_PASS) {
		memset(buf, 0, 4096);
		if (!kt_bytes_equal(got, 4096, buf, 4096, "sector 0"))
			r = kt_fail("the DISCARD did not reach null_blk");
	}
out:
	kt_blk_close(&b);
	if (dev >= 0)
		close(dev);
	scratch_remove(&s);
	return r;
}

/* Held by the VMM's own O_EXCL open: that holder is the backend itself. */
static int case_discard_own_excl(const struct kt_target *t)
{
	struct kt_nullb_opts o = { .size_mb = 16, .discard = true };
	uint8_t *buf = kt_blk_alloc(SLOT), *zero = kt_blk_alloc(4096);
	struct kt_nullb nb;
	struct kt_blk b;
	int dev = -1, r;

	memset(&b, 0, sizeof(b));
	b.d.fd = -1;
	b.d.mem.fd = -1;
	r = kt_nullb_create(&nb, &o);
	if (r != KT_PASS)
		return r;
	dev = open(nb.dev, O_RDWR | O_EXCL | O_CLOEXEC);
	if (dev < 0)
		r = kt_fail("open %s O_EXCL: %s", nb.dev, kt_errname(errno));
	kt_fill_pattern(buf, 4096, 44);
	if (r == KT_PASS && (kt_pwrite_all(dev, buf, 4096, 0) || fsync(dev)))
		r = kt_fail("pwrite: %s", kt_errname(errno));
	if (r == KT_PASS)
		r = kt_blk_open(&b, t, FEAT_DISCARD, 1, NUM, SLOT, false);
	if (r == KT_PASS && kt_blk_backend(&b, dev))
		r = kt_fail("KVIO_BLK_SET_BACKEND: %s", kt_errname(errno));
	if (r == KT_PASS)
		r = discard(&b, 0, 2048, S_OK,
			    "DISCARD of a device the VMM opened O_EXCL");
	if (r == KT_PASS)
		r = expect(&b, VIRTIO_BLK_T_IN, 0, buf, 4096, S_OK, "IN");
	if (r == KT_PASS && !kt_bytes_equal(buf, 4096, zero, 4096, "sector 0"))
		r = kt_fail("the DISCARD did not reach null_blk");
	kt_blk_close(&b);
	if (dev >= 0)
		close(dev);
	kt_nullb_destroy(&nb);
	return r;
}

static const struct kt_case cases[] = {
	{ "unprivileged VMM: a guest OUT into a set-id file clears the set-id bits; its signals to the worker are ignored",
	  case_setid },
	{ "unprivileged VMM: ext4 full for it, a guest OUT into a hole is IOERR, root's reserve untouched",
	  case_reserved, 120 },
	{ "unprivileged VMM: workers count against RLIMIT_NPROC, NEW_WORKER past it -> EAGAIN",
	  case_nproc },
	{ "DISCARD of a device a mounted ext4 holds: IOERR, the file system unharmed; done once unmounted",
	  case_discard_mounted, 120 },
	{ "DISCARD of a device the VMM opened O_EXCL: done", case_discard_own_excl },
};

int main(int argc, char **argv)
{
	return kt_blk_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
