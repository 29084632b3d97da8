/*
 * The resource table of the bare-metal remotes, in .resource_table: one vdev (RPMsg, NS
 * feature) with two 256-entry vrings whose addresses the host assigns (ANY), and one trace
 * buffer. Written in assembly so the trace buffer's address can be a link-time constant on
 * every machine (a 32-bit word even on RV64). Layout = struct fw_resource_table in fw.h.
 */
#define ANY 0xFFFFFFFF
  .section .resource_table, "aw"
  .balign 8
  .global fw_resource_table
fw_resource_table:
  .word 1, 2, 0, 0          /* ver, num, reserved[2] */
  .word 24, 92              /* offset[0] = vdev, offset[1] = trace */
  /* vdev @24 */
  .word 3, 7, 0, 1, 0, 0    /* type VDEV, id RPMSG, notifyid, dfeatures NS, gfeatures, config_len */
  .byte 0, 2, 0, 0          /* status, num_of_vrings, reserved[2] */
  .word ANY, 0x1000, 256, 1, 0  /* vring 0: remote -> host */
  .word ANY, 0x1000, 256, 2, 0  /* vring 1: host -> remote */
  /* trace @92 */
  .word 2, fw_trace_buffer, 4096, 0
  .ascii "fw_trace"
  .space 24
  .size fw_resource_table, . - fw_resource_table

  .section .bss.fw_trace, "aw", %nobits
  .balign 64
  .global fw_trace_buffer
fw_trace_buffer:
  .space 4096
