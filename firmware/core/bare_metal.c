/*
 * What the bare-metal machines share: the resource table and trace buffer of core/rsc_table.S,
 * and ending a program by parking the core (the exit record is already written).
 */
#include "fw.h"

extern volatile struct fw_resource_table fw_resource_table;
extern char fw_trace_buffer[];

volatile struct fw_resource_table *plat_rsc(void) { return &fw_resource_table; }
char *plat_trace(void) { return fw_trace_buffer; }

void plat_exit(int code) {
  fw_log("fw: exit %u\n", (uint32_t)code);
  plat_hang();
}
