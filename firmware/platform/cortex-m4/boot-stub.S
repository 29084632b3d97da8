/*
 * mps2-an386 boot stub, loaded by QEMU at 0x0 (where the Cortex-M4 fetches its vector table).
 * It plays the part of a boot ROM: waits until the host writes the start request into the
 * mailbox at the top of shared RAM, then enters the firmware the host loaded there through
 * the firmware's own vector table. Mailbox: u32 magic 'BOOT' (0x544F4F42), u32 vector table.
 */
  .syntax unified
  .thumb
  .section .vectors, "a"
  .word 0x20001000          /* initial SP: SSRAM2 */
  .word stub_reset + 1
  .rept 14
  .word stub_park + 1
  .endr

  .text
  .thumb_func
  .global stub_reset
stub_reset:
  ldr r0, =0x21FFF000
  ldr r2, =0x544F4F42
1:
  ldr r1, [r0]
  cmp r1, r2
  bne 1b
  ldr r1, [r0, #4]
  ldr r3, =0xE000ED08       /* VTOR */
  str r1, [r3]
  dsb
  isb
  ldr r2, [r1]
  msr msp, r2
  ldr r2, [r1, #4]
  bx r2

  .thumb_func
stub_park:
  b stub_park
