import type { ConfigSchema, z } from './define-schema.js';
import type { EventBus } from './event-bus.js';
import { LvuError } from './lvu-error.js';
import { Registry } from './registry.js';
import type { SourcePolicy } from './source-policy.js';
import type { SampledFrame } from './types.js';

/** What a source factory opens: sampled frames until the source ends or `stop` is called. */
export interface FrameSource extends AsyncIterable<SampledFrame> {
  /** The source as it may be shown and logged (credentials removed). */
  readonly description: string;
  /** Source-specific figures (decoded, reconnects, …) shown in a stream's status; any JSON value. */
  readonly stats?: unknown;
  /** Stops reading; resolves when the source has let go of its resources. */
  stop(): Promise<void>;
}

/** What the engine tells a source about the stream it feeds. */
export interface SourceContext {
  streamId: string;
  /** Square RGB sizes every frame must carry (what the encoders take). */
  sizes: readonly number[];
  events: EventBus;
  /**
   * A recording continued after a restart: start after this position (`SampledFrame.positionMs` of the last frame
   * its saved context covers) instead of from its beginning. Live sources ignore it.
   */
  resumeAfterMs?: number;
}

/**
 * A plug-in that turns a source string into frames: one per technology (FFmpeg's files, RTSP and HLS; ONVIF,
 * WebRTC…). `options` describes the keys a declared stream may carry for it (pipeline YAML, `POST /v1/streams`);
 * they reach `open` parsed, with defaults filled in.
 */
export interface SourceFactory<S extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly description: string;
  /**
   * URL schemes it opens, lower case without the colon (`rtsp`, `http`); `''` claims what has no scheme (a file
   * path).
   */
  readonly schemes: readonly string[];
  readonly options: ConfigSchema<S>;
  open(source: string, options: z.output<S>, ctx: SourceContext): FrameSource;
  /**
   * Checks a source from an untrusted caller (the HTTP API) against the operator's policy beyond its scheme and
   * host (which the engine checks): files outside the allowed directories, filters or options that read, write
   * or listen. Throws a `FORBIDDEN` LvuError saying what the operator would change.
   */
  admit?(source: string, options: z.output<S>, policy: SourcePolicy): void;
}

/** The scheme of a source string (`rtsp://…` → `rtsp`, `lavfi:…` → `lavfi`), or `''` for a path. */
export function sourceScheme(source: string): string {
  const m = /^([a-z][a-z0-9+.-]{1,31}):/i.exec(source.trim());
  return m ? m[1]!.toLowerCase() : '';
}

/** The source factories of a program, found by the scheme of the source string. */
export class SourceRegistry extends Registry<SourceFactory> {
  constructor(items: readonly SourceFactory[] = []) {
    super('source', items);
  }

  override register(item: SourceFactory): this {
    for (const s of item.schemes) {
      const other = this.list().find((f) => f.schemes.includes(s));
      if (other) {
        throw new LvuError(
          'INVALID_ARGUMENT',
          `source ${item.name} claims scheme "${s}", which ${other.name} opens already`,
          { field: 'schemes' },
        );
      }
    }
    return super.register(item);
  }

  /** The factory that opens `source`, or UNSUPPORTED_MEDIA listing the schemes this program opens. */
  resolve(source: string): SourceFactory {
    const scheme = sourceScheme(source);
    const f = this.list().find((x) => x.schemes.includes(scheme));
    if (!f) {
      const known = this.list().flatMap((x) => x.schemes.map((s) => (s ? `${s}:` : 'a file path')));
      throw new LvuError(
        'UNSUPPORTED_MEDIA',
        `no source opens ${scheme ? `"${scheme}:" sources` : 'file paths'} in this program`,
        { field: 'source', hint: `use ${known.join(', ') || 'a program that registers a source factory'}` },
      );
    }
    return f;
  }

  /** Every option key any registered source takes, with its schema (the last registered wins a clash). */
  optionShape(): Record<string, z.ZodType> {
    return Object.assign({}, ...this.list().map((f) => f.options.schema.shape));
  }

  /** Each source with its schemes and the options a stream of it takes, for `--help`. */
  override help(indent = '  '): string {
    return this.list()
      .map((f) => {
        const schemes = f.schemes.map((x) => (x ? `${x}:` : 'PATH')).join(' ');
        const opts = Object.entries(f.options.schema.shape).map(
          ([k, v]) => `${indent}    ${k}: ${(v as z.ZodType).description ?? ''}`,
        );
        return [`${indent}${f.name} (${schemes}): ${f.description}`, ...opts].join('\n');
      })
      .join('\n');
  }

  override clone(): SourceRegistry {
    return new SourceRegistry(this.list());
  }
}
