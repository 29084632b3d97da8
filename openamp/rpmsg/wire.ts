import {
  RPMSG_HEADER_SIZE,
  RPMSG_NAME_SIZE,
  RPMSG_NS_CREATE,
  RPMSG_NS_DESTROY,
  RPMSG_NS_MESSAGE_SIZE,
  type NameServiceAnnouncement,
} from './api.js';
import { NameServiceMessageError, RpmsgConfigError } from './errors.js';

/** The 16-byte header in front of every RPMsg payload (struct rpmsg_hdr, packed, little-endian). */
export interface RpmsgHeader {
  src: number;
  dst: number;
  reserved: number;
  /** Payload length. */
  len: number;
  flags: number;
}

export function encodeRpmsgHeader(header: RpmsgHeader, target: Uint8Array, offset = 0): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, RPMSG_HEADER_SIZE);
  view.setUint32(0, header.src, true);
  view.setUint32(4, header.dst, true);
  view.setUint32(8, header.reserved, true);
  view.setUint16(12, header.len, true);
  view.setUint16(14, header.flags, true);
}

export function decodeRpmsgHeader(source: Uint8Array, offset = 0): RpmsgHeader {
  const view = new DataView(source.buffer, source.byteOffset + offset, RPMSG_HEADER_SIZE);
  return {
    src: view.getUint32(0, true),
    dst: view.getUint32(4, true),
    reserved: view.getUint32(8, true),
    len: view.getUint16(12, true),
    flags: view.getUint16(14, true),
  };
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

/** A channel name as the wire carries it: at most 31 bytes, so that a NUL always fits. */
export function encodeRpmsgName(name: string): Uint8Array {
  const bytes = utf8.encode(name);
  if (bytes.length === 0 || bytes.length >= RPMSG_NAME_SIZE || bytes.includes(0)) {
    throw new RpmsgConfigError(
      `RPMsg channel name ${JSON.stringify(name)} must be 1..${RPMSG_NAME_SIZE - 1} bytes of UTF-8 without NUL (is ${bytes.length})`,
    );
  }
  return bytes;
}

/** struct rpmsg_ns_msg: char name[32] @0, u32 addr @32, u32 flags @36. */
export function encodeNsMessage(announcement: NameServiceAnnouncement): Uint8Array {
  const message = new Uint8Array(RPMSG_NS_MESSAGE_SIZE);
  message.set(encodeRpmsgName(announcement.name), 0);
  const view = new DataView(message.buffer);
  view.setUint32(32, announcement.addr, true);
  view.setUint32(36, announcement.flags, true);
  return message;
}

/**
 * Parses an NS message. Anything but exactly 40 bytes is refused (as Linux and open-amp drop
 * it). The name ends at the first NUL, or after 31 bytes when the peer sent no NUL (both stacks
 * force the last byte to NUL). The DESTROY bit decides the kind, as both stacks test only it.
 */
export function decodeNsMessage(message: Uint8Array): NameServiceAnnouncement {
  if (message.length !== RPMSG_NS_MESSAGE_SIZE) {
    throw new NameServiceMessageError(`name-service message is ${message.length} bytes, must be exactly ${RPMSG_NS_MESSAGE_SIZE}`);
  }
  let end = message.indexOf(0);
  if (end < 0 || end > RPMSG_NAME_SIZE - 1) end = RPMSG_NAME_SIZE - 1;
  if (end === 0) throw new NameServiceMessageError('name-service message has an empty name');
  const view = new DataView(message.buffer, message.byteOffset, message.length);
  const flags = view.getUint32(36, true);
  return {
    name: utf8Decoder.decode(message.subarray(0, end)),
    addr: view.getUint32(32, true),
    flags: (flags & RPMSG_NS_DESTROY) !== 0 ? RPMSG_NS_DESTROY : RPMSG_NS_CREATE,
  };
}
