/*
 * hostile-remote: a linux-process remote (open-amp's Linux generic machine, process 0) that
 * breaks the protocol on purpose, one way per --mode, so that the farm's verdict on broken
 * firmware can be tested (issue 14). Self-contained on purpose: the reference firmware's core
 * checks everything and cannot be made to misbehave byte by byte.
 *
 *   hostile-remote --mode MODE [--shm NAME] [--socket PATH] [--pid-file PATH]
 *
 * Modes (the echo channel is rpmsg-openamp-demo-channel at 0x400 unless said otherwise):
 *   echo            a correct echo remote (the baseline)
 *   header-len      first reply's RPMsg header says len 0xFFFF
 *   used-len        first reply's used.len is 4096, past its 512-byte buffer
 *   short-header    first reply's used.len is 8, shorter than the 16-byte header
 *   used-id         first reply's used.ring id is 9999 (>= num)
 *   used-idx-jump   first reply moves used.idx by 1000
 *   overlap-vrings  vring 1 overlaps vring 0 in the resource table
 *   overlap-pool    vring 1 lies on the host's buffer pool (0x10000)
 *   overlap-table   vring 0 overlaps the resource table
 *   status-rewrite  after announcing, writes 0 to the virtio status byte, then echoes
 *   vring-rewrite   after announcing, writes 1 to num_of_vrings, then echoes
 *   exit-mid-echo   echoes 10 messages, then exit(0)
 *   close-socket    announces, then closes its event socket and stays alive (silent)
 *   last-words      on the first message: 3 replies and NS DESTROY, then exit(0) at once
 *   ns-flood        200,000 NS announcements with garbage names (never the echo channel)
 *   ns-escape       terminal escapes in its NS name, console and trace; echoes once, exit(3)
 *   ns-any          announces the echo channel at 0xFFFFFFFF (ADDR_ANY)
 *   ns-nsaddr       announces the echo channel at 0x35 (the name service itself)
 *   setsid-child    forks a child that calls setsid() and sleeps (pid in --pid-file), echoes
 *   silent          announces, then never answers
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/fw.h"

#define SHM_SIZE 0x80000u
#define VRING0 0x4000u
#define VRING1 0x8000u
#define POOL 0x10000u
#define TRACE 0x50000u
#define ECHO_ADDR 0x400u

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; } __attribute__((packed));
struct used_elem { uint32_t id, len; } __attribute__((packed));
struct ring {
  volatile struct desc *desc;
  volatile uint16_t *avail; /* flags, idx, ring[] */
  volatile uint16_t *used;  /* flags, idx */
  volatile struct used_elem *used_ring;
  uint32_t num;
  uint16_t last_avail, used_idx;
};

static uint8_t *shm;
static int sock = -1;
static volatile struct fw_resource_table *table;
static struct ring tx; /* vring 0: remote -> host */
static struct ring rx; /* vring 1: host -> remote */
static const char *mode = "echo";

static void die(const char *what) {
  fprintf(stderr, "hostile: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void sleep_ms(int ms) {
  struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&t, NULL);
}

static void trace(const char *text) {
  static size_t pos;
  size_t n = strlen(text);
  if (pos + n >= FW_TRACE_SIZE - FW_CRASH_RECORD_SIZE) return;
  memcpy(shm + TRACE + pos, text, n);
  pos += n;
}

static void kick(void) {
  char b = 0;
  if (sock >= 0) (void)!write(sock, &b, 1);
}

/* Reads kicks off the socket (waits up to `ms`); -1 when the host is gone. */
static int wait_kick(int ms) {
  if (sock < 0) { sleep_ms(ms); return 0; }
  struct pollfd p = { .fd = sock, .events = POLLIN };
  if (poll(&p, 1, ms) <= 0) return 0;
  char buf[256];
  ssize_t n = read(sock, buf, sizeof buf);
  if (n == 0) return -1;
  return 0;
}

