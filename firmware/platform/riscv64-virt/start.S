/* RISC-V virt, hart 0 in M-mode (QEMU -bios none jumps here, to the start of DRAM). */
  .section .text.start, "ax"
  .global _start
_start:
  csrw mie, zero
  la sp, __stack_top
  la t0, trap_entry
  csrw mtvec, t0
  la t0, __bss_start
  la t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd zero, 0(t0)
  addi t0, t0, 8
  j 1b
2:
  call main
3:
  wfi
  j 3b

  .balign 4
trap_entry:
  la sp, __stack_top
  csrr a0, mcause
  csrr a1, mepc
  csrr a2, mtval
  call riscv_trap
4:
  wfi
  j 4b
