/**
 * The resource table's binary layout (remoteproc.h in Linux and open-amp): little-endian,
 * packed. Field offsets are relative to the start of their entry (the `type` word).
 */

export const RSC_CARVEOUT = 0;
export const RSC_DEVMEM = 1;
export const RSC_TRACE = 2;
export const RSC_VDEV = 3;
/** Types 4..127 are unknown to Linux and open-amp: warned about and skipped. */
export const RSC_LAST = 4;
export const RSC_VENDOR_START = 128;
export const RSC_VENDOR_END = 512;

/** FW_RSC_ADDR_ANY / RSC_NOTIFY_ID_ANY: "the host chooses". */
export const FW_RSC_ADDR_ANY = 0xffffffff;
export const FW_RSC_NOTIFY_ID_ANY = 0xffffffff;

export const RSC_TABLE_VERSION = 1;
/** ver, num, reserved[2]; the u32 offset[num] array follows. */
export const RSC_HEADER_SIZE = 16;
export const RSC_NAME_SIZE = 32;
/** Linux's rproc_vdev has room for two vrings. */
export const RSC_MAX_VRINGS = 2;

export const CARVEOUT_FIELDS = { type: 0, da: 4, pa: 8, len: 12, flags: 16, reserved: 20, name: 24, size: 56 } as const;
/** Same layout as a carveout. */
export const DEVMEM_FIELDS = CARVEOUT_FIELDS;
export const TRACE_FIELDS = { type: 0, da: 4, len: 8, reserved: 12, name: 16, size: 48 } as const;
export const VDEV_FIELDS = {
  type: 0,
  id: 4,
  notifyid: 8,
  dfeatures: 12,
  gfeatures: 16,
  configLen: 20,
  status: 24,
  numOfVrings: 25,
  reserved: 26,
  vrings: 28,
  /** Fixed part, before the vrings. */
  size: 28,
} as const;
export const VRING_FIELDS = { da: 0, align: 4, num: 8, notifyid: 12, pa: 16, size: 20 } as const;
/** open-amp's fw_rsc_vendor: type, then the entry's total length in bytes. */
export const VENDOR_FIELDS = { type: 0, len: 4, size: 8 } as const;
