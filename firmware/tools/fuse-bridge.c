/*
 * fuse-bridge: a FUSE filesystem whose every operation is answered by another process over a
 * UNIX socket. The Linux board double mounts it at the kernel's own paths (remoteproc sysfs,
 * debugfs, /dev/rpmsg*) inside a private mount namespace, and a Node process behind the socket
 * plays the kernel: what a shell command or the rpmsg helper does to these files (a write to
 * `state`, an RPMSG_CREATE_EPT_IOCTL, a blocking read() of /dev/rpmsgN) reaches the board logic
 * before the system call returns, exactly as it would reach a driver.
 *
 *   fuse-bridge <mountpoint> <socket> [fuse options...]
 *
 * One connection per operation (FUSE runs them on several threads; a read() may block for as
 * long as the endpoint has no message). Request: u32 op, u32 flags, u64 fh, u64 offset,
 * u32 size, u32 path_len, u32 data_len, path, data. Reply: i32 result (-errno on failure),
 * u32 data_len, data. All little-endian (the board double runs on this machine).
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <errno.h>
#include <fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { OP_GETATTR = 1, OP_READDIR, OP_OPEN, OP_READ, OP_WRITE, OP_RELEASE, OP_IOCTL, OP_TRUNCATE, OP_READLINK };

#define MAX_REPLY (1024 * 1024)

static const char *socket_path;

struct request {
	uint32_t op, flags;
	uint64_t fh, offset;
	uint32_t size, path_len, data_len;
} __attribute__((packed));

struct reply {
	int32_t result;
	uint32_t data_len;
} __attribute__((packed));

static int io_all(int fd, void *buf, size_t len, int writing)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		/* -o intr: the caller was signalled (even SIGKILL waits for us otherwise): give up. */
		if (n < 0 && errno == EINTR && fuse_interrupted())
			return -2;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One round trip; the reply's data (at most `out_max` bytes kept) goes to `out`. */
static int call(uint32_t op, const char *path, uint32_t flags, uint64_t fh, uint64_t offset, uint32_t size, const void *data, uint32_t data_len, void *out,
		size_t out_max, size_t *out_len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -EIO;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strncpy(addr.sun_path, socket_path, sizeof(addr.sun_path) - 1);
	struct request req = { op, flags, fh, offset, size, (uint32_t)strlen(path), data_len };
	struct reply rep;
	int result = -EIO;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto out;
	if (io_all(fd, &req, sizeof(req), 1) < 0 || io_all(fd, (void *)path, req.path_len, 1) < 0 || (data_len && io_all(fd, (void *)data, data_len, 1) < 0))
		goto out;
	int got = io_all(fd, &rep, sizeof(rep), 0);
	if (got == -2) {
		result = -EINTR;
		goto out;
	}
	if (got < 0 || rep.data_len > MAX_REPLY)
		goto out;
	size_t keep = rep.data_len < out_max ? rep.data_len : out_max;
	if (keep && io_all(fd, out, keep, 0) < 0)
		goto out;
	if (out_len)
		*out_len = keep;
	result = rep.result;
out:
	close(fd);
	return result;
}

static int bridge_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	uint8_t out[12];
	size_t len = 0;
	int result = call(OP_GETATTR, path, 0, 0, 0, 0, NULL, 0, out, sizeof(out), &len);
	if (result < 0)
		return result;
	if (len != 12)
		return -EIO;
	memset(st, 0, sizeof(*st));
	uint32_t mode;
	uint64_t size;
	memcpy(&mode, out, 4);
	memcpy(&size, out + 4, 8);
	st->st_mode = mode;
	st->st_size = (off_t)size;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	return 0;
}

static int bridge_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)offset;
	(void)fi;
	(void)flags;
	static __thread char names[64 * 1024];
	size_t len = 0;
	int result = call(OP_READDIR, path, 0, 0, 0, 0, NULL, 0, names, sizeof(names) - 1, &len);
	if (result < 0)
		return result;
	names[len] = '\0';
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	for (size_t at = 0; at < len;) {
		const char *name = names + at;
		size_t n = strlen(name);
		if (n)
			filler(buf, name, NULL, 0, 0);
		at += n + 1;
	}
	return 0;
}

