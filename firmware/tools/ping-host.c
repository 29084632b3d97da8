/*
 * A C OpenAMP host (virtio driver role) for open-amp's Linux generic machine, as open-amp's
 * `rpmsg-ping` host runs it: the baseline `npm run bench:c-host` puts the TypeScript host next to.
 * It maps the remote's shm, takes the vdev from the resource table at offset 0, fills vring 0
 * with receive buffers from the pool at 0x10000, sets DRIVER_OK, waits for the remote's
 * announcement of the demo channel and times echo round trips, every echo checked byte by byte.
 * Like open-amp's host it busy-polls the rings (one core at 100%), kicking the remote over the
 * event socket after each send.
 *
 *   ping-host --shm NAME --socket PATH [--rounds N] [--warmup N] [--size BYTES | --schedule ping]
 *             [--idle-ms MS] [--timeout-ms MS]
 *
 * --size: every payload that long (17..496); --schedule ping: open-amp's rpmsg-ping schedule,
 * a 16-byte header (number, size) plus 1..480 data bytes, cycling. Prints one JSON line.
 *
 *   ping-host --demo echo|matrix --shm NAME --socket PATH [--rounds N] [--timeout-ms MS]
 *
 * --demo: the board's own demo host instead of the benchmark, as open-amp's rpmsg-ping and
 * matrix_multiply hosts print it (the image of `farm run --config farm.riscv-linux.yaml` runs
 * it inside riscv64 Linux): each echo / product checked, a mismatch counted instead of fatal,
 * then the verdict line "Test Results: Error count = N", then the channel destroyed (NS DESTROY),
 * which ends the reference remote. Exit status 0 when the count is 0.
 * Values read from shared memory are checked before use; every wait has a deadline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SHM_SIZE 0x80000u
#define POOL_OFFSET 0x10000u
#define POOL_SIZE 0x40000u
#define BUF_SIZE 512u
#define HDR_SIZE 16u
#define MAX_PAYLOAD (BUF_SIZE - HDR_SIZE)
#define NS_ADDR 0x35u
#define HOST_ADDR 0x400u
#define RSC_VDEV 3u
#define STATUS_DRIVER_OK 0x07u /* ACKNOWLEDGE | DRIVER | DRIVER_OK */
#define AVAIL_F_NO_INTERRUPT 1u
#define DEMO_CHANNEL "rpmsg-openamp-demo-channel"

struct desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct used_elem { uint32_t id, len; };
struct ring {
  volatile struct desc *desc;
  volatile uint16_t *avail; /* flags, idx, ring[num] */
  volatile uint16_t *used;  /* flags, idx, then used_elem[num] */
  volatile struct used_elem *used_ring;
  uint16_t num, avail_idx, last_used;
};

static uint8_t *shm;
static int sock = -1;
static struct ring rx, tx; /* vring 0: remote -> host; vring 1: host -> remote */
static uint16_t tx_free[256];
static unsigned tx_free_count;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "ping-host: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) / 1e6;
}

