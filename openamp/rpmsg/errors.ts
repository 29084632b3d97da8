import { InfrastructureError, ProtocolError } from '../../base/errors.js';

/** No transmit buffer became free in time (Linux: -ENOMEM after 15 s; open-amp: RPMSG_ERR_NO_BUFF). */
export class NoBufferError extends ProtocolError {}

/** A payload does not fit one buffer. RPMsg never splits or truncates a message. */
export class PayloadTooLargeError extends ProtocolError {
  constructor(
    readonly payloadLength: number,
    readonly maxPayload: number,
    why = `payload of ${payloadLength} bytes is larger than the ${maxPayload} bytes one buffer holds`,
  ) {
    super(why);
  }
}

/** A received buffer is not a valid RPMsg message (too short, or its len field overruns it). */
export class RpmsgHeaderError extends ProtocolError {}

/** A message to the name-service address is not a valid 40-byte NS message, or announces an address no channel may have. */
export class NameServiceMessageError extends ProtocolError {}

/** The peer announced more channels than the device keeps. */
export class NameServiceLimitError extends ProtocolError {}

/** The virtio status byte or the negotiated features are not what this side expects. */
export class DeviceStatusError extends ProtocolError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A send with no destination: the endpoint is not bound to a peer address yet. */
export class EndpointNotBoundError extends ProtocolError {}

/** The endpoint was destroyed or the device closed while the operation was pending. */
export class RpmsgClosedError extends ProtocolError {}

/** Bad options from our own side: missing buffer pool, name too long, address in use. */
export class RpmsgConfigError extends InfrastructureError {}
