/*
 * rpmsg-echo: returns every message unchanged on "rpmsg-openamp-demo-channel". Like open-amp's
 * echo remote it ends on the shutdown message or when the host destroys its endpoint (NS
 * DESTROY of the channel from the address it talks to): the endpoint is destroyed (NS DESTROY
 * to the host) and the program exits.
 */
#include "../core/fw.h"

#define CHANNEL "rpmsg-openamp-demo-channel"

static struct fw_ept *echo_ept;

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (len >= 4 && ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24) == FW_MSG_SHUTDOWN) {
    fw_log("echo: shutdown message after %u message(s)\n", e->count - 1);
    rpmsg_destroy_ept(e);
    fw_exit(0);
  }
  rpmsg_send(e, src, data, len);
}

static void on_ns(const char *name, uint32_t addr, uint32_t flags) {
  struct fw_ept *e = echo_ept;
  if (flags != RPMSG_NS_DESTROY || !e || !e->in_use || e->dest != addr || fw_strncmp(name, CHANNEL, RPMSG_NAME_SIZE)) return;
  fw_log("echo: host destroyed %s after %u message(s)\n", CHANNEL, e->count);
  rpmsg_destroy_ept(e);
  fw_exit(0);
}

static void start(void) {
  echo_ept = rpmsg_create_ept(CHANNEL, RPMSG_ADDR_ANY, RPMSG_ADDR_ANY, on_msg, 1);
}

const struct fw_app fw_app = { "rpmsg-echo", start, on_ns };
