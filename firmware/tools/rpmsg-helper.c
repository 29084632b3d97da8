/*
 * rpmsg-helper: the farm's hands on a Linux remoteproc board. It creates RPMsg endpoints with
 * the kernel's rpmsg_char ioctls on /dev/rpmsg_ctrlN and relays messages between the
 * resulting /dev/rpmsgM (or an rpmsg-tty /dev/ttyRPMSGn in raw mode) and its stdin/stdout,
 * which the farm reaches over one SSH channel.
 *
 *   rpmsg-helper /dev/rpmsg_ctrl0
 *
 * Frames both ways: u8 op, u8 zero, u16 length (LE), u32 handle (LE), then `length` bytes.
 * Requests (farm -> helper), each answered in order by exactly one OK or ERROR:
 *   OPEN_EPT  payload struct rpmsg_endpoint_info: RPMSG_CREATE_EPT_IOCTL, then open the new
 *             /dev/rpmsgM (OK payload: its path)
 *   OPEN_TTY  payload a path: open, cfmakeraw (OK payload: the path)
 *   SEND      payload the message: one write() = one RPMsg message
 *   CLOSE     RPMSG_DESTROY_EPT_IOCTL (endpoints) and close
 *   CREATE_DEV / RELEASE_DEV  payload struct rpmsg_endpoint_info: the ioctls of kernels >= 5.18
 * The first frame is OK on handle 0, payload "pid=<pid> ctrl=<device>": the helper is ready.
 * Events (helper -> farm): MESSAGE (one read() of the device) and GONE (the device ended: the
 * endpoint was destroyed or the remote went away; payload the reason). EOF on stdin = the farm
 * went away: every endpoint is destroyed and the helper exits.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* include/uapi/linux/rpmsg.h (spelled out: older board kernels' headers lack the newer ones). */
struct rpmsg_endpoint_info {
	char name[32];
	uint32_t src;
	uint32_t dst;
};
#define RPMSG_CREATE_EPT_IOCTL _IOW(0xb5, 0x1, struct rpmsg_endpoint_info)
#define RPMSG_DESTROY_EPT_IOCTL _IO(0xb5, 0x2)
#define RPMSG_CREATE_DEV_IOCTL _IOW(0xb5, 0x3, struct rpmsg_endpoint_info)
#define RPMSG_RELEASE_DEV_IOCTL _IOW(0xb5, 0x4, struct rpmsg_endpoint_info)

enum {
	OP_OPEN_EPT = 1, OP_OPEN_TTY = 2, OP_SEND = 3, OP_CLOSE = 4, OP_CREATE_DEV = 5, OP_RELEASE_DEV = 6,
	OP_OK = 0x80, OP_ERROR = 0x81, OP_MESSAGE = 0x82, OP_GONE = 0x83,
};

#define MAX_PAYLOAD 4096
#define MAX_HANDLES 256
#define MAX_DEVS 1024

struct handle {
	int used;
	/* pread/pwrite at offset 0, or plain read/write once they gave ESPIPE (see io_read). */
	volatile int plain_io;
	int fd;
	int is_ept;
	volatile int closing;
	pthread_t reader;
	char path[64];
};

static struct handle handles[MAX_HANDLES];
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *ctrl_path;
static int ctrl_fd = -1;

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void emit(uint8_t op, uint32_t handle, const void *payload, size_t len)
{
	uint8_t frame[8 + MAX_PAYLOAD];
	if (len > MAX_PAYLOAD)
		len = MAX_PAYLOAD;
	frame[0] = op;
	frame[1] = 0;
	frame[2] = (uint8_t)(len & 0xff);
	frame[3] = (uint8_t)(len >> 8);
	frame[4] = (uint8_t)(handle & 0xff);
	frame[5] = (uint8_t)(handle >> 8);
	frame[6] = (uint8_t)(handle >> 16);
	frame[7] = (uint8_t)(handle >> 24);
	if (len)
		memcpy(frame + 8, payload, len);
	pthread_mutex_lock(&out_lock);
	if (write_all(STDOUT_FILENO, frame, 8 + len) < 0)
		_exit(0); /* the farm is gone */
	pthread_mutex_unlock(&out_lock);
}

static void reply_error(uint32_t handle, const char *what, int err)
{
	char text[256];
	int n = snprintf(text, sizeof(text), "%s: %s (errno %d)", what, strerror(err), err);
	emit(OP_ERROR, handle, text, n > 0 ? (size_t)n : 0);
}

/*
 * One message per call. pread/pwrite take no file-position lock, so the reader thread blocked in
 * a read never holds up a write on the same descriptor, whatever backs the node (rpmsg_char
 * ignores the offset; a node that is a regular file to the VFS, such as the board double's FUSE
 * file, would otherwise serialise them). Nodes that refuse offsets (ESPIPE: ttys) use read/write.
 */
