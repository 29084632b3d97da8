/* RISC-V virt: NS16550A UART at 0x10000000, CLINT timer for idle waits, all of DRAM shared. */
#include "../../core/fw.h"

#define UART0 ((volatile uint8_t *)0x10000000u)
#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define CLINT_MTIMECMP ((volatile uint64_t *)0x02004000u)
#define CLINT_MTIME ((volatile uint64_t *)0x0200BFF8u)
#define MIE_MTIE (1u << 7)
#define RAM_BASE 0x80000000u
#define RAM_SIZE (64u << 20)
/* Spin this many idle rounds after the last work before sleeping on the timer. */
#define SPIN_ROUNDS 20000u
#define IDLE_TICKS 500u /* 50 us at the virt machine's 10 MHz timebase */

void plat_init(void) {}

void plat_putc(char c) {
  for (int i = 0; i < 100000 && !(UART0[UART_LSR] & UART_LSR_THRE); i++) {}
  UART0[UART_THR] = (uint8_t)c;
}

void *plat_phys(uint64_t pa, uint32_t len) { return fw_ram_window(pa, len, RAM_BASE, RAM_SIZE); }

static uint32_t idle_rounds;

int plat_wait(int busy) {
  if (busy) { idle_rounds = 0; return 0; }
  if (++idle_rounds < SPIN_ROUNDS) return 0;
  /* Sleep until the timer fires (interrupts stay globally off: wfi still wakes on pending). */
  *CLINT_MTIMECMP = *CLINT_MTIME + IDLE_TICKS;
  __asm__ volatile("csrs mie, %0" ::"r"(MIE_MTIE));
  __asm__ volatile("wfi");
  __asm__ volatile("csrc mie, %0" ::"r"(MIE_MTIE));
  *CLINT_MTIMECMP = ~0ull;
  return 0;
}

void plat_fault(void) {
  __asm__ volatile("unimp");
  for (;;) __asm__ volatile("wfi");
}

void plat_hang(void) {
  __asm__ volatile("csrw mie, zero");
  for (;;) __asm__ volatile("wfi");
}

void riscv_trap(uint64_t cause, uint64_t pc, uint64_t tval) {
  fw_crash_record(1, (uint32_t)cause, (uint32_t)pc, (uint32_t)tval);
}

int main(void) {
  plat_init();
  fw_run("riscv64-virt");
}
