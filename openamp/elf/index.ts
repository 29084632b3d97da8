export * from './elf-constants.js';
export * from './elf-error.js';
export * from './parse-elf.js';
export * from './build-elf.js';
export * from './check-machine.js';
