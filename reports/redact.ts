/**
 * Secrets never reach a page, a log or a report: text the farm shows from consoles, logs and
 * errors passes through here. It masks private-key blocks, `password=` / `token:` style
 * assignments, bearer tokens, credentials in URLs, and any value registered as a secret (the
 * dashboard's access token).
 */

const registered = new Set<string>();

/** Masks `secret` wherever it appears in redacted text from now on (values shorter than 6 are ignored). */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 6) registered.add(secret);
}

const MASK = '***';

const PATTERNS: readonly [RegExp, string][] = [
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, `-----PRIVATE KEY ${MASK}-----`],
  [/\b((?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)\b["']?\s*[:=]\s*)("[^"]*"|'[^']*'|\S+)/gi, `$1${MASK}`],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${MASK}`],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of registered) out = out.split(secret).join(MASK);
  return out;
}
