/**
 * What the board double needs on this machine (the project's own tests, not a lab with real
 * boards): `run-with-double.js --check` lists it, `--fix` installs it as root (npm run setup).
 */
import { spawnSync } from 'node:child_process';
import { findExecutable } from '../../../base/process/managed-process.js';
import { toolPrerequisite as tool } from '../../tool-prerequisite.js';
import type { Prerequisite } from '../../target.js';

function fuseHeaders(): Prerequisite {
  const found = spawnSync('pkg-config', ['--exists', 'fuse3']).status === 0;
  return { name: 'libfuse3 headers (FUSE bridge build)', ok: found, detail: found ? 'pkg-config finds fuse3' : 'pkg-config finds no fuse3', debianPackages: ['libfuse3-dev', 'pkg-config'] };
}

export function doublePrerequisites(): Prerequisite[] {
  return [
    tool('sshd (OpenSSH server of the board double)', '/usr/sbin/sshd', 'openssh-server'),
    tool('ssh-keygen (keys of the board double)', 'ssh-keygen', 'openssh-client'),
    tool('openssl (root password hash of the board double)', 'openssl', 'openssl'),
    tool('fusermount3 (FUSE)', 'fusermount3', 'fuse3'),
    tool('pkg-config', 'pkg-config', 'pkg-config'),
    fuseHeaders(),
    tool('gcc (FUSE bridge, host rpmsg helper)', 'gcc', 'gcc'),
    tool('arm-linux-gnueabihf-gcc (STM32MP157 rpmsg helper)', 'arm-linux-gnueabihf-gcc', 'gcc-arm-linux-gnueabihf'),
    {
      name: 'aarch64 C library (aarch64 rpmsg helper)',
      ok: spawnSync('test', ['-f', '/usr/aarch64-linux-gnu/include/stdio.h']).status === 0,
      detail: '/usr/aarch64-linux-gnu/include/stdio.h',
      debianPackages: ['libc6-dev-arm64-cross', 'gcc-aarch64-linux-gnu'],
    },
    // The emulated remote cores and their reference firmware (also the main farm's prerequisites).
    tool('qemu-system-arm (the MP157 double\'s Cortex-M4)', 'qemu-system-arm', 'qemu-system-arm'),
    tool('qemu-system-aarch64 (the ZynqMP double\'s Cortex-R5F)', 'qemu-system-aarch64', 'qemu-system-arm'),
    tool('arm-none-eabi-gcc (reference firmware of the doubles)', 'arm-none-eabi-gcc', 'gcc-arm-none-eabi'),
    tool('aarch64-linux-gnu-gcc (the ZynqMP double\'s A53 boot stub)', 'aarch64-linux-gnu-gcc', 'gcc-aarch64-linux-gnu'),
    tool('unshare (private mount namespace)', 'unshare', 'util-linux'),
    tool('setpriv', 'setpriv', 'util-linux'),
    tool('make', 'make', 'make'),
    { name: '/dev/fuse', ok: findExecutable('/dev/fuse') !== undefined || spawnSync('test', ['-c', '/dev/fuse']).status === 0, detail: '/dev/fuse', hint: 'load the fuse module (modprobe fuse)' },
    { name: 'root (mounts in a namespace)', ok: process.getuid?.() === 0, detail: `uid ${process.getuid?.()}`, hint: 'the board double mounts over kernel paths: run its tests as root' },
  ];
}
