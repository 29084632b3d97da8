/*
 * The resource table of the bare-metal remotes, in .resource_table: a carveout for the RPMsg
 * buffers (Linux takes them from the carveout named vdev0buffer), one vdev (RPMsg, NS feature)
 * with two 256-entry vrings, and one trace buffer. Every address the host assigns is ANY.
 * Written in assembly so the trace buffer's address is a link-time 32-bit word on every
 * machine (RV64 included).
 */
#define ANY 0xFFFFFFFF
  .section .resource_table, "aw"
  .balign 8
  .global fw_resource_table
fw_resource_table:
  .word 1, 3, 0, 0          /* ver, num, reserved[2] */
  .word 28, 84, 152         /* offsets: carveout, vdev, trace */
  /* carveout @28: type, da, pa, len (512 buffers of 512 bytes), flags, reserved, name */
  .word 0, ANY, ANY, 0x40000, 0, 0
  .ascii "vdev0buffer"
  .space 21
  /* vdev @84 */
  .word 3, 7, 0, 1, 0, 0    /* type VDEV, id RPMSG, notifyid, dfeatures NS, gfeatures, config_len */
  .byte 0, 2, 0, 0          /* status, num_of_vrings, reserved[2] */
  .word ANY, 0x1000, 256, ANY, 0  /* vring 0: remote -> host */
  .word ANY, 0x1000, 256, ANY, 0  /* vring 1: host -> remote */
  /* trace @152 */
  .word 2, fw_trace_buffer, 4096, 0
  .ascii "trace0"
  .space 26
  .size fw_resource_table, . - fw_resource_table

  .section .bss.fw_trace, "aw", %nobits
  .balign 64
  .global fw_trace_buffer
fw_trace_buffer:
  .space 4096
