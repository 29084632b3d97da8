/**
 * Reads back the JUnit files the farm writes (reports/junit-reporter.ts), for the tests that
 * check them: elements with attributes (in any order), CDATA and text. Just the XML that
 * xmlbuilder writes (no DTD, comments or processing instructions past the declaration); a file
 * that is not well formed in that subset (an unclosed or mismatched tag, a stray "<" or "]]>")
 * throws, so a check that reads a file also checks that it parses.
 */

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** Text and CDATA content, concatenated (whitespace between elements left out). */
  readonly text: string;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    const named = ENTITIES[entity];
    if (named === undefined) throw new Error(`XML: unknown entity ${whole}`);
    return named;
  });
}

function attributesOf(source: string, where: number): Record<string, string> {
  const attributes: Record<string, string> = {};
  const rest = source.replace(/\s*([\w:.-]+)="([^"<]*)"/g, (_whole, name: string, value: string) => {
    if (name in attributes) throw new Error(`XML: attribute ${name} twice at ${where}`);
    attributes[name] = decode(value);
    return '';
  });
  if (rest.trim() !== '') throw new Error(`XML: bad attributes "${rest.trim()}" at ${where}`);
  return attributes;
}

interface Open {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** The document's root element. */
export function parseXml(xml: string): XmlElement {
  const token = /<\?xml[^?]*\?>|<!\[CDATA\[([\s\S]*?)\]\]>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  const stack: Open[] = [{ name: '#document', attributes: {}, children: [], text: '' }];
  let match: RegExpExecArray | null;
  let position = 0;
  while (position < xml.length) {
    token.lastIndex = position;
    match = token.exec(xml);
    if (!match) throw new Error(`XML: not well formed at ${position}: ${JSON.stringify(xml.slice(position, position + 40))}`);
    position = token.lastIndex;
    const top = stack[stack.length - 1] as Open;
    const [, cdata, closing, opening, attributes, selfClosing, text] = match;
    if (cdata !== undefined) {
      top.text += cdata;
    } else if (closing !== undefined) {
      if (stack.length < 2 || top.name !== closing) throw new Error(`XML: </${closing}> closes <${top.name}> at ${match.index}`);
      stack.pop();
      (stack[stack.length - 1] as Open).children.push(top);
    } else if (opening !== undefined) {
      const element: Open = { name: opening, attributes: attributesOf(attributes ?? '', match.index), children: [], text: '' };
      if (selfClosing) top.children.push(element);
      else stack.push(element);
    } else if (text !== undefined) {
      if (text.includes(']]>')) throw new Error(`XML: "]]>" in text at ${match.index}`);
      if (text.trim() !== '') top.text += decode(text);
    }
  }
  const [document] = stack;
  if (stack.length !== 1 || !document) throw new Error(`XML: <${stack[stack.length - 1]?.name}> is not closed`);
  if (document.children.length !== 1 || document.text !== '') throw new Error('XML: a document has one root element and no text around it');
  return document.children[0] as XmlElement;
}

export interface JunitCase {
  readonly attributes: Readonly<Record<string, string>>;
  readonly properties: ReadonlyMap<string, string>;
  readonly failure: XmlElement | undefined;
  readonly error: XmlElement | undefined;
  readonly skipped: boolean;
  readonly systemOut: string;
}

export interface JunitSuite {
  readonly attributes: Readonly<Record<string, string>>;
  readonly properties: ReadonlyMap<string, string>;
  readonly cases: readonly JunitCase[];
}

export interface JunitFile {
  readonly attributes: Readonly<Record<string, string>>;
  readonly suites: readonly JunitSuite[];
}

function propertiesOf(element: XmlElement): Map<string, string> {
  const properties = new Map<string, string>();
  for (const group of element.children.filter((child) => child.name === 'properties')) {
    for (const property of group.children) properties.set(property.attributes.name ?? '', property.attributes.value ?? property.text);
  }
  return properties;
}

/** A JUnit file as <testsuites> of <testsuite> of <testcase>. */
export function readJunit(xml: string): JunitFile {
  const root = parseXml(xml);
  if (root.name !== 'testsuites') throw new Error(`JUnit: root element <${root.name}>, not <testsuites>`);
  return {
    attributes: root.attributes,
    suites: root.children
      .filter((child) => child.name === 'testsuite')
      .map((suite) => ({
        attributes: suite.attributes,
        properties: propertiesOf(suite),
        cases: suite.children
          .filter((child) => child.name === 'testcase')
          .map((testCase) => ({
            attributes: testCase.attributes,
            properties: propertiesOf(testCase),
            failure: testCase.children.find((child) => child.name === 'failure'),
            error: testCase.children.find((child) => child.name === 'error'),
            skipped: testCase.children.some((child) => child.name === 'skipped'),
            systemOut: testCase.children.filter((child) => child.name === 'system-out').map((child) => child.text).join(''),
          })),
      })),
  };
}
