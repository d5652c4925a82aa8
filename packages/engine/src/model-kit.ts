import type { LongVuOptions } from '@lvu/compress';
import type { EventBus } from '@lvu/core';
import type { KServeOptions } from '@lvu/models';
import type { FrameEncoder, TextEncoder } from '@lvu/operators';

/** What opening a model set gives the engine. */
export interface OpenedModels {
  /** The kit that opened it. */
  readonly kit: string;
  readonly vision: FrameEncoder;
  readonly text: TextEncoder;
  /** The backend `backend: auto` means with these models. */
  readonly defaultBackend: string;
  /** LongVU options these models were made for (the manifest's), under the caller's own. */
  readonly longvu: Partial<LongVuOptions>;
  /** The kit's own handle (sessions, tokenizer) for backends that run on these models (`instanceof` it). */
  readonly handle: unknown;
  /** What a frame shows, in words, where the models can say (the starter set's class names); for search results. */
  readonly labels?: (hi: Float32Array) => { label: string; similarity: number }[];
  close(): Promise<void>;
}

export interface ModelKitContext {
  events: EventBus;
  intraOpNumThreads?: number;
  maxBatch?: number;
  maxWaitMs?: number;
  /** The caller's LongVU options (an encoder may depend on one, e.g. `unpad`). */
  longvu: Partial<LongVuOptions>;
  /** Which variant of the networks to load where the model set has several (default: its own choice). */
  precision?: 'float32' | 'int8' | 'float16';
  /** onnxruntime execution providers for local sessions (default: cpu). */
  executionProviders?: string[];
  /** The encoders on a KServe v2 inference server (the `kserve` kit) instead of this process. */
  kserve?: Omit<KServeOptions, 'events'>;
}

/**
 * A kind of model set: the weight-free built-in encoder, the starter set, a LongVU model directory… The engine
 * opens `models` (a directory, or none) with the first registered kit that `accepts` it.
 */
export interface ModelKit {
  readonly name: string;
  readonly description: string;
  /** Whether this kit opens `dir` (with the caller's context: a kit may need a setting, e.g. `kserve`). */
  accepts(dir: string | undefined, ctx: Partial<ModelKitContext>): boolean;
  open(dir: string | undefined, ctx: ModelKitContext): Promise<OpenedModels>;
}
