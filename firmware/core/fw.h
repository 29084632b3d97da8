/*
 * Reference remote firmware: the portable RPMsg device core (virtio device role) and the
 * interface each machine's platform layer implements. Freestanding: only the compiler's own
 * headers. Everything the host writes into shared memory is untrusted and bounds-checked.
 */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire constants (see openamp/PROTOCOL.md) ---- */
#define RSC_VDEV 3u
#define RSC_TRACE 2u
#define FW_RSC_ADDR_ANY 0xFFFFFFFFu
#define VIRTIO_ID_RPMSG 7u
#define VIRTIO_RPMSG_F_NS 1u
#define VIRTIO_STATUS_DRIVER_OK 0x04u
#define VRING_DESC_F_WRITE 2u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY 1u
#define RPMSG_ADDR_ANY 0xFFFFFFFFu
#define RPMSG_NS_ADDR 0x35u
#define RPMSG_FIRST_DYNAMIC_ADDR 0x400u
#define RPMSG_HDR_SIZE 16u
#define RPMSG_BUF_SIZE 512u
#define RPMSG_MAX_PAYLOAD (RPMSG_BUF_SIZE - RPMSG_HDR_SIZE)
#define RPMSG_NAME_SIZE 32u
#define RPMSG_NS_SIZE 40u
#define RPMSG_NS_CREATE 0u
#define RPMSG_NS_DESTROY 1u

/* The channel open-amp's echo and matrix-multiply demos announce. */
#define FW_DEMO_CHANNEL "rpmsg-openamp-demo-channel"

/* Messages any program understands (first u32, little-endian). Documented in firmware/README.md. */
#define FW_MSG_CRASH 0xFA11C0DEu
#define FW_MSG_HANG 0xFA11B10Cu
#define FW_MSG_SHUTDOWN 0xEF56A55Au
/* echo only, the flood suite (openamp/remote/control-words.ts): [SINK, count] takes the next
 * `count` messages unanswered, checks each, then answers [SINK, received, bad]; [SOURCE, count,
 * size] sends `count` messages of `size` bytes. Flood message `seq`: u32 seq, then byte i =
 * (seq + i) & 0xff. */
#define FW_MSG_FLOOD_SINK 0xF100D51Cu
#define FW_MSG_FLOOD_SOURCE 0xF100D50Cu

/* The bare-metal kick on the console UART (ASCII ENQ). Log text never carries it: fw_log writes
 * '?' in its place (a name the host sent could contain it). Same value as firmware/uart-kick.ts. */
#define FW_KICK_BYTE 0x05

/* Crash record: the last FW_CRASH_RECORD_SIZE bytes of the trace buffer. */
#define FW_CRASH_MAGIC 0x48535243u /* "CRSH" */
#define FW_EXIT_MAGIC 0x54495845u /* "EXIT": the program ended on purpose (cause = exit code) */
#define FW_CRASH_RECORD_SIZE 32u

#define FW_VRING_NUM 256u
#define FW_VRING_ALIGN 0x1000u
#define FW_TRACE_SIZE 4096u

struct fw_rsc_vdev_vring {
  uint32_t da, align, num, notifyid, pa;
} __attribute__((packed));

struct fw_rsc_vdev {
  uint32_t type, id, notifyid, dfeatures, gfeatures, config_len;
  uint8_t status, num_of_vrings, reserved[2];
  struct fw_rsc_vdev_vring vring[2];
} __attribute__((packed));

struct fw_rsc_trace {
  uint32_t type, da, len, reserved;
  char name[32];
} __attribute__((packed));

/* The linux-process table: one vdev with two vrings and one trace buffer (open-amp's Linux
 * machine has no carveout: the buffer pool sits at a fixed offset). The bare-metal tables
 * (core/rsc_table.S) add a vdev0buffer carveout first; the core finds entries by type. */
struct fw_resource_table {
  uint32_t ver, num, reserved[2];
  uint32_t offset[2];
  struct fw_rsc_vdev vdev;
  struct fw_rsc_trace trace;
} __attribute__((packed));

/* magic is written last; heartbeat counts main-loop rounds (the host's stall detector). */
struct fw_crash_record {
  uint32_t magic, kind, cause, pc, addr, heartbeat, reserved[2];
};

