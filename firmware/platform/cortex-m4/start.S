/* Cortex-M4 firmware entry: vector table first (VTOR points here), then reset and faults. */
  .syntax unified
  .thumb
  .section .vectors, "a"
  .global fw_vectors
fw_vectors:
  .word __stack_top
  .word _start + 1
  .word fault_entry + 1     /* NMI */
  .word fault_entry + 1     /* HardFault */
  .word fault_entry + 1     /* MemManage */
  .word fault_entry + 1     /* BusFault */
  .word fault_entry + 1     /* UsageFault */
  .word 0, 0, 0, 0
  .word fault_entry + 1     /* SVCall */
  .word 0, 0
  .word fault_entry + 1     /* PendSV */
  .word systick_entry + 1   /* SysTick: only wakes the idle wait */

  .text
  .thumb_func
  .global _start
_start:
  ldr r0, =__bss_start
  ldr r1, =__bss_end
  movs r2, #0
1:
  cmp r0, r1
  bhs 2f
  str r2, [r0], #4
  b 1b
2:
  bl main
3:
  wfi
  b 3b

  .thumb_func
systick_entry:
  bx lr

  .thumb_func
fault_entry:
  tst lr, #4
  ite eq
  mrseq r0, msp
  mrsne r0, psp
  ldr r1, [r0, #24]         /* stacked PC */
  mrs r0, ipsr
  bl m4_fault
4:
  cpsid i
  wfi
  b 4b
