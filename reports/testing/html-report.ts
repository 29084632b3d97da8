/**
 * Reads back what Playwright's HTML report shows, for the tests that check a run appears in it:
 * the report is one index.html with the data as a base64 zip in a <template>; its report.json
 * lists the files and their tests. Just enough of the zip format (central directory, stored
 * and deflated entries) for that file.
 */
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface HtmlReportTest {
  readonly title: string;
  readonly projectName: string;
  readonly outcome: string;
  readonly tags: readonly string[];
  readonly location: { readonly file: string };
}

export interface HtmlReportFile {
  readonly fileName: string;
  readonly tests: readonly HtmlReportTest[];
}

function zipEntries(zip: Buffer): Map<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('HTML report: no zip end record');
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const entries = new Map<string, Buffer>();
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`HTML report: bad central directory entry at ${offset}`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const local = zip.readUInt32LE(offset + 42);
    const name = zip.subarray(offset + 46, offset + 46 + nameLength).toString('utf8');
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    entries.set(name, method === 0 ? data : inflateRawSync(data));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The files and tests an HTML report (its index.html) shows. */
export function readHtmlReport(indexHtml: string): HtmlReportFile[] {
  const html = readFileSync(indexHtml, 'utf8');
  const match = /data:application\/zip;base64,([A-Za-z0-9+/=]+)/.exec(html);
  if (!match) throw new Error(`${indexHtml}: no embedded report data`);
  const entries = zipEntries(Buffer.from(match[1] as string, 'base64'));
  const report = JSON.parse((entries.get('report.json') ?? Buffer.from('{}')).toString('utf8')) as { files?: HtmlReportFile[] };
  if (!report.files) throw new Error(`${indexHtml}: report.json lists no files`);
  return report.files;
}
