/**
 * Bytes that come from a remote (channel names, trace and console text, anything quoted in an
 * error) are controlled by the firmware under test. A terminal obeys control sequences in them
 * (ESC ] 0 ; title BEL retitles the window, ESC [ 2 J clears it), JUnit XML cannot hold most
 * of them, and bidirectional overrides make a report say something other than the bytes. So
 * every such string is escaped before it is printed or reported: C0 and C1 control characters,
 * DEL, the bidi controls and lone surrogates become `\xHH` / `\uHHHH`. Plain text passes through
 * unchanged (one regular-expression test).
 */

/** Everything a terminal or an XML/HTML report must not get raw from a remote. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_TEXT = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_LINE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff\\"]/;

function escapeUnit(code: number): string {
  if (code === 0x0a) return '\\n';
  if (code === 0x0d) return '\\r';
  if (code === 0x09) return '\\t';
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

function escapeWith(text: string, unsafe: (code: number, index: number) => boolean): string {
  let out = '';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a valid pair: an ordinary character outside the BMP
        continue;
      }
    }
    if (!unsafe(code, i)) continue;
    out += text.slice(start, i) + (code === 0x5c ? '\\\\' : code === 0x22 ? '\\"' : escapeUnit(code));
    start = i + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

function isUnsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x061c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    (code >= 0xd800 && code <= 0xdfff)
  );
}

/**
 * Multi-line remote text (console, trace) made safe to print: line feeds and tabs stay, a CR
 * right before a LF is dropped (UART line ends), everything else unsafe is escaped.
 */
export function escapeRemoteText(text: string): string {
  if (!UNSAFE_IN_TEXT.test(text)) return text;
  return escapeWith(text.replace(/\r\n/g, '\n'), (code) => code !== 0x0a && code !== 0x09 && isUnsafe(code));
}

/**
 * A remote string (a channel name) as one quoted, escaped token for a message: `"name"`.
 * Quotes and backslashes are escaped too, so the quoting is unambiguous.
 */
export function quoteRemote(text: string): string {
  if (!UNSAFE_IN_LINE.test(text)) return `"${text}"`;
  return `"${escapeWith(text, (code) => code === 0x5c || code === 0x22 || isUnsafe(code))}"`;
}

/**
 * At most `max` items of a list joined with ", ", then "... and N more": a message about a
 * remote that announced 200,000 names stays one short line.
 */
export function truncatedList(items: readonly string[], max = 10, separator = ', '): string {
  if (items.length <= max) return items.join(separator);
  return `${items.slice(0, max).join(separator)}${separator}... and ${items.length - max} more`;
}
