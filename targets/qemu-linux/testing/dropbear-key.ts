/**
 * An Ed25519 SSH host key made here, in the two forms the test image needs: dropbear's own key
 * file (what `dropbear -r` reads: string "ssh-ed25519", then one string of the 32-byte private
 * seed followed by the 32-byte public key) and the OpenSSH public key line farm.yaml pins.
 * Made with node:crypto rather than dropbearkey, which is a riscv64 binary in the image.
 */
import { generateKeyPairSync } from 'node:crypto';

function sshString(data: Uint8Array): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, Buffer.from(data)]);
}

export interface HostKey {
  /** dropbear_ed25519_host_key contents. */
  readonly dropbearFile: Buffer;
  /** "ssh-ed25519 AAAA..." */
  readonly publicLine: string;
}

export function dropbearEd25519HostKey(comment = 'farm-riscv64-linux'): HostKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  return {
    dropbearFile: Buffer.concat([sshString(type), sshString(Buffer.concat([seed, pub]))]),
    publicLine: `ssh-ed25519 ${Buffer.concat([sshString(type), sshString(pub)]).toString('base64')} ${comment}`,
  };
}
