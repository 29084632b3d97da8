/*
 * console-double: the serial console of the board double. It creates a pseudo-terminal, prints
 * the slave's path (the "UART" the farm opens with serialport, as QEMU's -serial pty does), and
 * behind the master runs a login program (argv[1..], e.g. a getty-like script that asks
 * "login:" and "Password:" and then runs a shell), relaying bytes between the master and the
 * program's stdin/stdout. It exits when the program does (the slave then reads EOF) or on
 * SIGTERM; the program is killed with it.
 *
 *   console-double [--hold-until-raw] /bin/sh login.sh
 *
 * --hold-until-raw: the program's output waits until the terminal is in raw mode (no ICANON, no
 * ECHO), as the board double's /dev/ttyRPMSGn: a message the remote sends before the farm has
 * opened the tty and made it raw (the "bound" on a tty the host just created) is kept for the
 * reader, not echoed back to the remote by a cooked line discipline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, ssize_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, (size_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

static int is_raw(int master)
{
	struct termios t;
	return tcgetattr(master, &t) == 0 && !(t.c_lflag & (ICANON | ECHO));
}

int main(int argc, char **argv)
{
	int hold_until_raw = 0;
	if (argc >= 2 && strcmp(argv[1], "--hold-until-raw") == 0) {
		hold_until_raw = 1;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s [--hold-until-raw] PROGRAM [ARGS...]\n", argv[0]);
		return 2;
	}
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		perror("console-double: posix_openpt");
		return 1;
	}
	int to_child[2], from_child[2];
	if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
		perror("console-double: pipe");
		return 1;
	}
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		dup2(from_child[1], 2);
		execvp(argv[1], argv + 1);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	printf("%s\n", ptsname(master));
	fflush(stdout);
	signal(SIGPIPE, SIG_IGN);
	struct pollfd fds[2] = { { master, POLLIN, 0 }, { from_child[0], POLLIN, 0 } };
	char buf[4096];
	for (;;) {
		/* Holding: the program's output stays in its pipe; look at the terminal's mode again soon. */
		int hold = hold_until_raw && !is_raw(master);
		fds[1].events = hold ? 0 : POLLIN;
		if (poll(fds, 2, hold ? 10 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* POLLHUP on the master: nobody has the slave open (yet): wait, do not spin. */
		if (fds[0].revents & POLLHUP) {
			usleep(20000);
		} else if (fds[0].revents & POLLIN) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0 && write_all(to_child[1], buf, n) < 0)
				break;
		}
		if (!hold && (fds[1].revents & (POLLIN | POLLHUP))) {
			ssize_t n = read(from_child[0], buf, sizeof(buf));
			if (n <= 0)
				break; /* the program ended */
			write_all(master, buf, n);
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
