// SPDX-License-Identifier: GPL-2.0-only
/*
 * tcp-bench: TCP throughput and request/response rate between the test VM
 * ("L1") and a nested guest ("L2"), for vmm-bench's net cell.  netperf is
 * not packaged where kvio is built and iperf3 has no request/response mode,
 * so this is the smallest tool that measures both.  Linked statically: the
 * guest's initramfs has busybox and no libc.
 *
 *   tcp-bench server [-a ADDR] [-p PORT]
 *   tcp-bench client -a ADDR [-p PORT] -m tx|rx|rr [-t SECONDS]
 *
 * The server serves one connection after another until it is killed; the
 * client runs one measurement and prints it as one line:
 *
 *   tx  the client sends for SECONDS; the server counts what arrives, from
 *       its first byte to the client's end of stream, and sends the count
 *       and its time back:  "tx MB/s BYTES bytes SECS s"
 *   rx  the server sends for SECONDS; the client counts the same way:
 *       "rx MB/s BYTES bytes SECS s"
 *   rr  one byte each way, ping-pong on one connection with TCP_NODELAY,
 *       for SECONDS: "rr TRANS/S COUNT trans SECS s"
 *
 * MB is 10^6 bytes.  Throughput is counted at the receiver, so bytes still
 * in socket buffers when the sender stops are neither lost nor counted
 * early.  vmm-bench runs the server in L1 and the client in L2, so that
 * the guest's own command line says what to run (its init starts the
 * client once its NIC is up, with the server already listening: no retry
 * loop, no second control channel) and each result lands on the guest's
 * console next to the guest's other results.  "tx" is then the guest's
 * transmit path, "rx" its receive path.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE	(64 * 1024)
#define HDR_SIZE	16
/* Longest measurement a client may ask for, in seconds. */
#define MAX_SECONDS	3600
/* Slack on top of a measurement before a silent peer is given up. */
#define IDLE_SECONDS	30

static char buf[BUF_SIZE];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void print_usage(void)
{
	fprintf(stderr,
		"usage: tcp-bench server [-a ADDR] [-p PORT]\n"
		"       tcp-bench client -a ADDR [-p PORT] -m tx|rx|rr [-t SECONDS]\n");
	exit(2);
}

/* A peer that stops answering must not hang either side for ever. */
static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len) {
		n = write(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= n;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t len)
{
	char *c = p;
	ssize_t n;

	while (len) {
		n = read(fd, c, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= n;
	}
	return 0;
}

/* Send for @seconds, then end the stream. */
static int send_for(int fd, int seconds)
{
	double end = now() + seconds;

	while (now() < end)
		if (write_all(fd, buf, sizeof(buf)))
			return -1;
	return shutdown(fd, SHUT_WR);
}

/* Count bytes until end of stream, timed from the first one. */
static int receive(int fd, unsigned long long *bytes, double *secs)
{
	double t0 = 0;
	ssize_t n;

	*bytes = 0;
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n)
			break;
		if (!*bytes)
			t0 = now();
		*bytes += n;
	}
	*secs = *bytes ? now() - t0 : 0;
	return 0;
}

static int serve(int fd)
{
	char hdr[HDR_SIZE + 1] = "";
	char mode[4];
	unsigned long long bytes;
	double secs;
	int seconds;
	char c;

	if (read_all(fd, hdr, HDR_SIZE) ||
	    sscanf(hdr, "%3s %d", mode, &seconds) != 2 ||
	    seconds < 1 || seconds > MAX_SECONDS) {
		fprintf(stderr, "tcp-bench: bad request\n");
		return -1;
	}
	set_timeouts(fd, seconds + IDLE_SECONDS);
	if (!strcmp(mode, "tx")) {
		if (receive(fd, &bytes, &secs))
			return -1;
		snprintf(hdr, sizeof(hdr), "%llu", bytes);
		if (write_all(fd, hdr, HDR_SIZE))
			return -1;
		snprintf(hdr, sizeof(hdr), "%.6f", secs);
		return write_all(fd, hdr, HDR_SIZE);
	}
	if (!strcmp(mode, "rx")) {
		if (send_for(fd, seconds))
			return -1;
		/* Until the client has read everything and closed. */
		while (read(fd, &c, 1) > 0)
			;
		return 0;
	}
	if (!strcmp(mode, "rr")) {
		set_nodelay(fd);
		while (read_all(fd, &c, 1) == 0)
			if (write_all(fd, &c, 1))
				return -1;
		return 0;
	}
	fprintf(stderr, "tcp-bench: unknown mode %s\n", mode);
	return -1;
}

