/**
 * Escaping for the HTML and XML reports. Text from a run (error messages, node names, settings) is never
 * trusted: a PostgreSQL error may quote anything.
 */

// Characters XML 1.0 forbids outright (C0 controls but tab, LF, CR; lone surrogates; U+FFFE/U+FFFF).
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text or attribute value for HTML (and SVG inside HTML). */
export function esc(value: unknown): string {
  return String(value ?? "")
    .replace(INVALID_XML, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/**
 * Text or attribute value for XML. Characters XML cannot carry are replaced by U+FFFD; in attributes,
 * line breaks and tabs become character references so parsers do not normalise them to spaces.
 */
export function escXml(value: unknown, attribute = false): string {
  const s = esc(value);
  return attribute ? s.replace(/\n/g, "&#10;").replace(/\r/g, "&#13;").replace(/\t/g, "&#9;") : s;
}

/** A run-relative path as an href: each segment percent-encoded, slashes kept. */
export function hrefOf(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
