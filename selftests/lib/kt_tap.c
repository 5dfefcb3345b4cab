// SPDX-License-Identifier: GPL-2.0-only
/*
 * TAP 13 runner: each case runs in a forked child so that a crash, a hang or
 * leaked state in one case cannot take the others with it, and so that each
 * case starts with a process that owns no device yet.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"

#define KT_REASON_LEN 512

/* Shared with the case's child: the skip reason. */
static char *kt_reason;
static const struct kt_case *kt_current;

const void *kt_case_data(void)
{
	return kt_current ? kt_current->data : NULL;
}

long kt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int kt_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(s) ? 0 : -EIO;
}

int kt_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

long kt_module_refcnt(const char *name)
{
	char path[96];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* comm is @prefix-@owner, nothing after (a worker of another id has -N). */
static bool kt_is_worker(const char *comm, const char *prefix, pid_t owner)
{
	char want[32];
	size_t n;

	n = snprintf(want, sizeof(want), "%s-%d", prefix, (int)owner);
	return !strncmp(comm, want, n) && (comm[n] == '\n' || !comm[n]);
}

pid_t kt_worker_pid(pid_t owner)
{
	char comm[32], path[64];
	struct dirent *e;
	pid_t worker = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return 0;
	while (!worker && (e = readdir(d))) {
		FILE *f;

		if (atoi(e->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    (kt_is_worker(comm, "kvio", owner) ||
		     kt_is_worker(comm, "vhost", owner)))
			worker = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return worker;
}

long kt_task_cpu_ms(pid_t pid)
{
	unsigned long utime, stime;
	char path[64], buf[1024], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (kt_read_file(path, buf, sizeof(buf)))
		return -1;
	/*
	 * utime and stime: fields 14 and 15, after the 12th space past the
	 * command name (which may hold spaces).
	 */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (i = 0; i < 12 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lu %lu", &utime, &stime) != 2)
		return -1;
	return (long)((utime + stime) * 1000 / sysconf(_SC_CLK_TCK));
}

int kt_pin_apart(pid_t owner)
{
	pid_t worker;
	cpu_set_t cpu;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return kt_skip("one CPU: the guest and the worker cannot both run");
	worker = kt_worker_pid(owner);
	KT_ASSERT(worker, "no worker thread kvio-%d", (int)owner);
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	KT_ERRNO(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	CPU_ZERO(&cpu);
	CPU_SET(1, &cpu);
	KT_ERRNO(0, sched_setaffinity(worker, sizeof(cpu), &cpu));
	return KT_PASS;
}

int kt_unpin(void)
{
	cpu_set_t all;
	long i;

	CPU_ZERO(&all);
	for (i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
		CPU_SET(i, &all);
	KT_ERRNO(0, sched_setaffinity(0, sizeof(all), &all));
	return KT_PASS;
}

/*
 * KVIO_TIMEOUT_SCALE (a whole number, default 1) stretches every wait of the
 * harness: the debug kernel (KASAN, lockdep) under TCG is several times
 * slower, and a slow machine must not turn into a failed case.
 */
long kt_timeout_scale(void)
{
	static long scale;
	const char *e;

	if (!scale) {
		e = getenv("KVIO_TIMEOUT_SCALE");
		scale = e ? atol(e) : 1;
		if (scale < 1 || scale > 100)
			scale = 1;
	}
	return scale;
}

long kt_deadline(long timeout_ms)
{
	return kt_now_ms() + timeout_ms * kt_timeout_scale();
}

void kt_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A bounded call; heap-allocated: a hung call's thread keeps using it. */
struct kt_timed {
	long (*run)(struct kt_timed *c);
	int fd;
	unsigned long req;	/* ioctl only */
	void *arg;
	long ret;
	int err;
	int done;
};

static long kt_timed_close(struct kt_timed *c)
{
	return close(c->fd);
}

static long kt_timed_ioctl(struct kt_timed *c)
{
	return ioctl(c->fd, c->req, c->arg);
}

static void *kt_timed_thread(void *arg)
{
	struct kt_timed *c = arg;

	errno = 0;
	c->ret = c->run(c);
	c->err = errno;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int kt_timed_run(const struct kt_timed *call, const char *what,
			long timeout_ms, long *ret)
{
	long deadline = kt_deadline(timeout_ms), t0 = kt_now_ms();
	struct kt_timed *c = malloc(sizeof(*c));
	pthread_t th;

	if (!c)
		return kt_fail("malloc");
	*c = *call;
	if (pthread_create(&th, NULL, kt_timed_thread, c)) {
		free(c);
		return kt_fail("pthread_create");
	}
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		/* c is leaked on purpose: the thread may still write to it. */
		if (kt_now_ms() > deadline)
			return kt_fail("%s did not return within %ld ms", what,
				       timeout_ms);
		kt_sleep_ms(2);
	}
	pthread_join(th, NULL);
	if (kt_now_ms() - t0 > 1000)
		kt_diag("%s took %ld ms", what, kt_now_ms() - t0);
	*ret = c->ret;
	errno = c->err;
	free(c);
	return KT_PASS;
}

int kt_close_timed(const char *what, long timeout_ms, int fd, long *ret)
{
	struct kt_timed c = { .run = kt_timed_close, .fd = fd };

	return kt_timed_run(&c, what, timeout_ms, ret);
}

int kt_ioctl_timed(const char *what, long timeout_ms, int fd,
		   unsigned long req, void *arg, long *ret)
{
	struct kt_timed c = {
		.run = kt_timed_ioctl, .fd = fd, .req = req, .arg = arg,
	};

	return kt_timed_run(&c, what, timeout_ms, ret);
}

int kt_errno_of(long ret)
{
	return ret < 0 ? errno : 0;
}

const char *kt_errname(int err)
{
	static char unknown[32];

	switch (err) {
	case 0: return "success";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	case ENOSYS: return "ENOSYS";
	case ENOBUFS: return "ENOBUFS";
	case ENOTSOCK: return "ENOTSOCK";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EPFNOSUPPORT: return "EPFNOSUPPORT";
	case EBADFD: return "EBADFD";
	case EPROTO: return "EPROTO";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ERANGE: return "ERANGE";
	case EMSGSIZE: return "EMSGSIZE";
	default:
		snprintf(unknown, sizeof(unknown), "errno %d", err);
		return unknown;
	}
}

static void kt_vdiag(const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	char *p, *nl;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One "# " per output line, whatever the message contains. */
	for (p = line; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		printf("# %s%s\n", prefix, p);
		if (!nl)
			break;
	}
	fflush(stdout);
}

void kt_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vdiag("", fmt, ap);
	va_end(ap);
}

int kt_skip(const char *fmt, ...)
{
	va_list ap;

	if (kt_reason) {
		va_start(ap, fmt);
		vsnprintf(kt_reason, KT_REASON_LEN, fmt, ap);
		va_end(ap);
	}
	return KT_SKIP;
}

int kt_fail_at(const char *file, int line, const char *fmt, ...)
{
	char prefix[128];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	va_start(ap, fmt);
	kt_vdiag(prefix, fmt, ap);
	va_end(ap);
	return KT_FAIL;
}

static int kt_run_child(const struct kt_case *c, const struct kt_target *t)
{
	int r;

	/* A dying reader must not kill the case with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	kt_current = c;
	r = c->run(t);
	fflush(stdout);
	return r;
}

/*
 * Run one case in a child; returns KT_PASS/KT_FAIL/KT_SKIP, the reason (for
 * a skip or a harness-level failure) in kt_reason.
 */
static int kt_run_case(const struct kt_case *c, const struct kt_target *t)
{
	unsigned int timeout = (c->timeout_s ? c->timeout_s : KT_DEFAULT_TIMEOUT) *
			       kt_timeout_scale();
	long deadline;
	int status;
	pid_t pid, w;

	kt_reason[0] = '\0';
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(kt_reason, KT_REASON_LEN, "fork: %s", strerror(errno));
		return KT_FAIL;
	}
	if (pid == 0)
		_exit(kt_run_child(c, t));

	deadline = kt_now_ms() + timeout * 1000L;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			snprintf(kt_reason, KT_REASON_LEN, "waitpid: %s",
				 strerror(errno));
			return KT_FAIL;
		}
		if (kt_now_ms() > deadline) {
			kill(pid, SIGKILL);
			kt_diag("case timed out after %u s: killed", timeout);
			/* A child stuck in the kernel may not die: give up on
			 * it after a while rather than hang the suite. */
			deadline = kt_now_ms() + 10000;
			while (waitpid(pid, &status, WNOHANG) != pid) {
				if (kt_now_ms() > deadline) {
					kt_diag("child %d does not die (stuck in the kernel?)",
						(int)pid);
					break;
				}
				kt_sleep_ms(20);
			}
			return KT_FAIL;
		}
		kt_sleep_ms(5);
	}
	if (WIFSIGNALED(status)) {
		kt_diag("case killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
		return KT_FAIL;
	}
	if (!WIFEXITED(status))
		return KT_FAIL;
	switch (WEXITSTATUS(status)) {
	case KT_PASS:
		return KT_PASS;
	case KT_SKIP:
		return KT_SKIP;
	default:
		return KT_FAIL;
	}
}

static void kt_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--dev PATH]... [--case SUBSTRING] [--list]\n"
		"  runs every case against each device node (default:\n"
		"  /dev/kvio-net and /dev/vhost-net); TAP 13 on stdout\n",
		prog);
}

int kt_main(int argc, char **argv, const struct kt_case *cases, size_t ncases)
{
	static const char * const default_devs[] = {
		"/dev/kvio-net", "/dev/vhost-net",
	};
	const char *devs[16];
	const char *only = NULL;
	struct kt_target targets[16];
	size_t ndev = 0, i, j, n = 0, planned = 0;
	int failed = 0, list = 0;
	struct stat st;

	for (i = 1; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--dev") && i + 1 < (size_t)argc) {
			if (ndev == sizeof(devs) / sizeof(devs[0])) {
				fprintf(stderr, "too many --dev\n");
				return 2;
			}
			devs[ndev++] = argv[++i];
		} else if (!strcmp(argv[i], "--case") && i + 1 < (size_t)argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--list")) {
			list = 1;
		} else {
			kt_usage(argv[0]);
			return 2;
		}
	}
	if (!ndev)
		for (; ndev < 2; ndev++)
			devs[ndev] = default_devs[ndev];

	for (i = 0; i < ndev; i++) {
		const char *slash = strrchr(devs[i], '/');

		targets[i].path = devs[i];
		targets[i].name = slash ? slash + 1 : devs[i];
		targets[i].kvio = strstr(targets[i].name, "kvio") != NULL;
	}

	for (j = 0; j < ncases; j++)
		if (!only || strstr(cases[j].name, only))
			planned++;
	if (list) {
		for (j = 0; j < ncases; j++)
			if (!only || strstr(cases[j].name, only))
				printf("%s\n", cases[j].name);
		return 0;
	}

	kt_reason = mmap(NULL, KT_REASON_LEN, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kt_reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%zu\n", planned * ndev);
	for (i = 0; i < ndev; i++) {
		const struct kt_target *t = &targets[i];
		bool present = stat(t->path, &st) == 0;

		if (!present)
			kt_diag("%s: no such device node: its cases skip",
				t->path);
		for (j = 0; j < ncases; j++) {
			const struct kt_case *c = &cases[j];
			long t0;
			int r;

			if (only && !strstr(c->name, only))
				continue;
			n++;
			if (!present) {
				printf("ok %zu - %s: %s # SKIP %s does not exist\n",
				       n, t->name, c->name, t->path);
				continue;
			}
			t0 = kt_now_ms();
			r = kt_run_case(c, t);
			if (r == KT_PASS) {
				printf("ok %zu - %s: %s\n", n, t->name, c->name);
			} else if (r == KT_SKIP) {
				printf("ok %zu - %s: %s # SKIP %s\n", n, t->name,
				       c->name, kt_reason[0] ? kt_reason :
				       "(no reason given)");
			} else if (c->upstream_bug && !t->kvio) {
				if (kt_reason[0])
					kt_diag("%s", kt_reason);
				printf("not ok %zu - %s: %s # TODO upstream bug: %s\n",
				       n, t->name, c->name, c->upstream_bug);
			} else {
				if (kt_reason[0])
					kt_diag("%s", kt_reason);
				printf("not ok %zu - %s: %s\n", n, t->name,
				       c->name);
				failed++;
			}
			if (kt_now_ms() - t0 > 5000)
				kt_diag("(%s took %ld ms)", c->name,
					kt_now_ms() - t0);
			fflush(stdout);
		}
	}
	kt_diag("%d of %zu failed", failed, n);
	return failed ? 1 : 0;
}

int kt_main_dev(int argc, char **argv, const struct kt_case *cases,
		size_t ncases, const char *dev)
{
	char **v;
	int i;

	/* The runner passes nothing: only --case/--list keep the default. */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--dev"))
			return kt_main(argc, argv, cases, ncases);
	v = calloc(argc + 3, sizeof(*v));
	if (!v)
		return 1;
	v[0] = argv[0];
	v[1] = "--dev";
	v[2] = (char *)dev;
	for (i = 1; i < argc; i++)
		v[i + 2] = argv[i];
	return kt_main(argc + 2, v, cases, ncases);
}
