import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { parseQemuLinuxParams } from './qemu-linux-params.js';
import { qemuLinuxArgs } from './qemu-linux-system.js';
import { checkVerdicts, allVerdictLinesSeen } from './verdicts.js';

process.env.QL_TEST_KERNEL = 'kernel-from-env';
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKsnX7TM3o6E7CJ52He1+t2gJtm+eavYIwlmtsFky4m8';

function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    qemu: { machine: 'virt', bios: 'default' },
    kernel: 'images/Image',
    initrd: 'images/rootfs.cpio.gz',
    ssh: { user: 'root', privateKey: 'keys/farm', hostKey: HOST_KEY },
    ...extra,
  };
}

test('qemu-linux params: defaults, paths relative to farm.yaml, ${ENV} in paths and ssh, commands with verdicts', () => {
  const params = parseQemuLinuxParams(
    minimal({
      kernel: '${QL_TEST_KERNEL}',
      remoteConsole: { prompt: 'msh />' },
      commands: [
        { name: 'load', run: 'load_fw-shared rtos 1', expect: ['successfully started'] },
        { name: 'msh', on: 'remote-console', expect: [{ pattern: 'msh />' }], timeoutMs: 5000 },
        { name: 'ping', run: 'rpmsg-sample-ping-shared', exitCode: 1, expect: [{ pattern: 'Error count = (\\d+)', equals: 0 }] },
      ],
    }),
    'targets[0].params',
    '/farm',
  );
  assert.equal(params.kernel, '/farm/kernel-from-env');
  assert.equal(params.initrd, '/farm/images/rootfs.cpio.gz');
  assert.equal(params.ssh.privateKey, '/farm/keys/farm');
  assert.equal(params.ssh.host, '127.0.0.1');
  assert.equal(params.guestSshPort, 22);
  assert.equal(params.append, 'console=ttyS0');
  assert.deepEqual(params.qemu, { binary: 'qemu-system-riscv64', machine: 'virt', cpus: 2, memoryMiB: 512, bios: 'default', netDevice: 'virtio-net-pci', blockDevice: 'virtio-blk-device', extraArgs: [] });
  assert.deepEqual(params.remoteConsole, { device: 'virtconsole', prompt: 'msh />' });
  assert.deepEqual(params.commands.map((command) => [command.name, command.on, command.run, command.timeoutMs, command.exitCode]), [
    ['load', 'ssh', 'load_fw-shared rtos 1', 60_000, 0],
    ['msh', 'remote-console', undefined, 5000, undefined],
    ['ping', 'ssh', 'rpmsg-sample-ping-shared', 60_000, 1],
  ]);
  assert.deepEqual(params.commands[2]?.expect, [{ pattern: 'Error count = (\\d+)', equals: '0' }]);
});

test('qemu-linux params: each mistake is one ConfigError naming its field', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...minimal(), kernel: undefined }, 'p.kernel', /is required/],
    [{ ...minimal(), initrd: undefined }, 'p.initrd', /or rootfs is required/],
    [{ ...minimal(), qemu: { bios: 'default' } }, 'p.qemu.machine', /is required/],
    [{ ...minimal(), qemu: { machine: 'virt', extraArgs: '-s' } }, 'p.qemu.extraArgs', /list/],
    [{ ...minimal(), qemu: { machine: 'virt', blockDevice: 'virtio blk' } }, 'p.qemu.blockDevice', /device model/],
    [{ ...minimal(), ssh: { user: 'root', privateKey: 'k' } }, 'p.ssh.hostKey', /is required/],
    [{ ...minimal(), ssh: { user: 'root', privateKey: 'k', hostKey: 'ssh-ed25519 !!!' } }, 'p.ssh.hostKey', /host key/],
    [{ ...minimal(), ssh: { user: 'root', hostKey: HOST_KEY } }, 'p.ssh', /privateKey/],
    [{ ...minimal(), ssh: { user: 'root', privateKey: 'k', hostKey: HOST_KEY, knownHosts: 'kh' } }, 'p.ssh.knownHosts', /unknown parameter/],
    [minimal({ remoteConsole: { device: 'usb' , prompt: '>' } }), 'p.remoteConsole.device', /virtconsole or serial/],
    [minimal({ remoteConsole: {} }), 'p.remoteConsole.prompt', /is required/],
    [minimal({ commands: [{ run: 'x' }] }), 'p.commands[0].name', /is required/],
    [minimal({ commands: [{ name: 'a', run: 'x' }, { name: 'a', run: 'y' }] }), 'p.commands[1].name', /duplicate/],
    [minimal({ commands: [{ name: 'a' }] }), 'p.commands[0].run', /required for an ssh command/],
    [minimal({ commands: [{ name: 'a', on: 'remote-console', run: 'x' }] }), 'p.commands[0].on', /no remoteConsole/],
    [minimal({ remoteConsole: { prompt: '>' }, commands: [{ name: 'a', on: 'remote-console' }] }), 'p.commands[0].expect', /waits for these lines/],
    [minimal({ remoteConsole: { prompt: '>' }, commands: [{ name: 'a', on: 'remote-console', run: 'x', exitCode: 0 }] }), 'p.commands[0].exitCode', /no exit status/],
    [minimal({ commands: [{ name: 'a', run: 'x\ny' }] }), 'p.commands[0].run', /one line/],
    [minimal({ commands: [{ name: 'a', run: 'x', expect: [{ pattern: '(' }] }] }), 'p.commands[0].expect[0].pattern', /not a valid regular expression/],
    [minimal({ commands: [{ name: 'a', run: 'x', expect: [{ pattern: 'Error count = 0', equals: 0 }] }] }), 'p.commands[0].expect[0].equals', /needs a group/],
    [minimal({ commands: [{ name: 'a', run: 'x', timeoutMs: 10 }] }), 'p.commands[0].timeoutMs', /integer/],
    [minimal({ unknown: 1 }), 'p.unknown', /unknown parameter/],
  ];
  for (const [raw, field, message] of cases) {
    assert.throws(
      () => parseQemuLinuxParams(raw, 'p', '/farm'),
      (error: unknown) => error instanceof ConfigError && error.message.includes(field) && message.test(error.message),
      `${field} ${String(message)}`,
    );
  }
});

