/*
 * RPMsg over virtio, device (remote) side. The host owns every buffer: we fill avail entries
 * of vring 0 to send and consume avail entries of vring 1 to receive. Every index, descriptor,
 * address and length read from shared memory is checked before use.
 */
#include "fw.h"

#define MAX_EPTS 16
#define SEND_WAIT_ROUNDS 200000u /* bounded wait for a free vring-0 buffer */

struct vring_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
struct vring_used_elem { uint32_t id, len; };

struct vq {
  volatile struct vring_desc *desc;
  volatile uint16_t *avail; /* flags, idx, ring[num] */
  volatile uint16_t *used_hdr; /* flags, idx */
  volatile struct vring_used_elem *used_ring;
  uint16_t num, last_avail, used_idx;
};

static struct vq vq_tx; /* vring 0: remote -> host */
static struct vq vq_rx; /* vring 1: host -> remote */
static struct fw_ept epts[MAX_EPTS];
static int ready;
static uint32_t protocol_errors;

static void bad(const char *what, uint32_t v) {
  if (protocol_errors++ < 16) fw_log("rpmsg: protocol error: %s (0x%x)\n", what, v);
}

static int vq_setup(struct vq *q, volatile struct fw_rsc_vdev_vring *r, int i) {
  uint32_t da = r->da, num = r->num, align = r->align;
  if (da == FW_RSC_ADDR_ANY) { fw_log("vring%u: host left da unassigned\n", i); return -1; }
  if (num == 0 || num > 32768 || (num & (num - 1))) { fw_log("vring%u: bad num %u\n", i, num); return -1; }
  if (align < 4 || (align & (align - 1))) { fw_log("vring%u: bad align 0x%x\n", i, align); return -1; }
  uint32_t used_off = (16 * num + 2 * (3 + num) + align - 1) & ~(align - 1);
  uint32_t size = used_off + 6 + 8 * num;
  uint8_t *base = plat_phys(da, size);
  if (!base) { fw_log("vring%u: 0x%08x+0x%x is outside shared RAM or over the firmware image\n", i, da, size); return -1; }
  q->desc = (volatile struct vring_desc *)(void *)base;
  q->avail = (volatile uint16_t *)(void *)(base + 16 * num);
  q->used_hdr = (volatile uint16_t *)(void *)(base + used_off);
  q->used_ring = (volatile struct vring_used_elem *)(void *)(base + used_off + 4);
  q->num = (uint16_t)num;
  /* Restarting against rings the host already used: continue from where they are. */
  q->used_idx = q->used_hdr[1];
  q->last_avail = q->used_idx;
  fw_log("vring%u: da=0x%08x num=%u align=0x%x\n", i, da, num, align);
  return 0;
}

/* Takes the next avail entry: 1 = got one, 0 = none, -1 = bad entry (consumed and dropped). */
static int vq_get(struct vq *q, uint16_t *head, uint8_t **buf, uint32_t *len) {
  uint16_t idx = q->avail[1];
  __sync_synchronize();
  if (idx == q->last_avail) return 0;
  if ((uint16_t)(idx - q->last_avail) > q->num) {
    bad("avail idx ran ahead of the ring", idx);
    q->last_avail = (uint16_t)(idx - q->num);
  }
  uint16_t h = q->avail[2 + (q->last_avail & (q->num - 1))];
  q->last_avail++;
  if (h >= q->num) { bad("avail head out of range", h); return -1; }
  uint64_t addr = q->desc[h].addr;
  uint32_t l = q->desc[h].len;
  uint8_t *p = (l >= RPMSG_HDR_SIZE) ? plat_phys(addr, l) : NULL;
  *head = h;
  *len = l;
  *buf = p;
  if (!p) { bad("descriptor buffer outside shared RAM, over the firmware image or too short", (uint32_t)addr); return -2; }
  return 1;
}

static void vq_put(struct vq *q, uint16_t head, uint32_t len) {
  uint16_t u = q->used_idx;
  q->used_ring[u & (q->num - 1)].id = head;
  q->used_ring[u & (q->num - 1)].len = len;
  __sync_synchronize();
  q->used_idx = (uint16_t)(u + 1);
  q->used_hdr[1] = q->used_idx;
  __sync_synchronize();
}

