/** What every response shares: the refusal's shape and the security headers. */
/** Every refusal: a machine-readable word and a sentence for people. */
export const ERROR = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;

/** A strict CSP (the dashboard loads only its own files, no inline script), no framing, no sniffing. */
export const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
} as const;
