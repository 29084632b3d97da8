/*
 * matrix_multiplyd: two {u32 size; u32 e[6][6]} in, their product out (148 bytes). Like
 * open-amp's, it ends when the host destroys its endpoint.
 */
#include "../core/fw.h"

#define N 6
struct matrix { uint32_t size; uint32_t e[N][N]; };

static struct fw_ept *matrix_ept;

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (len != 2 * sizeof(struct matrix)) {
    fw_log("matrix: ignoring a %u-byte message (want %u)\n", len, (uint32_t)(2 * sizeof(struct matrix)));
    return;
  }
  struct matrix a, b, c;
  fw_memcpy(&a, data, sizeof a);
  fw_memcpy(&b, data + sizeof a, sizeof b);
  uint32_t n = fw_le32(data);
  if (n > N) n = N; /* untrusted: never index past the 6x6 arrays */
  fw_memset(&c, 0, sizeof c);
  c.size = a.size;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < n; j++)
      for (uint32_t k = 0; k < n; k++) c.e[i][j] += a.e[i][k] * b.e[k][j];
  rpmsg_send(e, src, &c, sizeof c);
}

static void on_ns(const char *name, uint32_t addr, uint32_t flags) {
  fw_exit_on_channel_destroy(matrix_ept, "matrix", name, addr, flags);
}

static void start(void) {
  matrix_ept = rpmsg_create_ept(FW_DEMO_CHANNEL, RPMSG_ADDR_ANY, RPMSG_ADDR_ANY, on_msg, 1);
}

const struct fw_app fw_app = { "matrix_multiplyd", start, on_ns };
