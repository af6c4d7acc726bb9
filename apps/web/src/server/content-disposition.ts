// `Content-Disposition: attachment` for any file name (RFC 6266): a quoted
// ASCII fallback with nothing that could end the quotes or the header, and
// the exact name as RFC 5987 UTF-8 `filename*`, which browsers prefer.
// A raw name broke both ways: a `"` ended the quoted string early, and a
// non-ASCII character is not a valid header byte (Node refuses the header,
// resetting the connection).

/** RFC 5987 attr-chars stay; everything else is %-encoded UTF-8 (encodeURIComponent leaves `'()*` as they are). */
function encodeExtValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeExtValue(filename)}`;
}
