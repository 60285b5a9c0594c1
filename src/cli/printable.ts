/**
 * File names may contain anything but `/` and NUL: an ESC sequence in a name would recolour or
 * clear the terminal, a CR or newline would garble the table. Human output shows such
 * characters escaped (`\x1b`, `\n`); JSON output keeps the real name.
 */

/** Control characters (C0, DEL, C1) and Unicode line/paragraph separators. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** `text` with control characters shown as escapes: `\n`, `\r`, `\t`, `\x1b`, `\u2028`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Like {@link printable}, but keeps line breaks (for multi-line messages). */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