static void ring_map(struct ring *r, uint32_t da, uint32_t num, uint32_t align) {
  uint32_t used_off = (16 * num + 2 * (3 + num) + align - 1) & ~(align - 1);
  uint8_t *base = shm + da;
  r->desc = (volatile struct desc *)(void *)base;
  r->avail = (volatile uint16_t *)(void *)(base + 16 * num);
  r->used = (volatile uint16_t *)(void *)(base + used_off);
  r->used_ring = (volatile struct used_elem *)(void *)(base + used_off + 4);
  r->num = num;
  r->last_avail = r->used_idx = r->used[1];
}

/* Next avail entry's buffer (bounds-checked against the shm), or NULL within `ms`. */
static uint8_t *take_avail(struct ring *r, uint16_t *head, uint32_t *len, int ms) {
  for (int waited = 0;; waited++) {
    uint16_t idx = r->avail[1];
    __sync_synchronize();
    if (idx != r->last_avail) {
      uint16_t h = r->avail[2 + (r->last_avail % r->num)];
      r->last_avail++;
      if (h >= r->num) continue;
      uint64_t addr = r->desc[h].addr;
      uint32_t l = r->desc[h].len;
      if (addr >= SHM_SIZE || l > SHM_SIZE - addr) continue;
      *head = h;
      *len = l;
      return shm + addr;
    }
    if (waited >= ms) return NULL;
    if (wait_kick(1) < 0 && ms > 0) sleep_ms(1);
  }
}

static void put_used(struct ring *r, uint32_t id, uint32_t len) {
  r->used_ring[r->used_idx % r->num].id = id;
  r->used_ring[r->used_idx % r->num].len = len;
  __sync_synchronize();
  r->used_idx++;
  r->used[1] = r->used_idx;
  __sync_synchronize();
}

/* What a reply breaks. */
enum breakage { NONE, HDR_LEN, USED_LEN, SHORT_HDR, USED_ID, IDX_JUMP };

static int send_msg(uint32_t src, uint32_t dst, const void *data, uint32_t len, enum breakage how, int wait_ms) {
  uint16_t head;
  uint32_t room;
  uint8_t *buf = take_avail(&tx, &head, &room, wait_ms);
  if (!buf) return -1;
  if (len > room - RPMSG_HDR_SIZE) len = room - RPMSG_HDR_SIZE;
  uint16_t hdr_len = how == HDR_LEN ? 0xFFFF : (uint16_t)len;
  memcpy(buf, &src, 4);
  memcpy(buf + 4, &dst, 4);
  memset(buf + 8, 0, 4);
  memcpy(buf + 12, &hdr_len, 2);
  memset(buf + 14, 0, 2);
  memcpy(buf + RPMSG_HDR_SIZE, data, len);
  uint32_t used_len = RPMSG_HDR_SIZE + len;
  if (how == USED_LEN) used_len = 4096;
  if (how == SHORT_HDR) used_len = 8;
  put_used(&tx, how == USED_ID ? 9999u : head, used_len);
  if (how == IDX_JUMP) {
    tx.used_idx += 1000;
    tx.used[1] = tx.used_idx;
    __sync_synchronize();
  }
  kick();
  return 0;
}

static void announce(const char *name, uint32_t addr, uint32_t flags, int wait_ms) {
  uint8_t ns[RPMSG_NS_SIZE];
  memset(ns, 0, sizeof ns);
  memcpy(ns, name, strnlen(name, RPMSG_NAME_SIZE));
  memcpy(ns + 32, &addr, 4);
  memcpy(ns + 36, &flags, 4);
  send_msg(addr, RPMSG_NS_ADDR, ns, sizeof ns, NONE, wait_ms);
}

/* One message from the host: 1 and its payload, 0 when none within `ms`. */
static int recv_msg(uint8_t *data, uint32_t *len, uint32_t *src, int ms) {
  uint16_t head;
  uint32_t room;
  uint8_t *buf = take_avail(&rx, &head, &room, ms);
  if (!buf) return 0;
  uint16_t l = 0;
  if (room >= RPMSG_HDR_SIZE) {
    memcpy(src, buf, 4);
    memcpy(&l, buf + 12, 2);
    if (l > room - RPMSG_HDR_SIZE) l = (uint16_t)(room - RPMSG_HDR_SIZE);
    memcpy(data, buf + RPMSG_HDR_SIZE, l);
  }
  *len = l;
  put_used(&rx, head, 0);
  kick();
  return 1;
}

