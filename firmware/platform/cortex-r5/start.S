/*
 * Cortex-R5F entry of the R5 machines (versal-r5, zynqmp-r5): vectors, bss, main, exception
 * records. The machines differ in how the core leaves reset, chosen by the Makefile:
 *  - R5_PARK_OTHER_CORES (xlnx-versal-virt): the APU stub releases core 0 at 0 (DDR); any other
 *    core that runs parks.
 *  - R5_HIGH_VECTORS_AT_RESET (xlnx-zcu102): PSCI CPU_ON from the APU stub enters _start in DDR
 *    on the one core it powered on; the core leaves reset with high vectors (SCTLR.V:
 *    0xFFFF0000, OCM) and the image links its vectors at 0, so V is cleared first.
 */
  .syntax unified
  .arm
  .section .vectors, "ax"
  .global _start
vectors:
  b _start
  b undef_entry
  b svc_entry
  b pabt_entry
  b dabt_entry
  b .
  b irq_entry
  b fiq_entry

_start:
#if defined(R5_PARK_OTHER_CORES)
  mrc p15, 0, r0, c0, c0, 5   /* MPIDR: only core 0 runs the firmware */
  ands r0, r0, #0xff
  bne park
#elif defined(R5_HIGH_VECTORS_AT_RESET)
  mrc p15, 0, r0, c1, c0, 0   /* SCTLR */
  bic r0, r0, #(1 << 13)      /* V = 0: vectors at 0, where this image puts them */
  mcr p15, 0, r0, c1, c0, 0
  isb
#else
#error "choose how this R5 machine leaves reset: R5_PARK_OTHER_CORES or R5_HIGH_VECTORS_AT_RESET"
#endif
  ldr sp, =__stack_top
  ldr r0, =__bss_start
  ldr r1, =__bss_end
  mov r2, #0
1:
  cmp r0, r1
  strlo r2, [r0], #4
  blo 1b
  bl main
park:
  wfi
  b park

undef_entry:
  mov r0, #1
  sub r1, lr, #4
  mov r2, #0
  b fault_common
svc_entry:
  mov r0, #2
  sub r1, lr, #4
  mov r2, #0
  b fault_common
pabt_entry:
  mov r0, #3
  sub r1, lr, #4
  mrc p15, 0, r2, c6, c0, 2   /* IFAR */
  b fault_common
dabt_entry:
  mov r0, #4
  sub r1, lr, #8
  mrc p15, 0, r2, c6, c0, 0   /* DFAR */
  b fault_common
irq_entry:
  mov r0, #6
  sub r1, lr, #4
  mov r2, #0
  b fault_common
fiq_entry:
  mov r0, #7
  sub r1, lr, #4
  mov r2, #0
fault_common:
  ldr sp, =__stack_top
  bl r5_fault
  cpsid if
2:
  wfi
  b 2b