static int bridge_open(const char *path, struct fuse_file_info *fi)
{
	int result = call(OP_OPEN, path, (uint32_t)fi->flags, 0, 0, 0, NULL, 0, NULL, 0, NULL);
	if (result < 0)
		return result;
	fi->fh = (uint64_t)result;
	/* Device semantics: every read() reaches the board logic (one message per read), no cache. */
	fi->direct_io = 1;
	fi->nonseekable = 0;
	fi->keep_cache = 0;
	return 0;
}

static int bridge_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	size_t len = 0;
	int result = call(OP_READ, path, 0, fi->fh, (uint64_t)offset, (uint32_t)size, NULL, 0, buf, size, &len);
	return result < 0 ? result : (int)len;
}

static int bridge_write(const char *path, const char *buf, size_t size, off_t offset, struct fuse_file_info *fi)
{
	return call(OP_WRITE, path, 0, fi->fh, (uint64_t)offset, 0, buf, (uint32_t)size, NULL, 0, NULL);
}

static int bridge_release(const char *path, struct fuse_file_info *fi)
{
	call(OP_RELEASE, path, 0, fi->fh, 0, 0, NULL, 0, NULL, 0, NULL);
	return 0;
}

static int bridge_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	return call(OP_TRUNCATE, path, 0, 0, (uint64_t)size, 0, NULL, 0, NULL, 0, NULL);
}

static int bridge_ioctl(const char *path, int cmd, void *arg, struct fuse_file_info *fi, unsigned int flags, void *data)
{
	(void)arg;
	if (flags & FUSE_IOCTL_COMPAT)
		return -ENOSYS;
	/* FUSE passes the argument's bytes for _IOW / _IOR ioctls (size from the command number). */
	uint32_t size = _IOC_SIZE((unsigned int)cmd);
	uint32_t in = (_IOC_DIR((unsigned int)cmd) & _IOC_WRITE) ? size : 0;
	uint32_t out = (_IOC_DIR((unsigned int)cmd) & _IOC_READ) ? size : 0;
	size_t len = 0;
	int result = call(OP_IOCTL, path, (uint32_t)cmd, fi->fh, 0, out, data, in, data, out, &len);
	return result;
}

static int bridge_readlink(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	if (size == 0)
		return -EINVAL;
	int result = call(OP_READLINK, path, 0, 0, 0, 0, NULL, 0, buf, size - 1, &len);
	if (result < 0)
		return result;
	buf[len] = '\0';
	return 0;
}

static void *bridge_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Nothing is cached: sysfs attributes and /dev entries change under the reader. */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	/* A process killed while blocked in a read (no message yet) must die, as with a real device:
	 * the kernel's INTERRUPT makes libfuse send SIGUSR1 (its default intr_signal; our handler is
	 * installed in main) to the thread serving it, whose recv() then fails with EINTR (io_all). */
	cfg->intr = 1;
	return NULL;
}

static void on_interrupt_signal(int signal)
{
	(void)signal;
}

static const struct fuse_operations operations = {
	.init = bridge_init,
	.getattr = bridge_getattr,
	.readdir = bridge_readdir,
	.open = bridge_open,
	.read = bridge_read,
	.write = bridge_write,
	.release = bridge_release,
	.truncate = bridge_truncate,
	.ioctl = bridge_ioctl,
	.readlink = bridge_readlink,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s <mountpoint> <socket> [fuse options...]\n", argv[0]);
		return 2;
	}
	socket_path = argv[2];
	struct sigaction interrupt = { .sa_handler = on_interrupt_signal }; /* no SA_RESTART: recv() returns EINTR */
	sigemptyset(&interrupt.sa_mask);
	sigaction(SIGUSR1, &interrupt, NULL);
	if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "fuse-bridge: socket path too long: %s\n", socket_path);
		return 2;
	}
	/* fuse_main(argv0, mountpoint, -f, the caller's options...) */
	char **args = calloc((size_t)argc + 2, sizeof(char *));
	int n = 0;
	args[n++] = argv[0];
	args[n++] = argv[1];
	args[n++] = "-f";
	for (int i = 3; i < argc; i++)
		args[n++] = argv[i];
	return fuse_main(n, args, &operations, NULL);
}
