/*
 * xlnx-versal-virt RPU core 0: PL011 UART0 at 0xFF000000, DDR at 0 (all of it shared with the
 * host through QEMU's memory backend). No timer is set up, so the idle wait is a plain poll.
 */
#include "../../core/fw.h"

#define UART0_DR (*(volatile uint32_t *)0xFF000000u)
#define UART0_FR (*(volatile uint32_t *)0xFF000018u)
#define UART_FR_TXFF (1u << 5)

void plat_init(void) {}

void plat_putc(char c) {
  for (int i = 0; i < 100000 && (UART0_FR & UART_FR_TXFF); i++) {}
  UART0_DR = (uint8_t)c;
}

int main(void) {
  plat_init();
  fw_run("versal-r5");
}
