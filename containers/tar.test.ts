import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { firstFileOfTar, tarOneFile } from './tar.js';

test('tarOneFile: GNU tar reads the archive back (path, mode, owner, content)', () => {
  const content = Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI farm\n');
  const archive = tarOneFile('root/.ssh/authorized_keys', content, 0o600);
  assert.equal(archive.length % 512, 0);
  const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: archive }).toString();
  assert.match(listing, /^-rw------- 0\/0\s+\d+ .* root\/\.ssh\/authorized_keys\n$/);
  assert.deepEqual(execFileSync('tar', ['-xOf', '-'], { input: archive }), content);
  const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file`;
  assert.deepEqual(execFileSync('tar', ['-xOf', '-', long], { input: tarOneFile(long, content, 0o644) }), content, 'a path over 100 bytes goes through the ustar prefix');
  assert.throws(() => tarOneFile('/etc/passwd', content, 0o644), /relative path/);
  assert.throws(() => tarOneFile('a/../../etc/passwd', content, 0o644), /without \.\./);
});

test('firstFileOfTar: reads what GNU tar (PAX format) writes; links, oversize and garbage are refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'farm-tar-test-'));
  try {
    fs.writeFileSync(path.join(dir, 'ssh_host_ed25519_key.pub'), 'ssh-ed25519 AAAA host\n');
    fs.symlinkSync('ssh_host_ed25519_key.pub', path.join(dir, 'link'));
    const pax = execFileSync('tar', ['--format=pax', '-C', dir, '-cf', '-', 'ssh_host_ed25519_key.pub']);
    assert.deepEqual(firstFileOfTar(pax, 1024), { name: 'ssh_host_ed25519_key.pub', content: Buffer.from('ssh-ed25519 AAAA host\n') });
    assert.throws(() => firstFileOfTar(pax, 4), /more than the 4 expected/);
    const link = execFileSync('tar', ['-C', dir, '-cf', '-', 'link']);
    assert.throws(() => firstFileOfTar(link, 1024), /link is a link, not a file/);
    assert.throws(() => firstFileOfTar(pax.subarray(0, 700), 1024), /truncated|no file/);
    assert.throws(() => firstFileOfTar(Buffer.alloc(1024), 1024), /no file in the archive/);
    const garbage = Buffer.alloc(512, 0x41);
    assert.throws(() => firstFileOfTar(garbage, 1024), /malformed size field/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
