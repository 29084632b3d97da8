/*
 * open-amp's Linux generic machine, remote side (process 0): POSIX shm "openamp.shm" of
 * 0x80000 bytes (addresses are offsets into it), resource table at 0, vrings at 0x4000 and
 * 0x8000, the host's buffer pool at 0x10000, a one-byte kick over the AF_UNIX stream socket
 * /tmp/openamp.event.0 of which we are the server. Both names can be overridden
 * (--shm NAME, --socket PATH) so parallel runs don't collide.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../core/fw.h"

#define SHM_SIZE 0x80000u
#define RSC_OFFSET 0x0u
#define VRING0_OFFSET 0x4000u
#define VRING1_OFFSET 0x8000u
#define TRACE_OFFSET 0x50000u

static uint8_t *shm;
static int sock = -1;

void plat_init(void) {}

void plat_putc(char c) {
  if (c == '\r') return;
  (void)!write(1, &c, 1);
}

volatile struct fw_resource_table *plat_rsc(void) { return (volatile struct fw_resource_table *)(void *)(shm + RSC_OFFSET); }
char *plat_trace(void) { return shm ? (char *)(shm + TRACE_OFFSET) : NULL; }

void *plat_phys(uint64_t pa, uint32_t len) { return fw_window(pa, len, 0, SHM_SIZE, shm); }

void plat_kick(void) {
  char b = 0;
  (void)!write(sock, &b, 1);
}

int plat_wait(int busy) {
  if (busy) return 0;
  struct pollfd p = { .fd = sock, .events = POLLIN };
  /* Status changes are not kicked (the host polls nothing on our behalf): wake every ms. */
  int r = poll(&p, 1, 1);
  if (r <= 0) return 0;
  char buf[64];
  ssize_t n = read(sock, buf, sizeof buf);
  if (n == 0) return -1;
  if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
  return 0;
}

static void on_fault(int sig, siginfo_t *info, void *ctx) {
  (void)ctx;
  fw_crash_record(1, (uint32_t)sig, 0, (uint32_t)(uintptr_t)info->si_addr);
  signal(sig, SIG_DFL);
  raise(sig);
}

void plat_fault(void) {
  volatile int *nowhere = NULL;
  *nowhere = 0;
  for (;;) pause();
}

void plat_hang(void) {
  for (;;) pause();
}

void plat_exit(int code) { exit(code); }

static void die(const char *what) {
  fprintf(stderr, "remote: %s: %s\n", what, strerror(errno));
  exit(2);
}

int main(int argc, char **argv) {
  const char *shm_name = "openamp.shm";
  const char *sock_path = "/tmp/openamp.event.0";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--shm") && i + 1 < argc) shm_name = argv[++i];
    else if (!strcmp(argv[i], "--socket") && i + 1 < argc) sock_path = argv[++i];
    else if (!strcmp(argv[i], "0")) continue; /* open-amp's process id argument */
    else { fprintf(stderr, "usage: %s [0] [--shm NAME] [--socket PATH]\n", argv[0]); return 2; }
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the farm, even when it is SIGKILLed */
  struct rlimit no_core = { 0, 0 };
  setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int fd = shm_open(shm_name, O_RDWR | O_CREAT, 0600);
  if (fd < 0) die("shm_open");
  if (ftruncate(fd, SHM_SIZE) < 0) die("ftruncate");
  shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shm == MAP_FAILED) die("mmap");
  close(fd);
  fw_rsc_init(plat_rsc(), VRING0_OFFSET, VRING1_OFFSET, TRACE_OFFSET);

  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  if (srv < 0) die("socket");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(sock_path) >= sizeof addr.sun_path) { fprintf(stderr, "remote: socket path too long\n"); return 2; }
  strcpy(addr.sun_path, sock_path);
  unlink(sock_path);
  if (bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(srv, 1) < 0) die("listen");
  fw_log("fw: shm /dev/shm/%s, waiting for the host on %s\n", shm_name, sock_path);
  sock = accept(srv, NULL, NULL);
  if (sock < 0) die("accept");
  close(srv);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
  fw_run("linux-process");
}