static ssize_t io_read(struct handle *h, void *buf, size_t len)
{
	if (!h->plain_io) {
		ssize_t n = pread(h->fd, buf, len, 0);
		if (!(n < 0 && errno == ESPIPE))
			return n;
		h->plain_io = 1;
	}
	return read(h->fd, buf, len);
}

static ssize_t io_write(struct handle *h, const void *buf, size_t len)
{
	if (!h->plain_io) {
		ssize_t n = pwrite(h->fd, buf, len, 0);
		if (!(n < 0 && errno == ESPIPE))
			return n;
		h->plain_io = 1;
	}
	return write(h->fd, buf, len);
}

/*
 * A tty's reader ends by pthread_cancel (close_handle), so it may be cancelled only while it waits
 * in read(). write() in emit() is a cancellation point too: cancelled there, a reader would leave
 * out_lock held and half a frame written, and every later reply (the close's own OK first) would
 * block for ever. A cancel that comes while it emits waits for the next read.
 */
static void *reader_main(void *arg)
{
	struct handle *h = arg;
	uint32_t id = (uint32_t)(h - handles);
	uint8_t buf[MAX_PAYLOAD];
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	for (;;) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		ssize_t n = io_read(h, buf, sizeof(buf));
		int read_errno = errno;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		errno = read_errno;
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			emit(OP_MESSAGE, id, buf, (size_t)n);
			continue;
		}
		if (!h->closing) {
			char text[160];
			int len = snprintf(text, sizeof(text), "%s: %s", h->path, n == 0 ? "end of file" : strerror(errno));
			emit(OP_GONE, id, text, len > 0 ? (size_t)len : 0);
		}
		return NULL;
	}
}

/* The /dev/rpmsgM nodes that exist now, as a bitmap of M. */
static void list_rpmsg_devs(uint8_t *seen)
{
	memset(seen, 0, MAX_DEVS);
	DIR *dir = opendir("/dev");
	if (!dir)
		return;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		char *end;
		if (strncmp(entry->d_name, "rpmsg", 5) != 0 || entry->d_name[5] < '0' || entry->d_name[5] > '9')
			continue;
		long n = strtol(entry->d_name + 5, &end, 10);
		if (*end == '\0' && n >= 0 && n < MAX_DEVS)
			seen[n] = 1;
	}
	closedir(dir);
}

static int start_reader(struct handle *h, uint32_t id)
{
	h->closing = 0;
	if (pthread_create(&h->reader, NULL, reader_main, h) != 0) {
		reply_error(id, "pthread_create", errno);
		return -1;
	}
	return 0;
}

