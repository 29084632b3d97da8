import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, createPrivateKey, sign, verify } from 'node:crypto';
import { ssh2 } from '../../ssh/host-key.js';
import { parsePackages, releaseDigest } from './debian-packages.js';
import { dropbearEd25519HostKey } from './dropbear-key.js';
import { newcArchive } from './newc-cpio.js';

/** Reads a newc archive back: name, mode, rdev and data of each entry, checking magic and alignment. */
function readNewc(archive: Buffer): { name: string; mode: number; major: number; minor: number; data: Buffer }[] {
  const entries = [];
  let at = 0;
  for (;;) {
    assert.equal(archive.toString('ascii', at, at + 6), '070701', `magic at ${at}`);
    const field = (index: number) => Number.parseInt(archive.toString('ascii', at + 6 + 8 * index, at + 14 + 8 * index), 16);
    const [mode, size, major, minor, nameSize] = [field(1), field(6), field(9), field(10), field(11)];
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1);
    assert.equal(archive[at + 110 + nameSize - 1], 0, 'name NUL-terminated');
    let dataAt = at + 110 + nameSize;
    dataAt += (4 - (dataAt % 4)) % 4;
    const data = archive.subarray(dataAt, dataAt + size);
    at = dataAt + size;
    at += (4 - (at % 4)) % 4;
    if (name === 'TRAILER!!!') break;
    entries.push({ name, mode, major, minor, data });
  }
  assert.equal(at, archive.length, 'nothing after the trailer');
  return entries;
}

test('newc cpio: folders, files with modes, symlinks and device nodes, 4-byte aligned, owned by root', () => {
  const archive = newcArchive([
    { type: 'dir', path: '/etc' },
    { type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0::/root:/bin/sh\n'), mode: 0o600 },
    { type: 'symlink', path: 'lib', target: 'usr/lib' },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
  ]);
  const entries = readNewc(archive);
  assert.deepEqual(entries.map((entry) => [entry.name, entry.mode.toString(8)]), [['etc', '40755'], ['etc/passwd', '100600'], ['lib', '120777'], ['dev/console', '20600'], ['init', '100755']]);
  assert.equal(entries[1]?.data.toString(), 'root:x:0:0::/root:/bin/sh\n');
  assert.equal(entries[2]?.data.toString(), 'usr/lib');
  assert.deepEqual([entries[3]?.major, entries[3]?.minor], [5, 1]);
  assert.throws(() => newcArchive([{ type: 'dir', path: '../escape' }]), /bad entry path/);
});

test('dropbear host key: dropbear\'s ed25519 layout (type, seed + public), and the pinned line is its public half', () => {
  const key = dropbearEd25519HostKey('test');
  const file = key.dropbearFile;
  assert.equal(file.readUInt32BE(0), 11);
  assert.equal(file.toString('ascii', 4, 15), 'ssh-ed25519');
  assert.equal(file.readUInt32BE(15), 64);
  assert.equal(file.length, 19 + 64);
  const seed = file.subarray(19, 51);
  const pub = file.subarray(51, 83);
  const parsed = ssh2().utils.parseKey(key.publicLine);
  assert.ok(!(parsed instanceof Error));
  const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
  assert.deepEqual(blob.subarray(blob.length - 32), pub, 'the line carries the public key of the file');
  // The seed signs what the public key verifies: the two halves belong together.
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: pub.toString('base64url') }, format: 'jwk' });
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.toString('base64url') }, format: 'jwk' });
  assert.ok(verify(null, Buffer.from('farm'), publicKey, sign(null, Buffer.from('farm'), privateKey)));
});

test('Debian index: stanzas with continuation lines, first of a name wins; InRelease SHA256 lookup', () => {
  const packages = parsePackages(
    'Package: busybox-static\nVersion: 1:1.37.0-6\nDepends: libc6\nFilename: pool/main/b/busybox/bb.deb\nSize: 10\nSHA256: ' + 'a'.repeat(64) + '\nDescription: x\n more text\n\n' +
      'Package: busybox-static\nVersion: 0\nFilename: old.deb\nSHA256: ' + 'b'.repeat(64) + '\n\nPackage: broken\nVersion: 1\n',
  );
  assert.deepEqual([...packages.keys()], ['busybox-static']);
  assert.deepEqual(packages.get('busybox-static'), { name: 'busybox-static', version: '1:1.37.0-6', filename: 'pool/main/b/busybox/bb.deb', sha256: 'a'.repeat(64), size: 10, depends: 'libc6' });
  const inRelease = `Origin: Debian\nMD5Sum:\n ${'0'.repeat(32)}  9 main/binary-riscv64/Packages.xz\nSHA256:\n ${'c'.repeat(64)}  9387120 main/binary-amd64/Packages.xz\n ${'d'.repeat(64)}  9387120 main/binary-riscv64/Packages.xz\n`;
  assert.equal(releaseDigest(inRelease, 'main/binary-riscv64/Packages.xz'), 'd'.repeat(64));
  assert.equal(releaseDigest(inRelease, 'main/binary-arm64/Packages.xz'), undefined);
});
