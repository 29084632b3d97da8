/*
 * What the R5 machines (versal-r5, zynqmp-r5) share below their UART: DDR at 0 (all of it shared
 * with the host through QEMU's memory backend), no timer (the idle wait is a plain poll), the
 * fault and hang words, and the exception record start.S hands over.
 */
#include "../../core/fw.h"

#define RAM_BASE 0x0u
#define RAM_SIZE (256u << 20)

void *plat_phys(uint64_t pa, uint32_t len) { return fw_ram_window(pa, len, RAM_BASE, RAM_SIZE); }

int plat_wait(int busy) {
  (void)busy;
  return 0;
}

void plat_fault(void) {
  __asm__ volatile("udf #0");
  for (;;) {}
}

void plat_hang(void) {
  __asm__ volatile("cpsid if");
  for (;;) __asm__ volatile("wfi");
}

void r5_fault(uint32_t exception, uint32_t pc, uint32_t addr) {
  fw_crash_record(1, exception, pc, addr);
}
