/**
 * Debian binary packages from the mirror, verified end to end: the suite's InRelease checked by
 * gpgv against the Debian archive keyring this machine has (debian-archive-keyring), the
 * Packages.xz index checked against the SHA256 InRelease lists for it, each .deb checked against
 * the SHA256 the index lists. Versions move on the mirror, so names are resolved at build time;
 * downloads are kept by their SHA256 and reused.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfrastructureError } from '../../../base/errors.js';

export interface DebianSource {
  /** http://deb.debian.org/debian */
  readonly mirror: string;
  /** trixie */
  readonly suite: string;
  /** riscv64 */
  readonly architecture: string;
  /** Debian's archive keyring (debian-archive-keyring). */
  readonly keyring: string;
}

export interface DebianPackage {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
  readonly sha256: string;
  readonly size: number;
  readonly depends: string;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function download(url: string, timeoutMs: number): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new InfrastructureError(`cannot download ${url}: ${(error as Error).message}`, { cause: error });
  }
  if (!response.ok) throw new InfrastructureError(`cannot download ${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Stanzas of a Packages file: one record per package (first stanza of a name wins). */
export function parsePackages(text: string): Map<string, DebianPackage> {
  const packages = new Map<string, DebianPackage>();
  for (const stanza of text.split(/\n\n+/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      else {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        last = line.slice(0, colon);
        fields.set(last, line.slice(colon + 1).trim());
      }
    }
    const name = fields.get('Package');
    const filename = fields.get('Filename');
    const digest = fields.get('SHA256');
    if (!name || !filename || !digest || packages.has(name)) continue;
    packages.set(name, { name, version: fields.get('Version') ?? '', filename, sha256: digest, size: Number(fields.get('Size') ?? 0), depends: fields.get('Depends') ?? '' });
  }
  return packages;
}

/** The SHA256 InRelease lists for `path` ("main/binary-riscv64/Packages.xz"). */
export function releaseDigest(inRelease: string, path: string): string | undefined {
  const section = inRelease.split(/^SHA256:$/m)[1] ?? '';
  for (const line of section.split('\n')) {
    const match = /^ ([0-9a-f]{64})\s+\d+\s+(\S+)$/.exec(line);
    if (match?.[2] === path) return match[1];
    if (line !== '' && !line.startsWith(' ')) break;
  }
  return undefined;
}

export class DebianPackageIndex {
  private constructor(
    readonly source: DebianSource,
    readonly packages: Map<string, DebianPackage>,
  ) {}

  static async fetch(source: DebianSource, log: (line: string) => void): Promise<DebianPackageIndex> {
    const base = `${source.mirror}/dists/${source.suite}`;
    const inRelease = await download(`${base}/InRelease`, 60_000);
    // gpgv checks the clearsigned file and prints only what it verified.
    const verified = await execa('gpgv', ['--keyring', source.keyring, '--output', '-', '-'], { input: inRelease, encoding: 'utf8', reject: false, stderr: 'pipe' });
    if (verified.exitCode !== 0) {
      throw new InfrastructureError(`${base}/InRelease: signature not valid for ${source.keyring} (gpgv exit ${verified.exitCode}): ${String(verified.stderr).trim().slice(-500)}`);
    }
    const indexPath = `main/binary-${source.architecture}/Packages.xz`;
    const expected = releaseDigest(String(verified.stdout), indexPath);
    if (!expected) throw new InfrastructureError(`${base}/InRelease lists no SHA256 for ${indexPath}`);
    const compressed = await download(`${base}/${indexPath}`, 300_000);
    if (sha256(compressed) !== expected) throw new InfrastructureError(`${base}/${indexPath}: SHA256 ${sha256(compressed)}, InRelease says ${expected}`);
    const text = await execa('xz', ['-dc'], { input: compressed, encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    const index = new DebianPackageIndex(source, parsePackages(String(text.stdout)));
    log(`${source.suite}/${source.architecture}: ${index.packages.size} packages in the signed index`);
    return index;
  }

  get(name: string): DebianPackage {
    const found = this.packages.get(name);
    if (!found) throw new InfrastructureError(`${this.source.suite}/${this.source.architecture}: no package ${name} in ${this.source.mirror}`);
    return found;
  }

  /** The package a metapackage depends on first whose name matches `pattern` (linux-image-riscv64 -> linux-image-6.12.N+deb13-riscv64). */
  resolveMeta(meta: string, pattern: RegExp): DebianPackage {
    const names = this.get(meta).depends.split(',').map((item) => item.trim().split(/\s/)[0] ?? '');
    const name = names.find((candidate) => pattern.test(candidate));
    if (!name) throw new InfrastructureError(`${meta} depends on no package matching ${String(pattern)} (${names.join(', ')})`);
    return this.get(name);
  }

  /** The .deb of `pkg`: from `cacheDir` (kept by SHA256) or the mirror, its SHA256 checked either way. */
  async deb(pkg: DebianPackage, cacheDir: string, log: (line: string) => void): Promise<string> {
    mkdirSync(cacheDir, { recursive: true });
    const file = join(cacheDir, `${pkg.sha256}.deb`);
    if (existsSync(file) && sha256(readFileSync(file)) === pkg.sha256) return file;
    log(`downloading ${pkg.name} ${pkg.version} (${(pkg.size / 1e6).toFixed(1)} MB)`);
    const data = await download(`${this.source.mirror}/${pkg.filename}`, 600_000);
    if (sha256(data) !== pkg.sha256) throw new InfrastructureError(`${pkg.filename}: SHA256 ${sha256(data)}, the index says ${pkg.sha256}`);
    const temporary = `${file}.tmp${process.pid}`;
    writeFileSync(temporary, data);
    renameSync(temporary, file);
    return file;
  }
}