static void kick_if_wanted(struct vq *q) {
  if (!(q->avail[0] & VRING_AVAIL_F_NO_INTERRUPT)) plat_kick();
}

/*
 * Whether the host should kick us when it posts buffers on this ring (used.flags NO_NOTIFY is
 * our hint, as virtqueue_disable_cb / enable_cb set it). Vring 0's buffers are only waited for
 * when the host has none posted, so, as open-amp's remote does ("suppress tx-complete
 * interrupts"), the host is asked not to kick for each buffer it gives back, except while a
 * send waits for one: a kick per received message costs the host a syscall and wakes us for
 * nothing.
 */
static void vq_want_kicks(struct vq *q, int want) {
  uint16_t flags = want ? 0 : VRING_USED_F_NO_NOTIFY;
  if (q->used_hdr[0] == flags) return;
  q->used_hdr[0] = flags;
  __sync_synchronize();
}

static int send_raw(uint32_t src, uint32_t dst, const void *data, uint32_t len) {
  if (!ready) return -1;
  if (len > RPMSG_MAX_PAYLOAD) len = RPMSG_MAX_PAYLOAD; /* open-amp truncates silently */
  for (uint32_t round = 0; round < SEND_WAIT_ROUNDS; round++) {
    uint16_t head;
    uint8_t *buf;
    uint32_t blen;
    int got = vq_get(&vq_tx, &head, &buf, &blen);
    if (got == 0) {
      /* Starved: ask for the host's kick, then look again (it may have posted before it saw). */
      vq_want_kicks(&vq_tx, 1);
      if (vq_tx.avail[1] != vq_tx.last_avail) continue;
      fw_heartbeat();
      if (plat_wait(0) < 0) return -1;
      continue;
    }
    vq_want_kicks(&vq_tx, 0);
    if (got == -1) continue;
    if (got == -2 || blen < RPMSG_HDR_SIZE + len) {
      if (got != -2) bad("host RX buffer too small", blen);
      vq_put(&vq_tx, head, 0);
      continue;
    }
    volatile uint8_t *b = buf;
    uint8_t hdr[RPMSG_HDR_SIZE] = {0};
    for (int i = 0; i < 4; i++) {
      hdr[i] = (uint8_t)(src >> (8 * i));
      hdr[4 + i] = (uint8_t)(dst >> (8 * i));
    }
    hdr[12] = (uint8_t)len;
    hdr[13] = (uint8_t)(len >> 8);
    for (uint32_t i = 0; i < RPMSG_HDR_SIZE; i++) b[i] = hdr[i];
    const uint8_t *d = data;
    for (uint32_t i = 0; i < len; i++) b[RPMSG_HDR_SIZE + i] = d[i];
    vq_put(&vq_tx, head, RPMSG_HDR_SIZE + len);
    kick_if_wanted(&vq_tx);
    return 0;
  }
  fw_log("rpmsg: no free buffer from the host, message to 0x%x dropped\n", dst);
  return -1;
}

static void send_ns(struct fw_ept *e, uint32_t flags) {
  uint8_t ns[RPMSG_NS_SIZE] = {0};
  fw_memcpy(ns, e->name, fw_strnlen(e->name, RPMSG_NAME_SIZE - 1));
  for (int i = 0; i < 4; i++) {
    ns[32 + i] = (uint8_t)(e->addr >> (8 * i));
    ns[36 + i] = (uint8_t)(flags >> (8 * i));
  }
  if (send_raw(e->addr, RPMSG_NS_ADDR, ns, sizeof ns) == 0) {
    fw_log("rpmsg: NS %s \"%s\" addr 0x%x\n", flags == RPMSG_NS_DESTROY ? "DESTROY" : "CREATE", e->name, e->addr);
    if (flags == RPMSG_NS_CREATE) e->announced = 1;
  }
}

