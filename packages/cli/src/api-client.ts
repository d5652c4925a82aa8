import { LvuError } from '@lvu/core';

/**
 * A request to a running `lvu serve` (or worker): its answer when it is 2xx, otherwise the server's error as an
 * LvuError (its code, message and field); SOURCE_UNREACHABLE when nothing answers at `url`.
 */
export async function apiFetch(
  url: string,
  path: string,
  init: RequestInit,
  token?: string,
): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(`${url.replace(/\/$/, '')}${path}`, {
      ...init,
      headers: {
        ...(init.headers as Record<string, string>),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
  } catch (err) {
    throw new LvuError('SOURCE_UNREACHABLE', `cannot reach ${url}: ${(err as Error).message}`, {
      field: 'URL',
    });
  }
  if (!r.ok) {
    const e = (await r.json().catch(() => ({}))) as { error?: string; message?: string; field?: string };
    throw new LvuError((e.error as 'INTERNAL') ?? 'INTERNAL', e.message ?? `HTTP ${r.status}`, {
      field: e.field,
    });
  }
  return r;
}
