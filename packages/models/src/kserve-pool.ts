import { EventBus, LvuError, retry } from '@lvu/core';
import type { LoadedManifest, ModelRole } from './model-manifest.js';
import { checkFiniteOutputs, checkGraph, type InferencePool } from './session-pool.js';
import type { TensorType, ValueInfo, WireTensor } from './session-protocol.js';

export interface KServeOptions {
  /** Base URL of the server's KServe v2 REST endpoint, e.g. http://triton:8000 (Triton, KServe, MLServer). */
  url: string;
  /** The served model of role R is `${modelPrefix}R` (dino, siglip, sva, projector, text-embed). */
  modelPrefix?: string;
  /** One request, from sending to its last byte. */
  timeoutMs?: number;
  /**
   * How long a request is retried while the server is unreachable, restarting or overloaded (connection refused,
   * 5xx, timeouts): the frames wait meanwhile (the write path's bounded queue and its drop policy apply).
   */
  retryForMs?: number;
  /** Sent with every request (e.g. authorization). */
  headers?: Record<string, string>;
  events?: EventBus;
}

const KSERVE_TYPES: Record<string, TensorType> = {
  FP32: 'float32',
  INT64: 'int64',
  INT32: 'int32',
  FP16: 'float16',
};
const WIRE_TYPES: Record<TensorType, string> = {
  float32: 'FP32',
  int64: 'INT64',
  int32: 'INT32',
  float16: 'FP16',
};

interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

