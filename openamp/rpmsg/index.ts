// The RPMsg stack's public surface: the contract (api.ts) and its virtio implementation.
export * from './api.js';
export * from './errors.js';
export { encodeNsMessage, decodeNsMessage, encodeRpmsgHeader, decodeRpmsgHeader, encodeRpmsgName, type RpmsgHeader } from './wire.js';
export { type RpmsgVirtioOptions, type RpmsgStats, VirtioRpmsgDevice } from './virtio-rpmsg-device.js';
export { createRpmsgHost, VirtioRpmsgHost, rpmsgBufferCount, RPMSG_MAX_NUM_BUFS, RPMSG_HOST_SUPPORTED_FEATURES } from './host.js';
export { createRpmsgRemote, VirtioRpmsgRemote } from './remote.js';
export { DEFAULT_SEND_TIMEOUT_MS, DEFAULT_RECEIVE_TIMEOUT_MS } from './endpoint.js';
