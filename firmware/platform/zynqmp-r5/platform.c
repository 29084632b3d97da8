/*
 * xlnx-zcu102 RPU core 0 (Cortex-R5F): Cadence UART0 (xuartps) at 0xFF000000, DDR at 0 (all of
 * it shared with the host through QEMU's memory backend). No RPU interrupt controller is
 * modelled and no timer is set up, so the idle wait is a plain poll and the doorbell to the host
 * is the kick byte on the UART.
 */
#include "../../core/fw.h"

#define UART0_CR (*(volatile uint32_t *)0xFF000000u)
#define UART0_MR (*(volatile uint32_t *)0xFF000004u)
#define UART0_SR (*(volatile uint32_t *)0xFF00002Cu)
#define UART0_FIFO (*(volatile uint32_t *)0xFF000030u)
#define UART_CR_RXRST (1u << 0)
#define UART_CR_TXRST (1u << 1)
#define UART_CR_RX_EN (1u << 2)
#define UART_CR_TX_EN (1u << 4)
#define UART_MR_8N1 0x20u /* 8 data bits, no parity, 1 stop bit, normal channel mode */
#define UART_SR_TXFULL (1u << 4)

void plat_init(void) {
  UART0_MR = UART_MR_8N1;
  UART0_CR = UART_CR_TXRST | UART_CR_RXRST;
  UART0_CR = UART_CR_TX_EN | UART_CR_RX_EN;
}

void plat_putc(char c) {
  for (int i = 0; i < 100000 && (UART0_SR & UART_SR_TXFULL); i++) {}
  UART0_FIFO = (uint8_t)c;
}

int main(void) {
  plat_init();
  fw_run("zynqmp-r5");
}