test('qemu-linux: QEMU command line forwards SSH from 127.0.0.1 only, never writes a rootfs image, wires the remote console', () => {
  const files = { qmp: '/tmp/x.qmp', uart: '/tmp/x.uart', remoteConsole: '/tmp/x.console2' };
  const args = qemuLinuxArgs(parseQemuLinuxParams(minimal({ remoteConsole: { prompt: 'msh />' }, rootfs: '/img/rootfs.ext2', initrd: undefined, qemu: { machine: 'virt', extraArgs: ['-s'] } }), 'p', '/farm'), files, 40022);
  const joined = args.join(' ');
  assert.match(joined, /-netdev user,id=farm-net,hostfwd=tcp:127\.0\.0\.1:40022-:22 -device virtio-net-pci,netdev=farm-net,romfile= /);
  assert.match(joined, /-drive file=\/img\/rootfs\.ext2,format=raw,if=none,id=farm-rootfs,snapshot=on -device virtio-blk-device,drive=farm-rootfs/);
  assert.match(joined, /-chardev socket,id=farm-remote-console,path=\/tmp\/x\.console2,server=on,wait=off -device virtio-serial-pci -device virtconsole,chardev=farm-remote-console/);
  assert.match(joined, /-serial chardev:farm-uart0 -qmp unix:\/tmp\/x\.qmp,server=on,wait=off/);
  assert.ok(!args.includes('-initrd') && !args.includes('-bios'));
  assert.deepEqual(args.slice(-2), ['-S', '-s'], 'starts paused; the user\'s extra args last');
  const mmio = qemuLinuxArgs(parseQemuLinuxParams(minimal({ remoteConsole: { device: 'serial', prompt: '>' }, qemu: { machine: 'virt', netDevice: 'virtio-net-device' } }), 'p', '/farm'), files, 1).join(' ');
  assert.match(mmio, /-device virtio-net-device,netdev=farm-net -/);
  assert.match(mmio, /-serial chardev:farm-remote-console/);
});

test('verdicts: a pattern must match a line; with equals every matching line\'s group must be the value', () => {
  const output = 'sending\r\n Test Results: Error count = 0\r\nCLIENT> Test Results: Error count = 0\n';
  const errorCount = { pattern: 'Test Results: Error count = (\\d+)', equals: '0' };
  assert.deepEqual(checkVerdicts(output, [errorCount]).map((verdict) => verdict.ok), [true]);
  const failed = checkVerdicts('Test Results: Error count = 0\nTest Results: Error count = 3\n', [errorCount])[0];
  assert.equal(failed?.ok, false);
  assert.match(failed?.detail ?? '', /got "3", expected "0"/);
  const missing = checkVerdicts('Quitting application\n', [errorCount, { pattern: 'Quitting', equals: undefined }]);
  assert.deepEqual(missing.map((verdict) => verdict.ok), [false, true]);
  assert.match(missing[0]?.detail ?? '', /no line matches/);
  assert.equal(allVerdictLinesSeen('a\nb', [{ pattern: '^a$', equals: undefined }, { pattern: '^b$', equals: undefined }]), true);
  assert.equal(allVerdictLinesSeen('a\n', [{ pattern: '^a$', equals: undefined }, { pattern: '^b$', equals: undefined }]), false);
});