static void write_table(uint32_t vring0, uint32_t vring1) {
  table = (volatile struct fw_resource_table *)(void *)shm;
  memset((void *)table, 0, sizeof *table);
  table->ver = 1;
  table->num = 2;
  table->offset[0] = offsetof(struct fw_resource_table, vdev);
  table->offset[1] = offsetof(struct fw_resource_table, trace);
  table->vdev.type = RSC_VDEV;
  table->vdev.id = VIRTIO_ID_RPMSG;
  table->vdev.dfeatures = VIRTIO_RPMSG_F_NS;
  table->vdev.num_of_vrings = 2;
  table->vdev.vring[0].da = vring0;
  table->vdev.vring[0].align = FW_VRING_ALIGN;
  table->vdev.vring[0].num = FW_VRING_NUM;
  table->vdev.vring[0].notifyid = 1;
  table->vdev.vring[1].da = vring1;
  table->vdev.vring[1].align = FW_VRING_ALIGN;
  table->vdev.vring[1].num = FW_VRING_NUM;
  table->vdev.vring[1].notifyid = 2;
  table->trace.type = RSC_TRACE;
  table->trace.da = TRACE;
  table->trace.len = FW_TRACE_SIZE;
  memcpy((void *)table->trace.name, "hostile_trace", 14);
}

/* Sleeps until killed (the farm ends us). */
static void linger(void) {
  for (;;) pause();
}

static void setsid_child(const char *pid_file) {
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    setsid(); /* out of the remote's process group and session */
    pid_t grandchild = fork(); /* and reparented away from the remote */
    if (grandchild != 0) _exit(0);
    if (pid_file) {
      char tmp[4096];
      snprintf(tmp, sizeof tmp, "%s.tmp", pid_file);
      FILE *f = fopen(tmp, "w");
      if (f) { fprintf(f, "%d\n", (int)getpid()); fclose(f); rename(tmp, pid_file); }
    }
    for (int i = 0; i < 3600; i++) sleep(1);
    _exit(0);
  }
  /* The intermediate child exits at once; its pid file is written by the grandchild. */
  (void)waitpid(child, NULL, 0);
  struct stat st;
  for (int i = 0; pid_file && i < 1000 && !(stat(pid_file, &st) == 0 && st.st_size > 0); i++) sleep_ms(1);
}

