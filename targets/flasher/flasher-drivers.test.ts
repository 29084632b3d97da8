import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { InfrastructureError } from '../../base/errors.js';
import { recordingTool } from '../../base/process/recording-tool.test-helper.js';
import { ToolFlasher, flashCommand } from './flasher-drivers.js';
import { parseFlasherParams } from './flasher-params.js';

const SERIAL = '066DFF535154887067133536';

test('STM32_Programmer_CLI: connects to the probe by serial, writes, verifies and resets (the exact argv the tool gets)', async () => {
  const tool = recordingTool('STM32_Programmer_CLI');
  try {
    const flasher = new ToolFlasher('mp157', parseFlasherParams({ tool: 'stm32cubeprogrammer', probeSerial: SERIAL, binary: tool.path }, 'f'));
    assert.equal(flasher.probeSerial, SERIAL);
    await flasher.flash('/images/m4 fw.elf');
    await flasher.flash('/images/fw.bin', { address: 0x08000000 });
    assert.deepEqual(tool.calls(), [
      ['-c', 'port=SWD', `sn=${SERIAL}`, '-w', '/images/m4 fw.elf', '-v', '-rst'],
      ['-c', 'port=SWD', `sn=${SERIAL}`, '-w', '/images/fw.bin', '0x08000000', '-v', '-rst'],
    ]);
  } finally {
    tool.remove();
  }
});

test('openocd: the adapter is selected by serial before the target script; program with verify, reset, exit', async () => {
  const tool = recordingTool('openocd');
  try {
    const flasher = new ToolFlasher('mp157', parseFlasherParams({ tool: 'openocd', probeSerial: SERIAL, binary: tool.path, target: 'target/stm32mp15x.cfg' }, 'f'));
    await flasher.flash('/images/fw.elf');
    await flasher.flash('/images/fw.bin', { address: 0x10000000 });
    assert.deepEqual(tool.calls(), [
      ['-f', 'interface/stlink.cfg', '-c', `adapter serial ${SERIAL}`, '-f', 'target/stm32mp15x.cfg', '-c', 'program {/images/fw.elf} verify reset exit'],
      ['-f', 'interface/stlink.cfg', '-c', `adapter serial ${SERIAL}`, '-f', 'target/stm32mp15x.cfg', '-c', 'program {/images/fw.bin} 0x10000000 verify reset exit'],
    ]);
    await assert.rejects(flasher.flash('/images/a}b.elf'), /contains a brace/);
  } finally {
    tool.remove();
  }
});

test('dfu-util: -S serial -a alt, -s address:leave when given, -D image', async () => {
  const tool = recordingTool('dfu-util');
  try {
    const flasher = new ToolFlasher('h7', parseFlasherParams({ tool: 'dfu-util', probeSerial: '0041003B3031', binary: tool.path, alt: 1 }, 'f'));
    await flasher.flash('/images/fw.bin', { address: 0x08100000 });
    await flasher.flash('/images/tf.img');
    assert.deepEqual(tool.calls(), [
      ['-S', '0041003B3031', '-a', '1', '-s', '0x08100000:leave', '-D', '/images/fw.bin'],
      ['-S', '0041003B3031', '-a', '1', '-D', '/images/tf.img'],
    ]);
  } finally {
    tool.remove();
  }
});

test('a flasher failure is an InfrastructureError naming the target, the probe and the tool output', async () => {
  const tool = recordingTool('dfu-util');
  try {
    tool.respond('No DFU capable USB device available\n', 74);
    const flasher = new ToolFlasher('h7', parseFlasherParams({ tool: 'dfu-util', probeSerial: 'ABC123', binary: tool.path }, 'f'));
    await assert.rejects(
      flasher.flash('/images/fw.bin'),
      (error: unknown) => error instanceof InfrastructureError && error.message.startsWith('h7: flash /images/fw.bin (probe ABC123): ') && /exit 74\): No DFU capable USB device available$/.test(error.message),
    );
    await assert.rejects(flasher.flash('fw.bin'), /must be absolute/);
  } finally {
    tool.remove();
  }
});

test('parseFlasherParams: no probe serial, an unsafe serial or an unknown tool is a ConfigError naming the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ tool: 'jlink', probeSerial: 'A1' }, 'f.tool', /must be one of stm32cubeprogrammer, openocd, dfu-util/],
    [{ tool: 'dfu-util' }, 'f.probeSerial', /is required/],
    [{ tool: 'openocd', probeSerial: 'A1; shutdown', target: 'target/x.cfg' }, 'f.probeSerial', /letters and digits/],
    [{ tool: 'openocd', probeSerial: 'A1' }, 'f.target', /is required/],
    [{ tool: 'stm32cubeprogrammer', probeSerial: 'A1', port: 'UART' }, 'f.port', /SWD, JTAG or usbN/],
    [{ tool: 'dfu-util', probeSerial: 'A1', port: 'SWD' }, 'f.port', /unknown parameter/],
  ];
  for (const [raw, field, detail] of cases) {
    assert.throws(() => parseFlasherParams(raw, 'f'), (error: unknown) => error instanceof ConfigError && error.field === field && detail.test(error.detail), JSON.stringify(raw));
  }
  assert.deepEqual(flashCommand(parseFlasherParams({ tool: 'stm32cubeprogrammer', probeSerial: 'A1', port: 'usb1' }, 'f'), '/x.tsv'), [
    'STM32_Programmer_CLI', '-c', 'port=usb1', 'sn=A1', '-w', '/x.tsv', '-v', '-rst',
  ]);
});
