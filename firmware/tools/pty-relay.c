/*
 * pty-relay: owns a pseudo-terminal and relays it to stdin/stdout, byte for byte.
 *
 * The MicroPython board double's USB CDC port: the farm opens the slave (/dev/pts/N) with
 * serialport as it opens a board's /dev/ttyACM0; the double's process talks to the master
 * through this tool's stdin and stdout (Node has no pty API without a native module).
 *
 * Prints "pty <slave path>\n" on stderr once the pty exists. The slave is kept open here too,
 * in raw mode, so the master never sees a hangup between two openers (the farm reopening the
 * port after a reset). Exits when stdin closes (the double went away), on SIGTERM / SIGHUP, or
 * when its parent dies (PR_SET_PDEATHSIG): the pty disappears with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, ssize_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, (size_t)len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {fd, POLLOUT, 0};
        poll(&p, 1, 100);
        continue;
      }
      return -1;
    }
    buf += n;
    len -= n;
  }
  return 0;
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;
  signal(SIGPIPE, SIG_IGN);
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
    perror("pty-relay: posix_openpt");
    return 1;
  }
  const char *slave_path = ptsname(master);
  if (!slave_path) {
    perror("pty-relay: ptsname");
    return 1;
  }
  int slave = open(slave_path, O_RDWR | O_NOCTTY);
  if (slave < 0) {
    perror("pty-relay: open slave");
    return 1;
  }
  struct termios tio;
  if (tcgetattr(slave, &tio) == 0) {
    cfmakeraw(&tio);
    tcsetattr(slave, TCSANOW, &tio);
  }
  fprintf(stderr, "pty %s\n", slave_path);
  fflush(stderr);

  char buf[4096];
  struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {master, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0) return 0; /* the double closed its end: the chip is gone */
      if (write_all(master, buf, n) < 0) return 1;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EIO)) {
        if (errno == EIO) usleep(1000); /* no opener besides us: cannot happen while we hold the slave */
        continue;
      }
      if (n <= 0) return 1;
      if (write_all(STDOUT_FILENO, buf, n) < 0) return 0;
    }
  }
}
