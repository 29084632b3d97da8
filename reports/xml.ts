/**
 * Just enough XML to write JUnit files: elements with attributes, nested elements and CDATA
 * text, pretty-printed. junit-report-builder (5.1) cannot write what the farm's JUnit needs
 * (<skipped message>, Surefire's <flakyFailure> / <rerunFailure>), so the reporter builds the
 * tree itself. Text that XML 1.0 cannot hold (control characters, lone surrogates) is dropped.
 */

export interface XmlNode {
  readonly name: string;
  readonly attributes?: Readonly<Record<string, string | number | undefined>>;
  readonly children?: readonly XmlNode[];
  /** Written as CDATA after the children. */
  readonly text?: string;
}

// Characters outside XML 1.0's Char production; with the u flag, lone surrogates match too.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function attributeValue(value: string | number): string {
  return String(value)
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

function cdata(text: string): string {
  return `<![CDATA[${text.replace(NOT_XML, '').replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

function render(node: XmlNode, indent: string, lines: string[]): void {
  const attributes = Object.entries(node.attributes ?? {})
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([key, value]) => ` ${key}="${attributeValue(value)}"`)
    .join('');
  const children = node.children ?? [];
  if (children.length === 0 && node.text === undefined) {
    lines.push(`${indent}<${node.name}${attributes}/>`);
    return;
  }
  if (children.length === 0) {
    lines.push(`${indent}<${node.name}${attributes}>${cdata(node.text ?? '')}</${node.name}>`);
    return;
  }
  lines.push(`${indent}<${node.name}${attributes}>`);
  for (const child of children) render(child, `${indent}  `, lines);
  if (node.text !== undefined) lines.push(`${indent}  ${cdata(node.text)}`);
  lines.push(`${indent}</${node.name}>`);
}

export function xmlDocument(root: XmlNode): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  render(root, '', lines);
  return `${lines.join('\n')}\n`;
}