/* ---- platform layer (one per machine) ---- */
void plat_init(void);
void plat_putc(char c);
/* The live resource table (the copy the host patches: status, vring addresses). */
volatile struct fw_resource_table *plat_rsc(void);
/* The table's vdev entry (found by type through the offset array). */
volatile struct fw_rsc_vdev *fw_find_vdev(volatile struct fw_resource_table *t);
/* The trace buffer (FW_TRACE_SIZE bytes, the one the table's trace entry names). */
char *plat_trace(void);
/* CPU pointer for `len` bytes at bus address `pa` (vrings, descriptor buffers: what the host
 * assigns), or NULL when not all inside shared RAM or (bare metal) when it overlaps the
 * firmware's own image. */
void *plat_phys(uint64_t pa, uint32_t len);
/* For plat_phys: `cpu` + (pa - base) when [pa, pa + len) lies inside [base, base + size), else NULL. */
void *fw_window(uint64_t pa, uint32_t len, uint64_t base, uint64_t size, void *cpu);
/* For bare-metal plat_phys (RAM mapped 1:1): fw_window over the RAM, NULL as well when the range
 * overlaps the image [__image_start, __stack_top) (code, data, resource table, trace, stack). */
void *fw_ram_window(uint64_t pa, uint32_t len, uint64_t ram_base, uint64_t ram_size);
/* Tell the host to look at the rings. Bare metal (core/bare_metal.c): FW_KICK_BYTE on the
 * console UART, which the host strips from the console text; linux-process: a socket byte. */
void plat_kick(void);
/* Wait a little for something to happen (a kick, or a poll interval); `busy` = work was just
 * done. Returns -1 when the host is gone for good (linux-process: socket closed). */
int plat_wait(int busy);
/* Make the core really fault (the trap handler then records and logs it). */
void plat_fault(void) __attribute__((noreturn));
/* Stop making progress forever, on purpose. */
void plat_hang(void) __attribute__((noreturn));
/* The program ended (echo shutdown message): exit the process or park the core. */
void plat_exit(int code) __attribute__((noreturn));

/* ---- core ---- */
void *fw_memcpy(void *d, const void *s, size_t n);
void fw_memset(void *d, int v, size_t n);
size_t fw_strnlen(const char *s, size_t max);
int fw_strncmp(const char *a, const char *b, size_t n);
static inline uint32_t fw_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fw_log(const char *fmt, ...);
/* Called by a platform trap handler (and before a deliberate fault): record + log. */
void fw_crash_record(uint32_t kind, uint32_t cause, uint32_t pc, uint32_t addr);
void fw_heartbeat(void);
/* The program ended on purpose: log, leave the exit record (so the host does not take the
 * parked core for a stalled one), then plat_exit. */
void fw_exit(int code) __attribute__((noreturn));
void fw_rsc_init(volatile struct fw_resource_table *t, uint32_t vring0_da, uint32_t vring1_da, uint32_t trace_da);

struct fw_ept;
typedef void (*fw_ept_cb)(struct fw_ept *ept, const uint8_t *data, uint32_t len, uint32_t src);
struct fw_ept {
  char name[RPMSG_NAME_SIZE];
  uint32_t addr;
  uint32_t dest;
  fw_ept_cb cb;
  uint8_t in_use, announce, announced, host_channel;
  uint32_t count; /* messages received (apps use it) */
};

/* Creates an endpoint; addr RPMSG_ADDR_ANY = next free dynamic address. NULL when full/taken. */
struct fw_ept *rpmsg_create_ept(const char *name, uint32_t addr, uint32_t dest, fw_ept_cb cb, int announce);
/* Releases it; an announced endpoint sends NS DESTROY first. */
void rpmsg_destroy_ept(struct fw_ept *ept);
/* Sends (truncating to 496 bytes as open-amp does); waits a bounded time for a buffer. 0 or -1. */
int rpmsg_send(struct fw_ept *ept, uint32_t dst, const void *data, uint32_t len);
/* Called for NS messages from the host after the core bound matching endpoints. */
typedef void (*fw_ns_cb)(const char *name, uint32_t addr, uint32_t flags);
/* For an app's fw_ns_cb, as open-amp's demos end: when the host destroys the channel `e` serves
 * (NS DESTROY of its name from the address it talks to), destroys `e` (NS DESTROY to the host)
 * and exits; otherwise returns. `who` starts the log line. */
void fw_exit_on_channel_destroy(struct fw_ept *e, const char *who, const char *name, uint32_t addr, uint32_t flags);

/* What a program provides. */
struct fw_app {
  const char *name;
  /* Creates the program's endpoints; called each time the host sets DRIVER_OK. */
  void (*start)(void);
  fw_ns_cb ns;
};
extern const struct fw_app fw_app;

/* Runs the device: waits for DRIVER_OK, sets up the vrings, starts the app, serves. */
void fw_run(const char *machine) __attribute__((noreturn));

#endif
