/*
 * rpmsg-echo: returns every message unchanged on "rpmsg-openamp-demo-channel". Like open-amp's
 * echo remote it ends on the shutdown message or when the host destroys its endpoint (NS
 * DESTROY of the channel from the address it talks to): the endpoint is destroyed (NS DESTROY
 * to the host) and the program exits. The flood words (fw.h) make it a sink or a source of a
 * one-way flood for the flood suite.
 */
#include "../core/fw.h"

static struct fw_ept *echo_ept;

/* How many times the flood source offers one message before it gives up on the host. */
#define FLOOD_SEND_TRIES 100

/* The flood sink: messages still to take, the next sequence number, bad ones so far. */
static uint32_t sink_left, sink_next, sink_bad;

static int flood_ok(const uint8_t *d, uint32_t len, uint32_t seq) {
  if (len < 4 || fw_le32(d) != seq) return 0;
  for (uint32_t i = 4; i < len; i++)
    if (d[i] != (uint8_t)(seq + i)) return 0;
  return 1;
}

static void sink_report(struct fw_ept *e, uint32_t dst) {
  uint32_t r[3] = { FW_MSG_FLOOD_SINK, sink_next, sink_bad };
  uint8_t out[12];
  for (int i = 0; i < 12; i++) out[i] = (uint8_t)(r[i / 4] >> (8 * (i % 4)));
  fw_log("echo: flood sink took %u message(s), %u bad\n", sink_next, sink_bad);
  rpmsg_send(e, dst, out, sizeof out);
}

static void flood_source(struct fw_ept *e, uint32_t dst, uint32_t count, uint32_t size) {
  static uint8_t msg[RPMSG_MAX_PAYLOAD];
  if (size < 4) size = 4;
  if (size > RPMSG_MAX_PAYLOAD) size = RPMSG_MAX_PAYLOAD;
  for (uint32_t seq = 0; seq < count; seq++) {
    for (int i = 0; i < 4; i++) msg[i] = (uint8_t)(seq >> (8 * i));
    for (uint32_t i = 4; i < size; i++) msg[i] = (uint8_t)(seq + i);
    /* rpmsg_send waits a bounded number of polls for a buffer, which a slow host (QEMU in a
     * container, a loaded machine) can outlast in a flood: try again a bounded number of times. */
    int tries = 0;
    while (rpmsg_send(e, dst, msg, size) != 0) {
      if (++tries == FLOOD_SEND_TRIES) {
        fw_log("echo: flood source stopped after %u of %u message(s)\n", seq, count);
        return;
      }
      fw_heartbeat();
    }
    if ((seq & 1023) == 0) fw_heartbeat(); /* a long flood is progress, not a stall */
  }
  fw_log("echo: flood source sent %u message(s) of %u bytes\n", count, size);
}

static void on_msg(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  if (sink_left) {
    if (!flood_ok(data, len, sink_next)) sink_bad++;
    sink_next++;
    if (--sink_left == 0) sink_report(e, src);
    return;
  }
  uint32_t word = len >= 4 ? fw_le32(data) : 0;
  if (word == FW_MSG_SHUTDOWN) {
    fw_log("echo: shutdown message after %u message(s)\n", e->count - 1);
    rpmsg_destroy_ept(e);
    fw_exit(0);
  }
  if (word == FW_MSG_FLOOD_SINK && len >= 8) {
    sink_left = fw_le32(data + 4);
    sink_next = 0;
    sink_bad = 0;
    if (sink_left == 0) sink_report(e, src);
    return;
  }
  if (word == FW_MSG_FLOOD_SOURCE && len >= 12) {
    flood_source(e, src, fw_le32(data + 4), fw_le32(data + 8));
    return;
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
