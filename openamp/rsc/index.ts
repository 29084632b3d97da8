export * from './rsc-layout.js';
export * from './rsc-error.js';
export * from './parse-resource-table.js';
export * from './patch-resource-table.js';
export * from './build-resource-table.js';
export * from './vdev-transport.js';
export * from './trace-buffer.js';
