/*
 * Multi-services (ST's demo, as suites.md describes it): rpmsg-client-sample echoes 100
 * messages then destroys itself; rpmsg-tty prefixes "TTY 0x%04x: "; rpmsg-raw prefixes
 * "from ept 0x0402: "; the unannounced endpoint 0x1 prefixes "from ept 0x0001: ". A host NS
 * CREATE of "rpmsg-tty" gets a new tty endpoint that greets the host with "bound".
 */
#include "../core/fw.h"

#define CLIENT_SAMPLE_LIMIT 100u

static uint32_t put_prefix(uint8_t *out, const char *text, uint32_t addr) {
  uint32_t n = 0;
  static const char hexd[] = "0123456789abcdef";
  for (; text[n]; n++) out[n] = (uint8_t)text[n];
  out[n++] = '0';
  out[n++] = 'x';
  for (int s = 12; s >= 0; s -= 4) out[n++] = (uint8_t)hexd[(addr >> s) & 0xF];
  out[n++] = ':';
  out[n++] = ' ';
  return n;
}

static void reply_prefixed(struct fw_ept *e, const char *text, const uint8_t *data, uint32_t len, uint32_t src) {
  uint8_t out[RPMSG_MAX_PAYLOAD];
  uint32_t n = put_prefix(out, text, e->addr);
  for (uint32_t i = 0; i < len && n < sizeof out; i++) out[n++] = data[i];
  rpmsg_send(e, src, out, n);
}

static void on_client_sample(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  rpmsg_send(e, src, data, len);
  if (e->count >= CLIENT_SAMPLE_LIMIT) {
    fw_log("multi: rpmsg-client-sample got %u messages, destroying it\n", e->count);
    rpmsg_destroy_ept(e);
  }
}

static void on_tty(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  reply_prefixed(e, "TTY ", data, len, src);
}

static void on_raw(struct fw_ept *e, const uint8_t *data, uint32_t len, uint32_t src) {
  reply_prefixed(e, "from ept ", data, len, src);
}

static void start(void) {
  rpmsg_create_ept("rpmsg-client-sample", 0x400, RPMSG_ADDR_ANY, on_client_sample, 1);
  rpmsg_create_ept("rpmsg-tty", 0x401, RPMSG_ADDR_ANY, on_tty, 1);
  rpmsg_create_ept("rpmsg-raw", 0x402, RPMSG_ADDR_ANY, on_raw, 1);
  rpmsg_create_ept("rpmsg-fixed", 0x1, RPMSG_ADDR_ANY, on_raw, 0);
}

/* Host-announced channels live in their own endpoints, one per host address. */
static struct fw_ept *host_channels[8];

static void on_ns(const char *name, uint32_t addr, uint32_t flags) {
  if (fw_strncmp(name, "rpmsg-tty", RPMSG_NAME_SIZE) != 0) return;
  for (uint32_t i = 0; i < 8; i++) {
    struct fw_ept *e = host_channels[i];
    if (e && e->in_use && e->host_channel && e->dest == addr) {
      if (flags == RPMSG_NS_DESTROY) {
        fw_log("multi: releasing tty endpoint 0x%x (host 0x%x)\n", e->addr, addr);
        e->in_use = 0; /* never announced by us: nothing to send */
        host_channels[i] = 0;
      }
      return;
    }
  }
  if (flags != RPMSG_NS_CREATE) return;
  for (uint32_t i = 0; i < 8; i++) {
    if (host_channels[i] && host_channels[i]->in_use) continue;
    struct fw_ept *e = rpmsg_create_ept("rpmsg-tty", RPMSG_ADDR_ANY, addr, on_tty, 0);
    if (!e) break;
    e->host_channel = 1;
    host_channels[i] = e;
    fw_log("multi: tty endpoint 0x%x bound to host 0x%x\n", e->addr, addr);
    rpmsg_send(e, addr, "bound", 5);
    return;
  }
  fw_log("multi: no room for another host channel\n");
}

const struct fw_app fw_app = { "multi-services", start, on_ns };