const view = (t: WireTensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function tensorOf(type: TensorType, dims: number[], bytes: Uint8Array): WireTensor {
  // a copy into an aligned buffer the tensor owns whole (the response body's offsets are not aligned)
  const own = bytes.slice().buffer;
  const data =
    type === 'float32'
      ? new Float32Array(own)
      : type === 'int64'
        ? new BigInt64Array(own)
        : type === 'int32'
          ? new Int32Array(own)
          : new Uint16Array(own);
  return { type, dims, data };
}

/**
 * LongVU's networks on an inference server speaking the KServe v2 protocol over HTTP with the binary tensor
 * extension (Triton Inference Server, KServe, MLServer): the same roles, tensor names and shapes as the model
 * directory's manifest, checked against the server's model metadata when a role is loaded. A request the server
 * cannot take now (unreachable, restarting, 5xx, timeout) is retried with backoff for `retryForMs`, so a restart
 * of the server loses no frame; what it refuses (4xx) fails at once.
 */
export class KServePool implements InferencePool {
  readonly loaded = new Map<string, { inputs: ValueInfo[]; outputs: ValueInfo[]; loadMs: number }>();
  readonly o: Required<Omit<KServeOptions, 'events'>>;
  readonly events: EventBus;
  /** Requests that had to be sent again (the server restarting or overloaded). */
  retries = 0;

  constructor(o: KServeOptions) {
    this.o = {
      url: o.url.replace(/\/$/, ''),
      modelPrefix: o.modelPrefix ?? '',
      timeoutMs: o.timeoutMs ?? 30_000,
      retryForMs: o.retryForMs ?? 120_000,
      headers: o.headers ?? {},
    };
    this.events = o.events ?? new EventBus();
  }

  #model(role: string): string {
    return `${this.o.url}/v2/models/${encodeURIComponent(this.o.modelPrefix + role)}`;
  }

  /** One HTTP exchange, retried while the server cannot take it; a coded error otherwise. */
  async #fetch(
    role: string,
    path: string,
    init: RequestInit = {},
  ): Promise<{ headers: Headers; bytes: Uint8Array }> {
    const url = this.#model(role) + path;
    return retry(
      async () => {
        let r: Response;
        try {
          r = await fetch(url, {
            ...init,
            headers: { ...this.o.headers, ...init.headers },
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
        } catch (err) {
          const timedOut = (err as Error).name === 'TimeoutError';
          throw new LvuError(
            'TRANSPORT_UNAVAILABLE',
            `inference server ${url}: ${timedOut ? `no answer within ${this.o.timeoutMs} ms` : (err as Error).message}`,
            {
              field: 'kserve.url',
              retriable: true,
              cause: err,
              hint: 'start the server or fix kserve.url; lvu retries for kserve.retryForMs',
            },
          );
        }
        if (r.ok) {
          try {
            return { headers: r.headers, bytes: new Uint8Array(await r.arrayBuffer()) };
          } catch (err) {
            throw new LvuError(
              'TRANSPORT_UNAVAILABLE',
              `inference server ${url} broke off its answer: ${(err as Error).message}`,
              {
                field: 'kserve.url',
                retriable: true,
                cause: err,
              },
            );
          }
        }
        const text = (await r.text().catch(() => '')).slice(0, 400);
        // unreachable, overloaded or restarting: wait; a model's own failure (500) is not retried
        if (r.status === 429 || r.status === 502 || r.status === 503 || r.status === 504) {
          throw new LvuError(
            'TRANSPORT_UNAVAILABLE',
            `inference server ${url} answered ${r.status}: ${text}`,
            {
              field: 'kserve.url',
              retriable: true,
            },
          );
        }
        const unknown =
          r.status === 404 || (r.status === 400 && /unknown model|not found|not ready/i.test(text));
        // a model the server does not have (yet: a restarting server loads its models) is waited for too
        throw new LvuError(
          unknown ? 'MODEL_INVALID' : 'INFERENCE_FAILED',
          `inference server ${url} answered ${r.status}: ${text}`,
          {
            field: `models.${role}`,
            retriable: unknown,
            hint: unknown
              ? `the server has no model ${this.o.modelPrefix}${role}: serve the model directory's roles (tools/triton/serve.py DIR) or set kserve.modelPrefix`
              : 'the server refused the tensors: does it serve the same model directory?',
          },
        );
      },
      { maxAttempts: Number.POSITIVE_INFINITY, initialDelayMs: 200, maxDelayMs: 5000 },
      {
        deadline: Date.now() + this.o.retryForMs,
        onRetry: (err, attempt) => {
          this.retries++;
          this.events.emit('model.retried', {
            model: role,
            attempt,
            message: (err as Error).message.slice(0, 300),
          });
        },
      },
    );
  }

  /** Checks the server's model for `role` against the manifest (names, dtypes, shapes). */
  async load(m: LoadedManifest, role: ModelRole): Promise<void> {
    const spec = m.manifest.models[role];
    if (!spec)
      throw new LvuError('MODEL_INVALID', `the manifest has no ${role} model`, { field: `models.${role}` });
    const t0 = performance.now();
    const meta = JSON.parse(Buffer.from((await this.#fetch(role, '')).bytes).toString('utf8')) as {
      inputs?: TensorMeta[];
      outputs?: TensorMeta[];
    };
    const info = (ts: TensorMeta[] = []): ValueInfo[] =>
      ts.map((t) => ({
        name: t.name,
        type: KSERVE_TYPES[t.datatype] ?? t.datatype.toLowerCase(),
        shape: t.shape.map((d) => (d < 0 ? 'dynamic' : d)),
      }));
    const inputs = info(meta.inputs);
    const outputs = info(meta.outputs);
    checkGraph(role, { ...spec, file: `${this.o.modelPrefix}${role} on ${this.o.url}` }, inputs, outputs);
    this.loaded.set(role, { inputs, outputs, loadMs: performance.now() - t0 });
  }

  async run(
    role: ModelRole | (string & {}),
    feeds: Record<string, WireTensor>,
  ): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
    const entry = this.loaded.get(role);
    if (!entry)
      throw new LvuError('MODEL_INVALID', `model ${role} is not loaded`, { field: `models.${role}` });
    const t0 = performance.now();
    const names = Object.keys(feeds);
    const header = Buffer.from(
      JSON.stringify({
        inputs: names.map((name) => ({
          name,
          shape: feeds[name]!.dims,
          datatype: WIRE_TYPES[feeds[name]!.type],
          parameters: { binary_data_size: feeds[name]!.data.byteLength },
        })),
        outputs: entry.outputs.map((o) => ({ name: o.name, parameters: { binary_data: true } })),
      }),
    );
    const body = Buffer.concat([header, ...names.map((n) => view(feeds[n]!))]);
    const r = await this.#fetch(role, '/infer', {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
      body,
    });
    const { bytes, headers } = r;
    const hlen = Number(headers.get('inference-header-content-length') ?? bytes.length);
    const res = JSON.parse(Buffer.from(bytes.subarray(0, hlen)).toString('utf8')) as {
      outputs: (TensorMeta & { parameters?: { binary_data_size?: number }; data?: number[] })[];
    };
    const outputs: Record<string, WireTensor> = {};
    let at = hlen;
    for (const o of res.outputs) {
      const type = KSERVE_TYPES[o.datatype];
      if (!type) {
        throw new LvuError('MODEL_INVALID', `model ${role}: output ${o.name} is ${o.datatype}`, {
          field: `models.${role}`,
        });
      }
      const size = o.parameters?.binary_data_size;
      if (size === undefined) {
        // a server without the binary extension answers JSON numbers
        const data = o.data ?? [];
        const typed =
          type === 'int64'
            ? BigInt64Array.from(data, (x) => BigInt(x))
            : type === 'int32'
              ? Int32Array.from(data)
              : Float32Array.from(data);
        outputs[o.name] = { type: type === 'float16' ? 'float32' : type, dims: o.shape, data: typed };
        continue;
      }
      outputs[o.name] = tensorOf(type, o.shape, bytes.subarray(at, at + size));
      at += size;
    }
    checkFiniteOutputs(role, outputs);
    const ms = performance.now() - t0;
    this.events.emit('model.inferred', { model: role, batch: Object.values(feeds)[0]?.dims[0] ?? 1, ms });
    return { outputs, ms };
  }

  async close(): Promise<void> {
    this.loaded.clear();
  }
}