int main(int argc, char **argv) {
  const char *shm_name = "openamp.shm";
  const char *sock_path = "/tmp/openamp.event.0";
  const char *pid_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--shm") && i + 1 < argc) shm_name = argv[++i];
    else if (!strcmp(argv[i], "--socket") && i + 1 < argc) sock_path = argv[++i];
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
    else if (!strcmp(argv[i], "--pid-file") && i + 1 < argc) pid_file = argv[++i];
    else { fprintf(stderr, "usage: %s --mode MODE [--shm NAME] [--socket PATH] [--pid-file PATH]\n", argv[0]); return 2; }
  }
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);

  int fd = shm_open(shm_name, O_RDWR | O_CREAT, 0600);
  if (fd < 0) die("shm_open");
  if (ftruncate(fd, SHM_SIZE) < 0) die("ftruncate");
  shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shm == MAP_FAILED) die("mmap");
  close(fd);
  memset(shm + TRACE, 0, FW_TRACE_SIZE);

  uint32_t v0 = VRING0, v1 = VRING1;
  if (!strcmp(mode, "overlap-vrings")) v1 = VRING0 + 0x1000;
  else if (!strcmp(mode, "overlap-pool")) v1 = POOL;
  else if (!strcmp(mode, "overlap-table")) v0 = 0x2000;
  write_table(v0, v1);
  trace("hostile: mode ");
  trace(mode);
  trace("\n");

  if (!strcmp(mode, "setsid-child")) setsid_child(pid_file);

  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  if (srv < 0) die("socket");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(sock_path) >= sizeof addr.sun_path) { fprintf(stderr, "hostile: socket path too long\n"); return 2; }
  strcpy(addr.sun_path, sock_path);
  unlink(sock_path);
  if (bind(srv, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(srv, 1) < 0) die("listen");
  printf("hostile: mode %s, waiting for the host on %s\n", mode, sock_path);
  sock = accept(srv, NULL, NULL);
  if (sock < 0) die("accept");
  close(srv);
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);

  /* DRIVER_OK, bounded: a host that never sets it gets nothing. */
  for (int i = 0; !(table->vdev.status & VIRTIO_STATUS_DRIVER_OK); i++) {
    if (i > 10000) { fprintf(stderr, "hostile: no DRIVER_OK within 10 s\n"); return 4; }
    if (wait_kick(1) < 0) return 0;
  }
  if (strncmp(mode, "overlap-", 8) == 0) {
    /* The host should have refused the layout; if it did not, behave as an echo remote. */
    fprintf(stderr, "hostile: the host accepted an overlapping layout\n");
  }
  ring_map(&tx, table->vdev.vring[0].da, FW_VRING_NUM, FW_VRING_ALIGN);
  ring_map(&rx, table->vdev.vring[1].da, FW_VRING_NUM, FW_VRING_ALIGN);

  if (!strcmp(mode, "ns-flood")) {
    uint32_t seed = 12345;
    for (uint32_t i = 0; i < 200000; i++) {
      char name[RPMSG_NAME_SIZE];
      for (uint32_t k = 0; k < RPMSG_NAME_SIZE - 1; k++) {
        seed = seed * 1103515245u + 12345u;
        name[k] = (char)(1 + (seed >> 16) % 255); /* never NUL: garbage up to 31 bytes */
      }
      name[RPMSG_NAME_SIZE - 1] = 0;
      /* Blocks (bounded) while the host returns no buffer: the host stops reading once it refuses the flood. */
      announce(name, ECHO_ADDR + i, RPMSG_NS_CREATE, 2000);
      if (i % 256 == 255) wait_kick(0);
    }
    linger();
  }

  uint32_t echo_addr = ECHO_ADDR;
  if (!strcmp(mode, "ns-any")) echo_addr = RPMSG_ADDR_ANY;
  if (!strcmp(mode, "ns-nsaddr")) echo_addr = RPMSG_NS_ADDR;
  if (!strcmp(mode, "ns-escape")) {
    const char *evil = "\x1b]0;PWNED\x07\x1b[2J\x9b" "31m";
    printf("hostile console: %s\n", evil);
    fprintf(stderr, "hostile stderr: %s\n", evil);
    trace("hostile trace: ");
    trace(evil);
    trace("\n");
    announce(evil, 0x500, RPMSG_NS_CREATE, 2000);
  }
  /* Rewrites of what only the host may write, once it has attached (DRIVER_OK seen). */
  if (!strcmp(mode, "status-rewrite")) table->vdev.status = 0;
  if (!strcmp(mode, "vring-rewrite")) table->vdev.num_of_vrings = 1;
  announce(FW_DEMO_CHANNEL, echo_addr, RPMSG_NS_CREATE, 2000);

  if (!strcmp(mode, "close-socket")) {
    close(sock);
    sock = -1;
    linger();
  }

  static uint8_t data[RPMSG_BUF_SIZE];
  uint32_t count = 0;
  for (;;) {
    uint32_t len = 0, src = 0;
    if (!recv_msg(data, &len, &src, 1000)) continue;
    count++;
    if (!strcmp(mode, "silent")) continue;
    if (!strcmp(mode, "last-words")) {
      for (int i = 0; i < 3; i++) send_msg(echo_addr, src, data, len, NONE, 1000);
      announce(FW_DEMO_CHANNEL, echo_addr, RPMSG_NS_DESTROY, 1000);
      exit(0);
    }
    enum breakage how = NONE;
    if (count == 1) {
      if (!strcmp(mode, "header-len")) how = HDR_LEN;
      else if (!strcmp(mode, "used-len")) how = USED_LEN;
      else if (!strcmp(mode, "short-header")) how = SHORT_HDR;
      else if (!strcmp(mode, "used-id")) how = USED_ID;
      else if (!strcmp(mode, "used-idx-jump")) how = IDX_JUMP;
    }
    send_msg(echo_addr, src, data, len, how, 5000);
    if (!strcmp(mode, "exit-mid-echo") && count == 10) exit(0);
    if (!strcmp(mode, "ns-escape")) exit(3);
  }
}
