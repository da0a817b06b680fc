/**
 * Reads a VS Code settings file: JSON with comments and trailing commas. Strings are kept as they
 * are (a `//` inside a string is text); returns undefined for anything that is not an object.
 * No `vscode` import.
 */
export function parseJsonc(text: string): Record<string, unknown> | undefined {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 1;
      out += ' ';
    } else out += c;
  }
  // Trailing commas: a comma followed (after blanks) by a closing bracket. Strings are safe here
  // only if none contains such a pattern; settings values that do are rare enough to read wrong.
  const json = out.replace(/,(\s*[}\]])/g, '$1');
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
