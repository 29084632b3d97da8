/*
 * rpmsg-echo: returns every message unchanged on "rpmsg-openamp-demo-channel". Like open-amp's
 * echo remote it ends on the shutdown message or when the host destroys its endpoint (NS
 * DESTROY of the channel from the address it talks to): the endpoint is destroyed (NS DESTROY
 * to the host) and the program exits.
 */
#include "../core/fw.h"

static struct fw_ept *echo_ept;

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (len >= 4 && fw_le32(data) == FW_MSG_SHUTDOWN) {
    fw_log("echo: shutdown message after %u message(s)\n", e->count - 1);
    rpmsg_destroy_ept(e);
    fw_exit(0);
  }
  rpmsg_send(e, src, data, len);
}

static void on_ns(const char *name, uint32_t addr, uint32_t flags) {
  fw_exit_on_channel_destroy(echo_ept, "echo", name, addr, flags);
}

static void start(void) {
  echo_ept = rpmsg_create_ept(FW_DEMO_CHANNEL, RPMSG_ADDR_ANY, RPMSG_ADDR_ANY, on_msg, 1);
}

const struct fw_app fw_app = { "rpmsg-echo", start, on_ns };