static void open_ept(uint32_t id, const uint8_t *payload, size_t len)
{
	struct rpmsg_endpoint_info info;
	uint8_t before[MAX_DEVS], after[MAX_DEVS];
	if (len != sizeof(info)) {
		reply_error(id, "OPEN_EPT payload", EINVAL);
		return;
	}
	memcpy(&info, payload, sizeof(info));
	info.name[sizeof(info.name) - 1] = '\0';
	list_rpmsg_devs(before);
	if (ioctl(ctrl_fd, RPMSG_CREATE_EPT_IOCTL, &info) < 0) {
		reply_error(id, "RPMSG_CREATE_EPT_IOCTL", errno);
		return;
	}
	/* The kernel adds /dev/rpmsgM as the ioctl returns; give devtmpfs / udev a second. */
	int found = -1;
	for (int tries = 0; tries < 200 && found < 0; tries++) {
		list_rpmsg_devs(after);
		for (int i = 0; i < MAX_DEVS; i++)
			if (after[i] && !before[i]) {
				found = i;
				break;
			}
		if (found < 0) {
			struct timespec pause = { 0, 5 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
	}
	if (found < 0) {
		reply_error(id, "no new /dev/rpmsgN after RPMSG_CREATE_EPT_IOCTL", ENODEV);
		return;
	}
	struct handle *h = &handles[id];
	snprintf(h->path, sizeof(h->path), "/dev/rpmsg%d", found);
	h->fd = open(h->path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		reply_error(id, h->path, errno);
		return;
	}
	h->is_ept = 1;
	h->plain_io = 0;
	h->used = 1;
	if (start_reader(h, id) < 0) {
		ioctl(h->fd, RPMSG_DESTROY_EPT_IOCTL);
		close(h->fd);
		h->used = 0;
		return;
	}
	emit(OP_OK, id, h->path, strlen(h->path));
}

static void open_tty(uint32_t id, const uint8_t *payload, size_t len)
{
	struct handle *h = &handles[id];
	struct termios raw;
	if (len == 0 || len >= sizeof(h->path)) {
		reply_error(id, "OPEN_TTY payload", EINVAL);
		return;
	}
	memcpy(h->path, payload, len);
	h->path[len] = '\0';
	h->fd = open(h->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (h->fd < 0) {
		reply_error(id, h->path, errno);
		return;
	}
	/* Raw: no echo, no line discipline, no CR/LF translation; binary in = binary out. */
	if (tcgetattr(h->fd, &raw) < 0) {
		reply_error(id, "tcgetattr", errno);
		close(h->fd);
		return;
	}
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(h->fd, TCSANOW, &raw) < 0) {
		reply_error(id, "tcsetattr", errno);
		close(h->fd);
		return;
	}
	h->is_ept = 0;
	h->plain_io = 1;
	h->used = 1;
	if (start_reader(h, id) < 0) {
		close(h->fd);
		h->used = 0;
		return;
	}
	emit(OP_OK, id, h->path, strlen(h->path));
}

static void close_handle(uint32_t id)
{
	struct handle *h = &handles[id];
	h->closing = 1;
	/* Destroying the endpoint ends a blocked read() (EPIPE); a tty's reader is cancelled. */
	if (h->is_ept)
		ioctl(h->fd, RPMSG_DESTROY_EPT_IOCTL);
	else
		pthread_cancel(h->reader);
	pthread_join(h->reader, NULL);
	close(h->fd);
	h->used = 0;
}

static void dev_ioctl(uint32_t id, unsigned long request, const char *what, const uint8_t *payload, size_t len)
{
	struct rpmsg_endpoint_info info;
	if (len != sizeof(info)) {
		reply_error(id, what, EINVAL);
		return;
	}
	memcpy(&info, payload, sizeof(info));
	info.name[sizeof(info.name) - 1] = '\0';
	if (ioctl(ctrl_fd, request, &info) < 0) {
		reply_error(id, what, errno);
		return;
	}
	emit(OP_OK, id, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s /dev/rpmsg_ctrlN\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctrl_path = argv[1];
	ctrl_fd = open(ctrl_path, O_RDWR | O_CLOEXEC);
	if (ctrl_fd < 0) {
		fprintf(stderr, "rpmsg-helper: %s: %s\n", ctrl_path, strerror(errno));
		return 1;
	}
	/* Ready: the farm waits for this before its first request. Our pid, so that the farm (and
	 * its tests) can name this very process on the board, never "every helper". */
	char ready[128];
	int ready_len = snprintf(ready, sizeof(ready), "pid=%ld ctrl=%s", (long)getpid(), ctrl_path);
	emit(OP_OK, 0, ready, ready_len > 0 ? (size_t)ready_len : 0);
	for (;;) {
		uint8_t header[8];
		static uint8_t payload[MAX_PAYLOAD];
		if (read_all(STDIN_FILENO, header, sizeof(header)) < 0)
			break;
		size_t len = (size_t)header[2] | ((size_t)header[3] << 8);
		uint32_t id = (uint32_t)header[4] | ((uint32_t)header[5] << 8) | ((uint32_t)header[6] << 16) | ((uint32_t)header[7] << 24);
		if (len > MAX_PAYLOAD || read_all(STDIN_FILENO, payload, len) < 0)
			break;
		if (id >= MAX_HANDLES) {
			reply_error(id, "handle", ERANGE);
			continue;
		}
		struct handle *h = &handles[id];
		switch (header[0]) {
		case OP_OPEN_EPT:
		case OP_OPEN_TTY:
			if (h->used)
				reply_error(id, "handle in use", EBUSY);
			else if (header[0] == OP_OPEN_EPT)
				open_ept(id, payload, len);
			else
				open_tty(id, payload, len);
			break;
		case OP_SEND:
			if (!h->used) {
				reply_error(id, "SEND on a closed handle", EBADF);
			} else {
				ssize_t n = io_write(h, payload, len);
				if (n < 0)
					reply_error(id, h->path, errno);
				else if ((size_t)n != len)
					reply_error(id, "short write", EMSGSIZE);
				else
					emit(OP_OK, id, NULL, 0);
			}
			break;
		case OP_CLOSE:
			if (!h->used) {
				reply_error(id, "CLOSE of a closed handle", EBADF);
			} else {
				close_handle(id);
				emit(OP_OK, id, NULL, 0);
			}
			break;
		case OP_CREATE_DEV:
			dev_ioctl(id, RPMSG_CREATE_DEV_IOCTL, "RPMSG_CREATE_DEV_IOCTL", payload, len);
			break;
		case OP_RELEASE_DEV:
			dev_ioctl(id, RPMSG_RELEASE_DEV_IOCTL, "RPMSG_RELEASE_DEV_IOCTL", payload, len);
			break;
		default:
			reply_error(id, "unknown request", EINVAL);
		}
	}
	/* The farm went away: leave no endpoint behind. */
	for (uint32_t id = 0; id < MAX_HANDLES; id++)
		if (handles[id].used)
			close_handle(id);
	return 0;
}