static struct fw_ept *find_ept(uint32_t addr) {
  for (int i = 0; i < MAX_EPTS; i++)
    if (epts[i].in_use && epts[i].addr == addr) return &epts[i];
  return NULL;
}

struct fw_ept *rpmsg_create_ept(const char *name, uint32_t addr, uint32_t dest, fw_ept_cb cb, int announce) {
  if (addr == RPMSG_ADDR_ANY) {
    for (uint32_t a = RPMSG_FIRST_DYNAMIC_ADDR; a < RPMSG_FIRST_DYNAMIC_ADDR + 128; a++)
      if (!find_ept(a)) { addr = a; break; }
    if (addr == RPMSG_ADDR_ANY) return NULL;
  } else if (find_ept(addr)) {
    return NULL;
  }
  for (int i = 0; i < MAX_EPTS; i++) {
    struct fw_ept *e = &epts[i];
    if (e->in_use) continue;
    fw_memset(e, 0, sizeof *e);
    fw_memcpy(e->name, name, fw_strnlen(name, RPMSG_NAME_SIZE - 1));
    e->addr = addr;
    e->dest = dest;
    e->cb = cb;
    e->announce = (uint8_t)announce;
    e->in_use = 1;
    if (announce && ready) send_ns(e, RPMSG_NS_CREATE);
    return e;
  }
  return NULL;
}

void rpmsg_destroy_ept(struct fw_ept *e) {
  if (!e || !e->in_use) return;
  if (e->announced) send_ns(e, RPMSG_NS_DESTROY);
  e->in_use = 0;
}

int rpmsg_send(struct fw_ept *e, uint32_t dst, const void *data, uint32_t len) {
  if (dst == RPMSG_ADDR_ANY) dst = e->dest;
  if (dst == RPMSG_ADDR_ANY) return -1;
  return send_raw(e->addr, dst, data, len);
}

static void handle_ns(const uint8_t *m, uint32_t len) {
  if (len != RPMSG_NS_SIZE) { bad("NS message length", len); return; }
  char name[RPMSG_NAME_SIZE];
  fw_memcpy(name, m, RPMSG_NAME_SIZE);
  name[RPMSG_NAME_SIZE - 1] = 0;
  uint32_t addr = fw_le32(m + 32), flags = fw_le32(m + 36);
  fw_log("rpmsg: host NS %s \"%s\" addr 0x%x\n", flags == RPMSG_NS_DESTROY ? "DESTROY" : "CREATE", name, addr);
  /* The program sees it first: it matches host channels by their bound address. */
  if (fw_app.ns) fw_app.ns(name, addr, flags);
  for (int i = 0; i < MAX_EPTS; i++) {
    struct fw_ept *e = &epts[i];
    if (!e->in_use || fw_strncmp(e->name, name, RPMSG_NAME_SIZE)) continue;
    /* open-amp: a destroyed peer leaves our endpoint unbound so it can rebind later */
    if (flags == RPMSG_NS_DESTROY && e->dest == addr) e->dest = RPMSG_ADDR_ANY;
  }
}

void fw_exit_on_channel_destroy(struct fw_ept *e, const char *who, const char *name, uint32_t addr, uint32_t flags) {
  if (flags != RPMSG_NS_DESTROY || !e || !e->in_use || e->dest != addr || fw_strncmp(name, e->name, RPMSG_NAME_SIZE)) return;
  fw_log("%s: host destroyed %s after %u message(s)\n", who, e->name, e->count);
  rpmsg_destroy_ept(e);
  fw_exit(0);
}

static void handle_fault_words(const uint8_t *data, uint32_t len) {
  if (len < 4) return;
  uint32_t w = fw_le32(data);
  if (w == FW_MSG_CRASH) {
    fw_log("fw: crash requested by the host\n");
    plat_fault();
  }
  if (w == FW_MSG_HANG) {
    fw_log("fw: hang requested by the host\n");
    plat_hang();
  }
}

