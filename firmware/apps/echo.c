/* rpmsg-echo: returns every message unchanged on "rpmsg-openamp-demo-channel". */
#include "../core/fw.h"

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (len >= 4 && ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24) == FW_MSG_SHUTDOWN) {
    fw_log("echo: shutdown message after %u message(s)\n", e->count - 1);
    plat_exit(0);
  }
  rpmsg_send(e, src, data, len);
}

static void start(void) {
  rpmsg_create_ept("rpmsg-openamp-demo-channel", RPMSG_ADDR_ANY, RPMSG_ADDR_ANY, on_msg, 1);
}

const struct fw_app fw_app = { "rpmsg-echo", start, 0 };