static uint32_t le32(const volatile uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* A pointer to [offset, offset + len) of the shm, or NULL when it does not lie inside. */
static volatile uint8_t *in_shm(uint64_t offset, uint32_t len) {
  if (offset > SHM_SIZE || len > SHM_SIZE - offset) return NULL;
  return shm + offset;
}

static void ring_setup(struct ring *r, uint32_t da, uint32_t num, uint32_t align, const char *name) {
  if (num == 0 || num > 256 || (num & (num - 1)) || align < 4 || (align & (align - 1))) fail("%s: bad num %u / align %u", name, num, align);
  uint32_t used_off = (16 * num + 2 * (3 + num) + align - 1) & ~(align - 1);
  volatile uint8_t *base = in_shm(da, used_off + 6 + 8 * num);
  if (!base) fail("%s: ring at 0x%x is outside the shm", name, da);
  r->desc = (volatile struct desc *)(void *)base;
  r->avail = (volatile uint16_t *)(void *)(base + 16 * num);
  r->used = (volatile uint16_t *)(void *)(base + used_off);
  r->used_ring = (volatile struct used_elem *)(void *)(base + used_off + 4);
  r->num = (uint16_t)num;
  r->avail_idx = 0;
  r->last_used = 0;
  r->avail[0] = 0;
  r->avail[1] = 0;
}

static void ring_offer(struct ring *r, uint16_t head) {
  r->avail[2 + (r->avail_idx & (r->num - 1))] = head;
  __sync_synchronize();
  r->avail[1] = ++r->avail_idx;
  __sync_synchronize();
}

/* The next used entry: 1 with head and len, 0 when none. A bad entry is fatal (this is a benchmark). */
static int ring_take(struct ring *r, uint16_t *head, uint32_t *len) {
  uint16_t idx = r->used[1];
  __sync_synchronize();
  if (idx == r->last_used) return 0;
  if ((uint16_t)(idx - r->last_used) > r->num) fail("used.idx jumped from %u to %u", r->last_used, idx);
  volatile struct used_elem *e = &r->used_ring[r->last_used & (r->num - 1)];
  uint32_t id = e->id;
  *len = e->len;
  r->last_used++;
  if (id >= r->num) fail("used id %u out of range (num %u)", id, r->num);
  *head = (uint16_t)id;
  return 1;
}

static void kick(void) {
  char b = 0;
  if (write(sock, &b, 1) < 0 && errno != EAGAIN) fail("kick failed: %s", strerror(errno));
}

static void drain_socket(void) {
  char buf[256];
  while (read(sock, buf, sizeof buf) > 0) {
  }
}

static int send_msg(uint32_t dst, const uint8_t *data, uint32_t len) {
  uint16_t head;
  uint32_t ulen;
  while (ring_take(&tx, &head, &ulen)) tx_free[tx_free_count++] = head;
  if (tx_free_count == 0) return -1;
  head = tx_free[--tx_free_count];
  volatile uint8_t *b = shm + tx.desc[head].addr;
  uint8_t hdr[HDR_SIZE] = {0};
  for (int i = 0; i < 4; i++) {
    hdr[i] = (uint8_t)(HOST_ADDR >> (8 * i));
    hdr[4 + i] = (uint8_t)(dst >> (8 * i));
  }
  hdr[12] = (uint8_t)len;
  hdr[13] = (uint8_t)(len >> 8);
  memcpy((void *)b, hdr, HDR_SIZE);
  memcpy((void *)(b + HDR_SIZE), data, len);
  tx.desc[head].len = HDR_SIZE + len;
  ring_offer(&tx, head);
  kick();
  return 0;
}

/* Polls vring 0 for one message until the deadline; copies its payload out and recycles the buffer. */
static int receive_msg(uint8_t *out, uint32_t *len, uint32_t *src, uint32_t *dst, double deadline_us) {
  for (uint32_t spins = 0;; spins++) {
    uint16_t head;
    uint32_t ulen;
    if (ring_take(&rx, &head, &ulen)) {
      volatile uint8_t *b = shm + rx.desc[head].addr;
      uint32_t l = (uint32_t)b[12] | (uint32_t)b[13] << 8;
      if (ulen < HDR_SIZE || ulen > BUF_SIZE || l > ulen - HDR_SIZE) fail("vring 0: message length %u in a %u-byte used entry", l, ulen);
      *src = le32(b);
      *dst = le32(b + 4);
      memcpy(out, (const void *)(b + HDR_SIZE), l);
      *len = l;
      ring_offer(&rx, head);
      return 0;
    }
    if ((spins & 1023) == 1023) {
      drain_socket();
      if (now_us() > deadline_us) return -1;
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The host's end of the demo channel is gone: NS DESTROY of our endpoint, which ends the remote. */
static void destroy_channel(void) {
  uint8_t ns[40] = {0};
  memcpy(ns, DEMO_CHANNEL, sizeof DEMO_CHANNEL);
  for (int i = 0; i < 4; i++) ns[32 + i] = (uint8_t)(HOST_ADDR >> (8 * i));
  ns[36] = 1; /* RPMSG_NS_DESTROY */
  double deadline = now_us() + 1e6;
  while (send_msg(NS_ADDR, ns, sizeof ns) < 0 && now_us() < deadline) {
  }
}

static void print_verdict(const char *prefix, long errors) {
  printf("%s**************************************\n", prefix);
  printf("%sTest Results: Error count = %ld\n", prefix, errors);
  printf("%s**************************************\n", prefix);
}

/* Waits for the next message to us (not to the name service); fatal after the deadline. */
static void receive_reply(uint8_t *msg, uint32_t *len, const char *what, long n, long timeout_ms) {
  uint32_t src, dst;
  double deadline = now_us() + (double)timeout_ms * 1e3;
  do {
    if (receive_msg(msg, len, &src, &dst, deadline) < 0) fail("%s %ld: no reply within %ld ms", what, n, timeout_ms);
  } while (dst == NS_ADDR);
}

static void send_or_fail(uint32_t remote, const uint8_t *data, uint32_t len, long timeout_ms) {
  double deadline = now_us() + (double)timeout_ms * 1e3;
  while (send_msg(remote, data, len) < 0) {
    if (now_us() > deadline) fail("vring 1: no free buffer within %ld ms", timeout_ms);
  }
}

/* open-amp's rpmsg-ping: payloads of 1..480 data bytes after a {number, size} header, each echo compared. */
static long demo_echo(uint32_t remote, long rounds, long timeout_ms) {
  uint8_t payload[BUF_SIZE], msg[BUF_SIZE];
  uint32_t len;
  long errors = 0;
  for (long i = 0; i < rounds; i++) {
    uint32_t data_len = (uint32_t)(i % (MAX_PAYLOAD - HDR_SIZE)) + 1;
    uint64_t number = (uint64_t)i, data_size = data_len;
    memcpy(payload, &number, 8);
    memcpy(payload + 8, &data_size, 8);
    memset(payload + HDR_SIZE, 0xA5, data_len);
    uint32_t total = HDR_SIZE + data_len;
    printf("sending payload number %ld of size %u\n", i, total);
    send_or_fail(remote, payload, total, timeout_ms);
    receive_reply(msg, &len, "echo", i, timeout_ms);
    printf("received payload number %ld of size %u\n", i, len);
    if (len != total || memcmp(msg, payload, total) != 0) {
      printf("data error at payload number %ld (%u bytes back, %u sent)\n", i, len, total);
      errors++;
    }
  }
  return errors;
}

#define MATRIX_N 6
struct matrix { uint32_t size; uint32_t e[MATRIX_N][MATRIX_N]; };

static void print_matrix(const char *title, const struct matrix *m) {
  printf("CLIENT> %s\n\n", title);
  for (int i = 0; i < MATRIX_N; i++) {
    for (int j = 0; j < MATRIX_N; j++) printf(" %u", m->e[i][j]);
    printf("\n");
  }
}

/* open-amp's matrix_multiply: two random 6x6 matrices out, their product back, every element compared. */
static long demo_matrix(uint32_t remote, long rounds, long timeout_ms) {
  uint8_t msg[BUF_SIZE];
  uint32_t len;
  long errors = 0;
  srand((unsigned)time(NULL));
  for (long r = 0; r < rounds; r++) {
    struct matrix m[2], want;
    for (int k = 0; k < 2; k++) {
      m[k].size = MATRIX_N;
      for (int i = 0; i < MATRIX_N; i++)
        for (int j = 0; j < MATRIX_N; j++) m[k].e[i][j] = (uint32_t)(rand() & 0x7F) % 10;
    }
    memset(&want, 0, sizeof want);
    want.size = MATRIX_N;
    for (int i = 0; i < MATRIX_N; i++)
      for (int j = 0; j < MATRIX_N; j++)
        for (int k = 0; k < MATRIX_N; k++) want.e[i][j] += m[0].e[i][k] * m[1].e[k][j];
    if (r == 0) {
      print_matrix("Input matrix 1", &m[0]);
      print_matrix("Input matrix 2", &m[1]);
    }
    send_or_fail(remote, (const uint8_t *)m, sizeof m, timeout_ms);
    if (r == 0) printf("CLIENT> Matrix multiply: sent : %u\n", (unsigned)sizeof m);
    receive_reply(msg, &len, "matrix", r, timeout_ms);
    if (len != sizeof want || memcmp(msg, &want, sizeof want) != 0) {
      printf("CLIENT> round %ld: the product differs (%u bytes back, want %u)\n", r, len, (unsigned)sizeof want);
      errors++;
    } else if (r == 0) {
      print_matrix("Printing results", &want);
    }
  }
  return errors;
}

int main(int argc, char **argv) {
  const char *shm_name = NULL, *sock_path = NULL;
  long rounds = 2000, warmup = 200, size = 496, idle_ms = 0, timeout_ms = 5000;
  int ping_schedule = 0;
  const char *demo = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--schedule") && v && !strcmp(v, "ping")) ping_schedule = 1, i++;
    else if (!strcmp(a, "--demo") && v && (!strcmp(v, "echo") || !strcmp(v, "matrix"))) demo = v, i++;
    else if (!strcmp(a, "--shm") && v) shm_name = v, i++;
    else if (!strcmp(a, "--socket") && v) sock_path = v, i++;
    else if (!strcmp(a, "--rounds") && v) rounds = atol(v), i++;
    else if (!strcmp(a, "--warmup") && v) warmup = atol(v), i++;
    else if (!strcmp(a, "--size") && v) size = atol(v), i++;
    else if (!strcmp(a, "--idle-ms") && v) idle_ms = atol(v), i++;
    else if (!strcmp(a, "--timeout-ms") && v) timeout_ms = atol(v), i++;
    else fail("unknown argument %s", a);
  }
  if (!shm_name || !sock_path) fail("usage: ping-host [--demo echo|matrix] --shm NAME --socket PATH [--rounds N] [--warmup N] [--size 17..496 | --schedule ping] [--idle-ms MS] [--timeout-ms MS]");
  if (rounds < 1 || warmup < 0 || size < (long)HDR_SIZE + 1 || size > (long)MAX_PAYLOAD || timeout_ms < 1) fail("--rounds, --warmup, --size or --timeout-ms out of range");

  int fd = shm_open(shm_name, O_RDWR, 0);
  if (fd < 0) fail("shm_open %s: %s", shm_name, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size < (off_t)SHM_SIZE) fail("shm %s is smaller than 0x%x bytes", shm_name, SHM_SIZE);
  shm = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shm == MAP_FAILED) fail("mmap %s: %s", shm_name, strerror(errno));
  close(fd);

  sock = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(sock_path) >= sizeof addr.sun_path) fail("socket path too long: %s", sock_path);
  strcpy(addr.sun_path, sock_path);
  double connect_deadline = now_us() + (double)timeout_ms * 1e3;
  while (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
    if (now_us() > connect_deadline) fail("connect %s: %s", sock_path, strerror(errno));
    usleep(1000);
  }
  fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);

  /* The vdev: found by type through the table's offsets, every field checked. */
  uint32_t num = le32(shm + 4);
  volatile uint8_t *vdev = NULL;
  for (uint32_t i = 0; i < num && i < 8; i++) {
    uint32_t off = le32(shm + 16 + 4 * i);
    if (off < 16 || off > 1024 || (off & 3)) continue;
    if (le32(shm + off) == RSC_VDEV) vdev = shm + off;
  }
  if (!vdev) fail("%s: no vdev in the resource table (%u entries)", shm_name, num);
  /* vdev: type id notifyid dfeatures gfeatures config_len (6 x u32), status, num_of_vrings, 2 reserved, vrings of 5 x u32 */
  if (vdev[25] < 2) fail("vdev has %u vrings, need 2", vdev[25]);
  volatile uint8_t *v0 = vdev + 28, *v1 = vdev + 48;
  ring_setup(&rx, le32(v0), le32(v0 + 8), le32(v0 + 4), "vring 0");
  ring_setup(&tx, le32(v1), le32(v1 + 8), le32(v1 + 4), "vring 1");
  uint32_t half = rx.num;
  if ((POOL_SIZE / BUF_SIZE) < 2 * half) fail("buffer pool too small for %u buffers", 2 * half);
  for (uint16_t i = 0; i < half; i++) {
    rx.desc[i] = (struct desc){ .addr = POOL_OFFSET + (uint64_t)i * BUF_SIZE, .len = BUF_SIZE, .flags = 2 /* device writes */ };
    ring_offer(&rx, i);
    tx.desc[i] = (struct desc){ .addr = POOL_OFFSET + (uint64_t)(half + i) * BUF_SIZE, .len = BUF_SIZE };
    tx_free[tx_free_count++] = i;
  }
  rx.avail[0] = AVAIL_F_NO_INTERRUPT; /* we busy-poll: no kick for messages to us */
  vdev[16] = 1; /* gfeatures: VIRTIO_RPMSG_F_NS */
  __sync_synchronize();
  vdev[24] = STATUS_DRIVER_OK;
  __sync_synchronize();
  kick();

  uint8_t msg[BUF_SIZE], payload[BUF_SIZE];
  uint32_t len, src, dst, remote = 0;
  double deadline = now_us() + (double)timeout_ms * 1e3;
  while (!remote) {
    if (receive_msg(msg, &len, &src, &dst, deadline) < 0) fail("no announcement of %s within %ld ms", DEMO_CHANNEL, timeout_ms);
    if (dst == NS_ADDR && len == 40 && !strncmp((char *)msg, DEMO_CHANNEL, 32) && le32(msg + 36) == 0) remote = le32(msg + 32);
  }

  if (demo) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int matrix = !strcmp(demo, "matrix");
    printf("%s%s: remote endpoint 0x%x on %s\n", matrix ? "CLIENT> " : "", matrix ? "matrix multiply" : "echo test", remote, DEMO_CHANNEL);
    long errors = matrix ? demo_matrix(remote, rounds, timeout_ms) : demo_echo(remote, rounds, timeout_ms);
    print_verdict(matrix ? "CLIENT> " : "", errors);
    destroy_channel();
    printf("%sQuitting application .. %s end\n", matrix ? "CLIENT> " : "", matrix ? "Matrix multiplication" : "Echo test");
    return errors == 0 ? 0 : 1;
  }

  double idle_cpu_percent = -1;
  if (idle_ms > 0) {
    /* Idle as open-amp's host idles: polling the rings for a message that does not come. */
    double c0 = cpu_seconds(), t0 = now_us();
    if (receive_msg(msg, &len, &src, &dst, t0 + (double)idle_ms * 1e3) == 0) fail("unexpected message from 0x%x while idle", src);
    idle_cpu_percent = 100.0 * (cpu_seconds() - c0) / ((now_us() - t0) / 1e6);
  }

  double *samples = calloc((size_t)rounds, sizeof *samples);
  if (!samples) fail("out of memory for %ld samples", rounds);
  double c0 = 0, t0 = 0;
  for (long i = 0; i < warmup + rounds; i++) {
    if (i == warmup) c0 = cpu_seconds(), t0 = now_us();
    uint32_t data_len = ping_schedule ? (uint32_t)(i % (MAX_PAYLOAD - HDR_SIZE)) + 1 : (uint32_t)size - HDR_SIZE;
    uint64_t number = (uint64_t)i, data_size = data_len;
    memcpy(payload, &number, 8);
    memcpy(payload + 8, &data_size, 8);
    memset(payload + HDR_SIZE, 0xA5, data_len);
    uint32_t total = HDR_SIZE + data_len;
    double start = now_us();
    deadline = start + (double)timeout_ms * 1e3;
    while (send_msg(remote, payload, total) < 0) {
      if (now_us() > deadline) fail("vring 1: no free buffer within %ld ms", timeout_ms);
    }
    do {
      if (receive_msg(msg, &len, &src, &dst, deadline) < 0) fail("echo %ld did not come back within %ld ms", i, timeout_ms);
    } while (dst == NS_ADDR);
    if (len != total || memcmp(msg, payload, total) != 0) fail("echo %ld differs from what was sent (%u bytes back, %u sent)", i, len, total);
    if (i >= warmup) samples[i - warmup] = now_us() - start;
  }
  double seconds = (now_us() - t0) / 1e6, cpu = cpu_seconds() - c0;
  qsort(samples, (size_t)rounds, sizeof *samples, cmp_double);
  long p99 = (long)(0.99 * (double)rounds);
  if (p99 >= rounds) p99 = rounds - 1;
  char payload_bytes[16];
  snprintf(payload_bytes, sizeof payload_bytes, ping_schedule ? "\"17..496\"" : "%ld", size);
  printf("{\"host\":\"c\",\"roundTrips\":%ld,\"payloadBytes\":%s,\"p50Us\":%.2f,\"p99Us\":%.2f,\"maxUs\":%.2f,\"roundTripsPerSecond\":%.1f,\"cpuSecondsPer1000\":%.4f,\"idleCpuPercent\":%.1f}\n",
         rounds, payload_bytes, samples[rounds / 2], samples[p99], samples[rounds - 1], (double)rounds / seconds, 1000.0 * cpu / (double)rounds,
         idle_cpu_percent);
  return 0;
}
