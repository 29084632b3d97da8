/*
 * xlnx-versal-virt APU boot stub (QEMU's loader device starts it on APU core 0). It plays the
 * platform-management firmware: waits for the host's start request in the mailbox at the top
 * of DDR, releases RPU core 0 from reset through CRL RST_CPU_R5 (core 1 stays in reset), acks,
 * and halts. Stopping is a machine reset through QMP, which puts the R5 back into reset and
 * restarts this stub. Mailbox: u32 request (0x52415453 'STAR'), u32 ack (same value once done).
 */
  .section .text
  .global _start
_start:
  msr daifset, #0xf
  mrs x0, mpidr_el1
  and x0, x0, #0xff
  cbnz x0, halt
  ldr x0, =0x0FFF0000       /* mailbox */
  ldr w2, =0x52415453
1:
  ldr w1, [x0]
  cmp w1, w2
  b.ne 1b
  ldr x3, =0xFF5E0300       /* CRL RST_CPU_R5 */
  mov w4, #0x2              /* release core 0 (bit 0), keep core 1 (bit 1) in reset */
  str w4, [x3]
  dsb sy
  str w2, [x0, #4]
  dsb sy
halt:
  wfi
  b halt
