/* matrix_multiplyd: two {u32 size; u32 e[6][6]} in, their product out (148 bytes). */
#include "../core/fw.h"

#define N 6
struct matrix { uint32_t size; uint32_t e[N][N]; };

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (len != 2 * sizeof(struct matrix)) {
    fw_log("matrix: ignoring a %u-byte message (want %u)\n", len, (uint32_t)(2 * sizeof(struct matrix)));
    return;
  }
  struct matrix a, b, c;
  fw_memcpy(&a, data, sizeof a);
  fw_memcpy(&b, data + sizeof a, sizeof b);
  uint32_t n = rd32(data);
  if (n > N) n = N; /* untrusted: never index past the 6x6 arrays */
  fw_memset(&c, 0, sizeof c);
  c.size = a.size;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++)
      for (uint32_t k = 0; k < n; k++) c.e[i][j] += a.e[i][k] * b.e[k][j];
  rpmsg_send(e, src, &c, sizeof c);
}

#define CHANNEL "rpmsg-openamp-demo-channel"
static struct fw_ept *matrix_ept;

/* Like open-amp's matrix_multiplyd: the host destroying its endpoint ends the program. */
static void on_ns(const char *name, uint32_t addr, uint32_t flags) {
  struct fw_ept *e = matrix_ept;
  if (flags != RPMSG_NS_DESTROY || !e || !e->in_use || e->dest != addr || fw_strncmp(name, CHANNEL, RPMSG_NAME_SIZE)) return;
  fw_log("matrix: host destroyed %s after %u message(s)\n", CHANNEL, e->count);
  rpmsg_destroy_ept(e);
  fw_exit(0);
}

static void start(void) {
  matrix_ept = rpmsg_create_ept(CHANNEL, RPMSG_ADDR_ANY, RPMSG_ADDR_ANY, on_msg, 1);
}

const struct fw_app fw_app = { "matrix_multiplyd", start, on_ns };
