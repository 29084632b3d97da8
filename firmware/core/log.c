/* Logging to the UART and to the trace buffer, and the crash record. */
#include "fw.h"

#define TRACE_TEXT (FW_TRACE_SIZE - FW_CRASH_RECORD_SIZE)
static uint32_t trace_pos;

static void emit(char c) {
  char *t = plat_trace();
  /* The UART's kick byte means "look at the rings" to the host, never text. */
  plat_putc(c == FW_KICK_BYTE ? '?' : c);
  if (t) {
    t[trace_pos] = c;
    trace_pos = (trace_pos + 1) % (TRACE_TEXT - 1);
    t[trace_pos] = 0; /* readers stop at the first NUL, as Linux's debugfs trace does */
  }
}

static void emit_str(const char *s) {
  if (!s) s = "(null)";
  for (uint32_t i = 0; s[i] && i < 256; i++) emit(s[i]);
}

static void emit_num(uint32_t v, uint32_t base, int width, int zero) {
  char buf[12];
  int n = 0;
  do {
    uint32_t d = v % base;
    buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v && n < 11);
  while (n < width && width <= 11) buf[n++] = zero ? '0' : ' ';
  while (n) emit(buf[--n]);
}

void fw_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (const char *p = fmt; *p; p++) {
    if (*p != '%') {
      if (*p == '\n') emit('\r');
      emit(*p);
      continue;
    }
    p++;
    int zero = 0, width = 0;
    if (*p == '0') { zero = 1; p++; }
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    switch (*p) {
      case 's': emit_str(va_arg(ap, const char *)); break;
      case 'u': emit_num(va_arg(ap, uint32_t), 10, width, zero); break;
      case 'x': emit_num(va_arg(ap, uint32_t), 16, width, zero); break;
      case 'c': emit((char)va_arg(ap, int)); break;
      case '%': emit('%'); break;
      case 0: p--; break;
      default: emit('?'); break;
    }
  }
  va_end(ap);
}

void fw_crash_record(uint32_t kind, uint32_t cause, uint32_t pc, uint32_t addr) {
  char *t = plat_trace();
  fw_log("\n*** CRASH kind=%u cause=0x%x pc=0x%08x addr=0x%08x\n", kind, cause, pc, addr);
  if (!t) return;
  volatile struct fw_crash_record *r = (volatile struct fw_crash_record *)(void *)(t + TRACE_TEXT);
  r->kind = kind;
  r->cause = cause;
  r->pc = pc;
  r->addr = addr;
  __sync_synchronize();
  r->magic = FW_CRASH_MAGIC; /* last, so a reader never sees a half-written record */
  __sync_synchronize();
}

void fw_exit(int code) {
  char *t = plat_trace();
  fw_log("fw: %s exits (%u)\n", fw_app.name, (uint32_t)code);
  if (t) {
    volatile struct fw_crash_record *r = (volatile struct fw_crash_record *)(void *)(t + TRACE_TEXT);
    r->kind = 0;
    r->cause = (uint32_t)code;
    __sync_synchronize();
    r->magic = FW_EXIT_MAGIC;
    __sync_synchronize();
  }
  plat_exit(code);
}

void fw_heartbeat(void) {
  char *t = plat_trace();
  if (t) ((volatile struct fw_crash_record *)(void *)(t + TRACE_TEXT))->heartbeat++;
}

void fw_rsc_init(volatile struct fw_resource_table *t, uint32_t vring0_da, uint32_t vring1_da, uint32_t trace_da) {
  char *tr = plat_trace();
  if (tr) fw_memset(tr, 0, FW_TRACE_SIZE);
  trace_pos = 0;
  fw_memset((void *)t, 0, sizeof *t);
  t->ver = 1;
  t->num = 2;
  t->offset[0] = offsetof(struct fw_resource_table, vdev);
  t->offset[1] = offsetof(struct fw_resource_table, trace);
  t->vdev.type = RSC_VDEV;
  t->vdev.id = VIRTIO_ID_RPMSG;
  t->vdev.notifyid = 0;
  t->vdev.dfeatures = VIRTIO_RPMSG_F_NS;
  t->vdev.num_of_vrings = 2;
  t->vdev.vring[0].da = vring0_da;
  t->vdev.vring[0].align = FW_VRING_ALIGN;
  t->vdev.vring[0].num = FW_VRING_NUM;
  t->vdev.vring[0].notifyid = 1;
  t->vdev.vring[1].da = vring1_da;
  t->vdev.vring[1].align = FW_VRING_ALIGN;
  t->vdev.vring[1].num = FW_VRING_NUM;
  t->vdev.vring[1].notifyid = 2;
  t->trace.type = RSC_TRACE;
  t->trace.da = trace_da;
  t->trace.len = FW_TRACE_SIZE;
  const char *n = "fw_trace";
  for (int i = 0; n[i]; i++) t->trace.name[i] = n[i];
}
