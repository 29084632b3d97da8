import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinuxRemoteprocParams } from './linux-remoteproc-params.js';

const PATH = 'targets[0].params';

test('container: defaults (SSH port 22, host key read from the image\'s ed25519 key, a key of the farm\'s own for root)', () => {
  const params = parseLinuxRemoteprocParams({ preset: 'stm32mp157c-dk2', container: 'board-double' }, PATH);
  assert.ok(params.container);
  assert.equal(params.container.image, 'board-double');
  assert.equal(params.container.command, undefined, "the image's own command");
  assert.equal(params.container.sshPort, 22);
  assert.equal(params.container.hostKeyFile, '/etc/ssh/ssh_host_ed25519_key.pub');
  assert.equal(params.container.authorizedKeysFile, '/root/.ssh/authorized_keys');
  assert.equal(params.container.shmSizeBytes, 256 * 1024 * 1024);
  assert.equal(params.ssh?.user, 'root');
  assert.equal(params.ssh?.host, '127.0.0.1');
  assert.equal(params.ssh?.privateKey, undefined, 'the farm makes a key at each start');
  assert.equal(params.ssh?.hostKey, undefined, 'read from the container at each start');
  assert.equal(params.ssh?.knownHosts, undefined);
});

test('container: binds, devices, capabilities, env, a pinned host key and a user key are kept', () => {
  const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOWmPmzwfHoixmilQwutlEus2ax358TaJTtJSoF9ey9C';
  const params = parseLinuxRemoteprocParams(
    {
      remoteproc: 'r5_0',
      container: { image: 'openamp/demo-lite:latest', command: ['qemu-zcu102', 'demo1'], sshPort: 2222, binds: ['/usr/bin/node:/opt/farm/node:ro', 'build:/work'], devices: ['/dev/fuse'], capAdd: ['SYS_ADMIN'], securityOpt: ['apparmor=unconfined'], env: { DEMO: 'echo' }, shmSize: 1048576 },
      ssh: { user: 'petalinux', privateKey: 'keys/lab', hostKey },
    },
    PATH,
  );
  const container = params.container;
  assert.ok(container);
  assert.deepEqual(container.binds, [
    { host: '/usr/bin/node', container: '/opt/farm/node', readOnly: true },
    { host: 'build', container: '/work', readOnly: false },
  ]);
  assert.deepEqual([container.devices, container.capAdd, container.securityOpt, container.env, container.sshPort, container.shmSizeBytes], [['/dev/fuse'], ['SYS_ADMIN'], ['apparmor=unconfined'], { DEMO: 'echo' }, 2222, 1048576]);
  assert.equal(container.authorizedKeysFile, '/home/petalinux/.ssh/authorized_keys');
  assert.deepEqual(container.command, ['qemu-zcu102', 'demo1']);
  assert.equal(params.ssh?.privateKey, 'keys/lab');
  assert.equal(params.ssh?.hostKey, hostKey);
  assert.equal(params.ssh?.user, 'petalinux');
});

test('container: each bad value is one error naming its field', () => {
  const cases: [unknown, unknown, RegExp][] = [
    [{ image: 'x', sshPort: 0 }, undefined, /targets\[0\]\.params\.container\.sshPort: must be an integer from 1 to 65535/],
    [{ image: '' }, undefined, /params\.container\.image: must be a recipe name/],
    [{ image: 'x', binds: ['/a'] }, undefined, /params\.container\.binds\[0\]: must be a bind "HOST:CONTAINER\[:ro\]"/],
    [{ image: 'x', binds: ['/a:relative'] }, undefined, /params\.container\.binds\[0\]/],
    [{ image: 'x', devices: ['fuse'] }, undefined, /params\.container\.devices\[0\]: must be a device path/],
    [{ image: 'x', hostKeyFile: 'etc/key.pub' }, undefined, /params\.container\.hostKeyFile: must be an absolute path inside the container/],
    [{ image: 'x', env: { 'A B': 'c' } }, undefined, /params\.container\.env\.A B: must be NAME: string/],
    [{ image: 'x', network: 'host' }, undefined, /params\.container\.network: unknown parameter/],
    [{ image: 'x', command: [] }, undefined, /params\.container\.command: must be \[executable, args\.\.\.\]/],
    [{ image: 'x', command: 'run.sh' }, undefined, /params\.container\.command: must be a list of a non-empty string/],
    [{ image: 'x', securityOpt: ['apparmor unconfined'] }, undefined, /params\.container\.securityOpt\[0\]: must be a security option/],
    ['x', { host: 'board.lab' }, /params\.ssh\.host: is set by the farm for a container board/],
    ['x', { port: 2222 }, /params\.ssh\.port: is set by the farm/],
    ['x', { knownHosts: '~/.ssh/known_hosts' }, /params\.ssh\.knownHosts: is set by the farm/],
    ['x', { hostKey: 'ssh-ed25519 !!' }, /params\.ssh\.hostKey: must be the board's public host key/],
    ['x', { user: 'no body' }, /params\.ssh\.user: must be a user name/],
  ];
  for (const [container, ssh, error] of cases) {
    assert.throws(() => parseLinuxRemoteprocParams({ preset: 'stm32mp157c-dk2', container, ...(ssh ? { ssh } : {}) }, PATH), error, JSON.stringify([container, ssh]));
  }
});
