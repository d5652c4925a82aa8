/**
 * Who may call the API: the host names a server answers to, the bearer token, the headers every answer carries.
 */

export const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The names a server on `host` answers to by default (empty: any). */
export function defaultAllowedHosts(host: string): string[] {
  if (LOOPBACK.has(host)) return ['localhost', '127.0.0.1', '::1'];
  if (host === '0.0.0.0' || host === '::') return [];
  return [host];
}

/** The host name of a `Host` header or an `Origin` (`http://name:port`), lower case, without brackets or port. */
export function hostName(value: string, origin = false): string | null {
  let v = value.trim().toLowerCase();
  if (origin) {
    const m = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)$/.exec(v.replace(/\/$/, ''));
    if (!m) return null;
    v = m[1]!;
  }
  const m6 = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(v);
  if (m6) return m6[1]!;
  const m = /^([a-z0-9._-]+)(?::\d+)?$/.exec(v);
  return m ? m[1]! : null;
}

/** Headers every answer carries: no sniffing, no framing, no referrer; the page may load and call only itself. */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};
export const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The bearer token a request carries (`Authorization: Bearer T`, scheme case-insensitive per RFC 7235). */
export function bearerOf(header: string | undefined): string {
  const m = /^bearer[ \t]+(.*)$/i.exec((header ?? '').trim());
  return m ? m[1]!.trim() : '';
}
