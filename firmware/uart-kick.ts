/**
 * The bare-metal reference firmware's guest -> host doorbell: one FW_KICK_BYTE on the console
 * UART each time it would interrupt the host (firmware/core/fw.h, core/bare_metal.c). ASCII ENQ;
 * the firmware's log never contains it (fw_log writes '?' instead), so the host can strip it.
 */
export const FIRMWARE_KICK_BYTE = 0x05;