static int run_server(struct sockaddr_in *sa)
{
	int one = 1;
	int lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)sa, sizeof(*sa)) || listen(lfd, 4)) {
		perror("tcp-bench: server");
		return 1;
	}
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("tcp-bench: accept");
			return 1;
		}
		/* The request header must come at once. */
		set_timeouts(fd, IDLE_SECONDS);
		serve(fd);
		close(fd);
	}
}

static int run_client(struct sockaddr_in *sa, const char *mode, int seconds)
{
	char hdr[HDR_SIZE + 1] = "";
	unsigned long long bytes, count = 0;
	double secs, t0, end;
	int fd;
	char c = 'x';

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof(*sa))) {
		perror("tcp-bench: connect");
		return 1;
	}
	set_timeouts(fd, seconds + IDLE_SECONDS);
	if (!strcmp(mode, "rr"))
		set_nodelay(fd);
	snprintf(hdr, sizeof(hdr), "%s %d", mode, seconds);
	if (write_all(fd, hdr, HDR_SIZE))
		goto fail;

	if (!strcmp(mode, "tx")) {
		if (send_for(fd, seconds) || read_all(fd, hdr, HDR_SIZE))
			goto fail;
		bytes = strtoull(hdr, NULL, 10);
		if (read_all(fd, hdr, HDR_SIZE))
			goto fail;
		secs = strtod(hdr, NULL);
	} else if (!strcmp(mode, "rx")) {
		if (receive(fd, &bytes, &secs))
			goto fail;
	} else {
		t0 = now();
		end = t0 + seconds;
		do {
			if (write_all(fd, &c, 1) || read_all(fd, &c, 1))
				goto fail;
			count++;
		} while (now() < end);
		secs = now() - t0;
		printf("rr %.0f trans/s %llu trans %.3f s\n", count / secs,
		       count, secs);
		close(fd);
		return 0;
	}
	close(fd);
	if (!bytes || secs <= 0) {
		fprintf(stderr, "tcp-bench: %s: nothing arrived\n", mode);
		return 1;
	}
	printf("%s %.2f MB/s %llu bytes %.3f s\n", mode, bytes / secs / 1e6,
	       bytes, secs);
	return 0;
fail:
	perror("tcp-bench: client");
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *addr = NULL, *mode = NULL;
	int port = 5201, seconds = 5, is_server, opt;

	if (argc < 2)
		print_usage();
	is_server = !strcmp(argv[1], "server");
	if (!is_server && strcmp(argv[1], "client"))
		print_usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "a:p:m:t:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'm':
			mode = optarg;
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		default:
			print_usage();
		}
	}
	if (optind != argc || port < 1 || port > 65535)
		print_usage();
	sa.sin_port = htons(port);
	if (addr && inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "tcp-bench: bad address %s\n", addr);
		return 2;
	}
	/* A peer gone mid-write must end the call, not the process. */
	signal(SIGPIPE, SIG_IGN);
	if (is_server)
		return run_server(&sa);
	if (!addr || !mode || seconds < 1 || seconds > MAX_SECONDS ||
	    (strcmp(mode, "tx") && strcmp(mode, "rx") && strcmp(mode, "rr")))
		print_usage();
	return run_client(&sa, mode, seconds);
}
