/* mps2-an386 (Cortex-M4): CMSDK UART0, SysTick for idle waits, the 16 MiB PSRAM shared. */
#include "../../core/fw.h"

#define UART0_DATA (*(volatile uint32_t *)0x40004000u)
#define UART0_STATE (*(volatile uint32_t *)0x40004004u)
#define UART0_CTRL (*(volatile uint32_t *)0x40004008u)
#define UART0_BAUDDIV (*(volatile uint32_t *)0x40004010u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_CFSR (*(volatile uint32_t *)0xE000ED28u)
#define SCB_BFAR (*(volatile uint32_t *)0xE000ED38u)
#define RAM_BASE 0x21000000u
#define RAM_SIZE (16u << 20)
#define SPIN_ROUNDS 20000u
#define IDLE_CYCLES 1250u /* 50 us at 25 MHz */

void plat_init(void) {
  UART0_BAUDDIV = 16;
  UART0_CTRL = 1; /* TX enable */
  __asm__ volatile("cpsie i");
}

void plat_putc(char c) {
  for (int i = 0; i < 100000 && (UART0_STATE & 1u); i++) {}
  UART0_DATA = (uint8_t)c;
}

void *plat_phys(uint64_t pa, uint32_t len) { return fw_ram_window(pa, len, RAM_BASE, RAM_SIZE); }

static uint32_t idle_rounds;

int plat_wait(int busy) {
  if (busy) { idle_rounds = 0; return 0; }
  if (++idle_rounds < SPIN_ROUNDS) return 0;
  SYST_RVR = IDLE_CYCLES;
  SYST_CVR = 0;
  SYST_CSR = 7; /* enable, interrupt, core clock */
  __asm__ volatile("wfi");
  SYST_CSR = 0;
  return 0;
}

void plat_fault(void) {
  __asm__ volatile("udf #0");
  for (;;) {}
}

void plat_hang(void) {
  SYST_CSR = 0;
  __asm__ volatile("cpsid i");
  for (;;) __asm__ volatile("wfi");
}

void m4_fault(uint32_t exception, uint32_t pc) {
  fw_crash_record(1, exception | (SCB_CFSR << 8), pc, SCB_BFAR);
}

int main(void) {
  plat_init();
  fw_run("cortex-m4");
}
