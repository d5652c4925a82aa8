import { z } from './define-schema.js';
import { LvuError } from './lvu-error.js';
import { sourceScheme } from './source-factory.js';

/**
 * Generator filters (and harmless per-frame filters) a `lavfi:` source from the API may use: none of them reads or
 * writes a file, opens a URL or takes an option that does (`movie`, `metadata=…:file`, `psnr=stats_file`, `life`'s
 * and `cellauto`'s `filename`, `sendcmd`, `drawtext`'s `textfile` are all outside it).
 */
export const SAFE_LAVFI_FILTERS = [
  'testsrc',
  'testsrc2',
  'smptebars',
  'smptehdbars',
  'pal75bars',
  'pal100bars',
  'rgbtestsrc',
  'yuvtestsrc',
  'colorspectrum',
  'colorchart',
  'color',
  'mandelbrot',
  'gradients',
  'zoneplate',
  'sierpinski',
  'scale',
  'format',
  'fps',
  'setpts',
  'trim',
  'hue',
  'eq',
  'negate',
  'hflip',
  'vflip',
  'transpose',
  'crop',
  'pad',
  'drawbox',
  'drawgrid',
  'boxblur',
  'gblur',
  'noise',
  'null',
] as const;

/** FFmpeg input options the API may set: tuning only, nothing that listens, writes, or widens what is opened. */
export const SAFE_INPUT_OPTIONS = [
  'rtsp_transport',
  'analyzeduration',
  'probesize',
  'fpsprobesize',
  'fflags',
  'max_delay',
  'reorder_queue_size',
  'buffer_size',
  'timeout',
  'rw_timeout',
  'user_agent',
  'allowed_media_types',
  'live_start_index',
] as const;

/**
 * What a stream added through the HTTP API (`POST /v1/streams`) may open. The pipeline YAML's own streams are the
 * operator's configuration and are not limited by it; the operator widens it here, explicitly.
 */
export const sourcePolicySchema = z
  .strictObject({
    schemes: z
      .array(z.string().regex(/^[a-z][a-z0-9+.-]*$|^file$/))
      .default(['rtsp', 'rtsps', 'http', 'https', 'lavfi'])
      .describe(
        'URL schemes the API may open (lower case, no colon); file paths are opened only inside fileDirs',
      ),
    fileDirs: z
      .array(z.string().min(1))
      .default([])
      .describe('directories whose files (after resolving links) the API may open; none by default'),
    hosts: z
      .array(z.string().min(1))
      .optional()
      .describe('network sources from the API must name one of these hosts (default: any host)'),
    lavfiFilters: z
      .array(z.string().regex(/^[a-z0-9_]+$/))
      .default([...SAFE_LAVFI_FILTERS])
      .describe(
        'filters a lavfi: source from the API may use (default: generators that touch no file or URL)',
      ),
    inputOptions: z
      .array(z.string().regex(/^[a-z0-9_]+$/))
      .default([...SAFE_INPUT_OPTIONS])
      .describe('FFmpeg input options (inputOptions) the API may set'),
  })
  .default({
    schemes: ['rtsp', 'rtsps', 'http', 'https', 'lavfi'],
    fileDirs: [],
    lavfiFilters: [...SAFE_LAVFI_FILTERS],
    inputOptions: [...SAFE_INPUT_OPTIONS],
  })
  .describe(
    'what POST /v1/streams may open: schemes, file directories, hosts, lavfi filters and FFmpeg input options',
  );

export type SourcePolicy = z.output<typeof sourcePolicySchema>;

/** Refused by the source policy: a 403 with what the operator would change to allow it. */
export function sourceRefused(message: string, hint: string, field = 'source'): LvuError {
  return new LvuError('FORBIDDEN', message, { field, hint });
}

/** The scheme name a policy lists for a source (`''`, a file path, is `file`). */
export function policyScheme(source: string): string {
  return sourceScheme(source) || 'file';
}

/** The host of a network source URL, lower case without brackets (null for paths and `lavfi:`). */
export function sourceHost(source: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]+\]|[^:/?#]*)/i.exec(source.trim());
  return m ? m[1]!.replace(/^\[|\]$/g, '').toLowerCase() : null;
}

/**
 * The checks of a source policy every technology shares: the scheme and, for network sources, the host. The
 * source factory checks the rest (files, filters, options) in its own `admit`.
 */
export function admitScheme(source: string, policy: SourcePolicy): void {
  const scheme = policyScheme(source);
  // listing directories in fileDirs allows file paths inside them
  if (!policy.schemes.includes(scheme) && !(scheme === 'file' && policy.fileDirs.length > 0)) {
    throw sourceRefused(
      `the API may not open ${scheme === 'file' ? 'file paths' : `${scheme}: sources`}`,
      scheme === 'file'
        ? 'add the directory of your recordings to engine.sourcePolicy.fileDirs, or declare the stream in the pipeline YAML'
        : `add "${scheme}" to engine.sourcePolicy.schemes, or declare the stream in the pipeline YAML`,
    );
  }
  const host = sourceHost(source);
  if (host !== null && policy.hosts && !policy.hosts.map((h) => h.toLowerCase()).includes(host)) {
    throw sourceRefused(
      `the API may not open sources on host ${host}`,
      'add the host to engine.sourcePolicy.hosts, or declare the stream in the pipeline YAML',
    );
  }
}

const SECRET_PARAM =
  /^(pass(word)?|pwd|secret|token|key|api[-_]?key|access[-_]?token|auth|signature|sig|credential)s?$/i;

/**
 * A source as it may be shown (API, logs, events, metrics): the user-info of a URL replaced by `***`, and the values
 * of query parameters that look like secrets (`?password=`, `token`, `key`, `signature`…) too.
 */
export function redactSource(source: string): string {
  const s = source.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
  const q = s.indexOf('?');
  if (q < 0 || !/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return s;
  const [query, frag = ''] = s.slice(q + 1).split(/(?=#)/);
  const parts = query!.split('&').map((p) => {
    const eq = p.indexOf('=');
    if (eq < 0) return p;
    let name = p.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch {
      // keep it as written
    }
    return SECRET_PARAM.test(name) ? `${p.slice(0, eq)}=***` : p;
  });
  return `${s.slice(0, q)}?${parts.join('&')}${frag}`;
}
