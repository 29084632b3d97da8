/*
 * xlnx-versal-virt RPU core 0: PL011 UART0 at 0xFF000000, DDR at 0 (all of it shared with the
 * host through QEMU's memory backend). No timer is set up, so the idle wait is a plain poll.
 */
#include "../../core/fw.h"

#define UART0_DR (*(volatile uint32_t *)0xFF000000u)
#define UART0_FR (*(volatile uint32_t *)0xFF000018u)
#define UART_FR_TXFF (1u << 5)
#define RAM_BASE 0x0u
#define RAM_SIZE (256u << 20)

void plat_init(void) {}

void plat_putc(char c) {
  for (int i = 0; i < 100000 && (UART0_FR & UART_FR_TXFF); i++) {}
  UART0_DR = (uint8_t)c;
}

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

int main(void) {
  plat_init();
  fw_run("versal-r5");
}
