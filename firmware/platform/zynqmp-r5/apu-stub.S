/*
 * xlnx-zcu102 APU boot stub (QEMU's loader device starts it on A53 core 0). It plays the
 * platform-management firmware: waits for the host's start request in the mailbox at the top
 * of DDR, powers RPU core 0 (CPU 4 of the machine, MPIDR affinity 4) on at the requested entry
 * with PSCI CPU_ON over SMC (QEMU implements PSCI itself on this machine when secure=off: no
 * RPU release register is modelled), acks, and halts. Stopping is a new QEMU (the farm relaunches
 * it), so the stub starts the R5 once. Mailbox (the request word last, so the entry is there
 * when it is seen): +0 u32 entry, +4 u32 ack ('STAR' once CPU_ON succeeded, else 'FAIL'
 * 0x4C494146 with the PSCI result at +12), +8 u32 request (0x52415453 'STAR').
 */
  .section .text
  .global _start
_start:
  msr daifset, #0xf
  mrs x0, mpidr_el1
  and x0, x0, #0xff
  cbnz x0, halt
  ldr x5, =0x0FFF0000       /* mailbox */
  ldr w6, =0x52415453
1:
  ldr w1, [x5, #8]
  cmp w1, w6
  b.ne 1b
  dsb sy
  ldr w2, [x5]              /* entry */
  ldr x0, =0xC4000003       /* PSCI CPU_ON (SMC64) */
  mov x1, #4                /* target: RPU core 0 */
  mov x3, #0                /* context id */
  smc #0
  cbnz x0, failed
  str w6, [x5, #4]
  dsb sy
  b halt
failed:
  str w0, [x5, #12]
  ldr w1, =0x4C494146
  str w1, [x5, #4]
  dsb sy
halt:
  wfi
  b halt
