/*
 * What the bare-metal machines share: the resource table and trace buffer of core/rsc_table.S,
 * the shared-RAM window that keeps host-given addresses off the image, the kick (a byte on the
 * console UART), and ending a program by parking the core (the exit record is already written).
 */
#include "fw.h"

extern volatile struct fw_resource_table fw_resource_table;
extern char fw_trace_buffer[];

volatile struct fw_resource_table *plat_rsc(void) { return &fw_resource_table; }
char *plat_trace(void) { return fw_trace_buffer; }

/* Linker symbols (platform/<machine>/link.ld): the image from its first byte to its stack's top. */
extern char __image_start[], __stack_top[];

void *fw_ram_window(uint64_t pa, uint32_t len, uint64_t ram_base, uint64_t ram_size) {
  void *p = fw_window(pa, len, ram_base, ram_size, (void *)(uintptr_t)ram_base);
  /* A vring or buffer the host placed over our code, data or stack would have us overwrite
   * ourselves: refuse it like an address outside RAM (a logged protocol error). pa + len cannot
   * wrap: fw_window checked it lies inside the RAM. */
  if (p && pa < (uintptr_t)__stack_top && pa + len > (uintptr_t)__image_start) return NULL;
  return p;
}

/* Guest -> host doorbell: QEMU gives the host no interrupt from the guest, but it does read the
 * console UART (a pty). One byte per kick; the host turns it into a doorbell event and strips it
 * from the console. Host -> guest stays shared-memory polling (fw_run's idle loop). */
void plat_kick(void) { plat_putc((char)FW_KICK_BYTE); }

void plat_exit(int code) {
  fw_log("fw: exit %u\n", (uint32_t)code);
  plat_hang();
}
