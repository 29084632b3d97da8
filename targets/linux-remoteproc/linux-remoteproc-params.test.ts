import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { expandEnvReferences } from '../ssh/ssh-params.js';
import { parseLinuxRemoteprocParams } from './linux-remoteproc-params.js';

const ssh = { host: 'dk2.lab', privateKey: 'keys/dk2', knownHosts: 'keys/known_hosts' };

test('the stm32mp157c-dk2 preset fills in the M4 instance, the armhf helper and the kernel paths; fields override it', () => {
  const params = parseLinuxRemoteprocParams({ preset: 'stm32mp157c-dk2', ssh }, 'targets[0].params');
  assert.equal(params.remoteproc, 'm4');
  assert.equal(params.helperAbi, 'armhf');
  assert.equal(params.firmwareDir, '/lib/firmware');
  assert.equal(params.rpmsgCtrl, '/dev/rpmsg_ctrl0');
  assert.equal(params.helperDir, '/var/tmp/farm');
  assert.equal(params.ssh.privateKey, 'keys/dk2', 'relative key paths are resolved against farm.yaml at create');
  const custom = parseLinuxRemoteprocParams({ preset: 'stm32mp157c-dk2', remoteproc: 'cm4', helperAbi: 'aarch64', ssh }, 'p');
  assert.equal(custom.remoteproc, 'cm4');
  assert.equal(custom.helperAbi, 'aarch64');
});

test('the zynqmp-petalinux preset: RPU core 0 as "r5_0", the aarch64 helper, the R5F reference firmware; host-announced channels on unless turned off', () => {
  const params = parseLinuxRemoteprocParams({ preset: 'zynqmp-petalinux', ssh }, 'p');
  assert.equal(params.remoteproc, 'r5_0');
  assert.equal(params.helperAbi, 'aarch64');
  assert.equal(params.firmwareDir, '/lib/firmware');
  assert.equal(params.rpmsgCtrl, '/dev/rpmsg_ctrl0');
  assert.equal(params.referenceMachine, 'zynqmp-r5');
  assert.equal(params.hostAnnouncedChannels, true);
  assert.equal(parseLinuxRemoteprocParams({ preset: 'stm32mp157c-dk2', ssh }, 'p').referenceMachine, 'cortex-m4');
  assert.equal(parseLinuxRemoteprocParams({ preset: 'zynqmp-petalinux', ssh, hostAnnouncedChannels: false }, 'p').hostAnnouncedChannels, false);
});

test('mistakes are ConfigErrors naming the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ preset: 'stm32mp135', ssh }, 'p.preset', /unknown preset "stm32mp135" \(known: stm32mp157c-dk2, zynqmp-petalinux\)/],
    [{ preset: 'stm32mp157c-dk2', ssh, hostAnnouncedChannels: 'no' }, 'p.hostAnnouncedChannels', /true or false/],
    [{ ssh }, 'p.remoteproc', /remoteproc instance's name/],
    [{ preset: 'stm32mp157c-dk2' }, 'p.ssh', /is required/],
    [{ preset: 'stm32mp157c-dk2', ssh, helperAbi: 'mips' }, 'p.helperAbi', /one of host, armhf, aarch64/],
    [{ preset: 'stm32mp157c-dk2', ssh, firmwareDir: 'lib/firmware' }, 'p.firmwareDir', /absolute path/],
    [{ preset: 'stm32mp157c-dk2', ssh, identity: { machineId: 'no spaces please' } }, 'p.identity.machineId', /letters and digits/],
    [{ preset: 'stm32mp157c-dk2', ssh, power: { type: 'relay' } }, 'p.power.type', /command or uhubctl/],
    [{ preset: 'stm32mp157c-dk2', ssh, flasher: { tool: 'dfu-util' } }, 'p.flasher.probeSerial', /is required/],
    [{ preset: 'stm32mp157c-dk2', ssh: { ...ssh, port: '${FARM_TEST_UNSET_VARIABLE}' } }, 'p.ssh.port', /refers to \$\{FARM_TEST_UNSET_VARIABLE\}, which is not set/],
  ];
  for (const [raw, field, detail] of cases) {
    assert.throws(() => parseLinuxRemoteprocParams(raw, 'p'), (error: unknown) => error instanceof ConfigError && error.field === field && detail.test(error.detail), JSON.stringify(raw));
  }
});

test('${VAR} in the ssh block comes from the environment; a lone reference to digits is a number', () => {
  const env = { BOARD_PORT: '2222', BOARD_HOST: 'dk2-7.lab' };
  assert.deepEqual(expandEnvReferences({ host: '${BOARD_HOST}', port: '${BOARD_PORT}', user: 'root', knownHosts: '/keys/${BOARD_HOST}.known' }, 'p', env), {
    host: 'dk2-7.lab',
    port: 2222,
    user: 'root',
    knownHosts: '/keys/dk2-7.lab.known',
  });
});
