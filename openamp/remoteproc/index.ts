export * from './remoteproc-errors.js';
export * from './remoteproc-ops.js';
export * from './carveout-allocator.js';
export * from './remoteproc.js';