/* Processes every pending message on vring 1; returns how many. */
static int poll_rx(void) {
  static uint8_t msg[RPMSG_BUF_SIZE];
  int n = 0;
  for (uint32_t i = 0; i < vq_rx.num; i++) {
    uint16_t head;
    uint8_t *buf;
    uint32_t blen;
    int got = vq_get(&vq_rx, &head, &buf, &blen);
    if (got == 0) break;
    n++;
    if (got == -1) continue;
    if (got == -2) { vq_put(&vq_rx, head, 0); continue; }
    /* Copy first: the host may rewrite its buffer once it is back on the used ring. */
    uint32_t take = blen < RPMSG_BUF_SIZE ? blen : RPMSG_BUF_SIZE;
    for (uint32_t k = 0; k < take; k++) msg[k] = ((volatile uint8_t *)buf)[k];
    vq_put(&vq_rx, head, blen);
    kick_if_wanted(&vq_rx);
    uint32_t src = fw_le32(msg), dst = fw_le32(msg + 4);
    uint32_t len = (uint32_t)msg[12] | (uint32_t)msg[13] << 8;
    if (len > take - RPMSG_HDR_SIZE) { bad("message length exceeds its buffer", len); continue; }
    const uint8_t *data = msg + RPMSG_HDR_SIZE;
    if (dst == RPMSG_NS_ADDR) { handle_ns(data, len); continue; }
    handle_fault_words(data, len);
    struct fw_ept *e = find_ept(dst);
    if (!e) { bad("message to unknown address", dst); continue; }
    if (e->dest == RPMSG_ADDR_ANY) e->dest = src;
    e->count++;
    if (e->cb) e->cb(e, data, len, src);
  }
  return n;
}

static void announce_pending(void) {
  for (int i = 0; i < MAX_EPTS; i++)
    if (epts[i].in_use && epts[i].announce && !epts[i].announced) send_ns(&epts[i], RPMSG_NS_CREATE);
}

volatile struct fw_rsc_vdev *fw_find_vdev(volatile struct fw_resource_table *t) {
  uint32_t num = t->num;
  volatile uint32_t *offsets = (volatile uint32_t *)(void *)((volatile uint8_t *)t + 16);
  for (uint32_t i = 0; i < num && i < 8; i++) {
    uint32_t off = offsets[i];
    if (off < 16 || off > 1024 || (off & 3)) continue;
    volatile struct fw_rsc_vdev *v = (volatile struct fw_rsc_vdev *)(void *)((volatile uint8_t *)t + off);
    if (v->type == RSC_VDEV) return v;
  }
  return 0;
}

void fw_run(const char *machine) {
  volatile struct fw_rsc_vdev *vdev = fw_find_vdev(plat_rsc());
  if (!vdev) {
    fw_log("fw: no vdev in the resource table\n");
    plat_hang();
  }
  fw_log("fw: %s on %s: waiting for DRIVER_OK\n", fw_app.name, machine);
  int failed = 0;
  for (;;) {
    uint8_t status = vdev->status;
    __sync_synchronize();
    if (!ready && !failed && (status & VIRTIO_STATUS_DRIVER_OK)) {
      if (vq_setup(&vq_tx, &vdev->vring[0], 0) || vq_setup(&vq_rx, &vdev->vring[1], 1)) {
        failed = 1; /* wait for the host to reset the device */
      } else {
        ready = 1;
        vq_want_kicks(&vq_tx, 0);
        vq_want_kicks(&vq_rx, 1);
        fw_log("fw: DRIVER_OK (status 0x%x), starting %s\n", status, fw_app.name);
        for (int i = 0; i < MAX_EPTS; i++) epts[i].in_use = 0;
        fw_app.start();
        announce_pending();
      }
    } else if ((ready || failed) && !(status & VIRTIO_STATUS_DRIVER_OK)) {
      fw_log("fw: host reset the device (status 0x%x)\n", status);
      ready = 0;
      failed = 0;
    }
    int busy = 0;
    fw_heartbeat();
    if (ready) {
      busy = poll_rx();
      announce_pending();
    }
    if (plat_wait(busy) < 0) {
      fw_log("fw: host went away\n");
      plat_exit(0);
    }
  }
}
