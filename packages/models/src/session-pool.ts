import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EventBus, LvuError, workerPath } from '@lvu/core';
import type { LoadedManifest, ModelRole, ModelSpec } from './model-manifest.js';
import {
  EP_REFUSED,
  type SessionRequest,
  type SessionResponse,
  type ValueInfo,
  type WireTensor,
} from './session-protocol.js';

const WORKER = workerPath(import.meta.url, 'session-worker');

export interface SessionPoolOptions {
  /** Threads per session for one operator (default: this machine's cores, at most 4). */
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  /**
   * Let onnxruntime's idle threads spin waiting for work (its default; a little faster back to back). Off by
   * default here: spinning threads take the cores the decode workers of live streams need.
   */
  allowSpinning?: boolean;
  /** Passed to onnxruntime-node; `cpu` is what the npm package ships (CUDA needs its own binaries). */
  executionProviders?: string[];
  events?: EventBus;
}

/**
 * Where LongVU's networks run: the local onnxruntime-node inference thread (`SessionPool`) or an inference server
 * (`KServePool`). `run` takes and gives the manifest's tensors by name.
 */
export interface InferencePool {
  /** Where `model.inferred` (and a server pool's `model.retried`) go. */
  readonly events: EventBus;
  /** The roles loaded, with how long each took. */
  readonly loaded: ReadonlyMap<string, { loadMs: number }>;
  load(m: LoadedManifest, role: ModelRole): Promise<void>;
  run(
    role: ModelRole | (string & {}),
    feeds: Record<string, WireTensor>,
    opts?: { transfer?: boolean },
  ): Promise<{ outputs: Record<string, WireTensor>; ms: number }>;
  close(): Promise<void>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (r: SessionResponse) => void; reject: (e: unknown) => void };

/**
 * The one inference worker of this process, shared by every SessionPool, created on first use and kept for the
 * process's lifetime (unref'd while idle): onnxruntime-node's native binding is not context-aware, so it loads in one
 * thread per process only — a second thread, even after the first ended, fails with "Module did not self-register".
 */
class InferenceThread {
  static #shared: InferenceThread | null = null;
  readonly worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  dead: Error | null = null;

  static acquire(): InferenceThread {
    InferenceThread.#shared ??= new InferenceThread();
    return InferenceThread.#shared;
  }

  private constructor() {
    this.worker = new Worker(WORKER);
    this.worker.on('message', (r: SessionResponse) => {
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (this.#pending.size === 0) this.worker.unref(); // an idle thread never keeps the process alive
      p?.resolve(r);
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.#pending.values()) {
        p.reject(new LvuError('INFERENCE_FAILED', `inference worker died: ${err.message}`));
      }
      this.#pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit ${code}`)));
    this.worker.unref();
  }

  call(req: WithoutId<SessionRequest>, transfer: ArrayBuffer[] = []): Promise<SessionResponse> {
    if (this.dead) {
      return Promise.reject(
        new LvuError('INFERENCE_FAILED', `inference worker is gone: ${this.dead.message}`),
      );
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...req, id } as SessionRequest, transfer);
    });
  }
}

let poolIds = 0;

/**
 * onnxruntime-node sessions in the process's inference thread (inference never blocks the main thread's event loop),
 * loaded from a model manifest and validated against it: every input and output the manifest names must exist in
 * the ONNX graph with the same dtype and the same fixed dimensions.
 */
export class SessionPool implements InferencePool {
  readonly events: EventBus;
  readonly options: Required<Omit<SessionPoolOptions, 'events'>>;
  /** Loaded models by role (a LongVU manifest's) or by the name `loadFile` gave them. */
  readonly loaded = new Map<
    string,
    { spec: ModelSpec | null; inputs: ValueInfo[]; outputs: ValueInfo[]; loadMs: number }
  >();
  readonly #thread: InferenceThread;
  readonly #prefix = `p${++poolIds}:`;
  #closed = false;

  constructor(options: SessionPoolOptions = {}) {
    this.events = options.events ?? new EventBus();
    this.options = {
      intraOpNumThreads: options.intraOpNumThreads ?? Math.min(4, availableParallelism()),
      interOpNumThreads: options.interOpNumThreads ?? 1,
      allowSpinning: options.allowSpinning ?? false,
      executionProviders: options.executionProviders ?? ['cpu'],
    };
    this.#thread = InferenceThread.acquire();
  }

  #call(req: WithoutId<SessionRequest>, transfer: ArrayBuffer[] = []): Promise<SessionResponse> {
    if (this.#closed) return Promise.reject(new LvuError('INFERENCE_FAILED', 'the session pool is closed'));
    return this.#thread.call(req, transfer);
  }

  /** One ONNX file into the inference thread under `name`, with this pool's thread options. */
  #open(name: string, path: string): Promise<SessionResponse> {
    return this.#call({
      op: 'load',
      key: this.#prefix + name,
      path,
      intraOpNumThreads: this.options.intraOpNumThreads,
      interOpNumThreads: this.options.interOpNumThreads,
      allowSpinning: this.options.allowSpinning,
      executionProviders: this.options.executionProviders,
    });
  }

  /** Loads one role from a loaded manifest and checks the graph against the manifest. */
  async load(m: LoadedManifest, role: ModelRole): Promise<void> {
    const spec = m.manifest.models[role];
    const path = m.paths[role];
    if (!spec || !path)
      throw new LvuError('MODEL_INVALID', `the manifest has no ${role} model`, { field: `models.${role}` });
    const r = await this.#open(role, path);
    if (!r.ok) {
      if (r.message.startsWith(EP_REFUSED)) {
        throw new LvuError('INVALID_CONFIG', r.message.slice(EP_REFUSED.length), {
          field: 'executionProviders',
          hint:
            "name providers this onnxruntime-node has (cpu always); cuda and tensorrt need onnxruntime-node's CUDA " +
            'libraries, which `npm install` fetches only without onnxruntime-node-install=skip, on a machine with CUDA 12',
        });
      }
      throw new LvuError('MODEL_INVALID', `model ${role} (${spec.file}) cannot be loaded: ${r.message}`, {
        field: `models.${role}.file`,
      });
    }
    if (r.op !== 'load') throw new LvuError('INTERNAL', 'unexpected reply');
    checkGraph(role, spec, r.inputs, r.outputs);
    this.loaded.set(role, { spec, inputs: r.inputs, outputs: r.outputs, loadMs: r.ms });
  }

  /**
   * Loads an ONNX file under `name` (models described by another manifest than LongVU's, e.g. the starter set);
   * returns the graph's inputs and outputs for the caller to check.
   */
  async loadFile(name: string, path: string): Promise<{ inputs: ValueInfo[]; outputs: ValueInfo[] }> {
    const r = await this.#open(name, path);
    if (!r.ok) {
      throw new LvuError('MODEL_INVALID', `${path} cannot be loaded: ${r.message}`, {
        field: name,
        hint: 'fetch it again (lvu models fetch starter) or re-export it',
      });
    }
    if (r.op !== 'load') throw new LvuError('INTERNAL', 'unexpected reply');
    this.loaded.set(name, { spec: null, inputs: r.inputs, outputs: r.outputs, loadMs: r.ms });
    return { inputs: r.inputs, outputs: r.outputs };
  }

  /**
   * Runs a loaded model. Output tensors are checked for NaN/Infinity and arrive as transferred buffers (outputs of a
   * batch share one buffer). Inputs are copied to the inference thread (a view: only its own values), unless
   * `transfer` hands their buffers over (for arrays the caller owns whole and will not use again).
   */
  async run(
    role: ModelRole | (string & {}),
    feeds: Record<string, WireTensor>,
    opts: { transfer?: boolean } = {},
  ): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
    const entry = this.loaded.get(role);
    if (!entry) {
      throw new LvuError('MODEL_INVALID', `model ${role} is not loaded`, { field: `models.${role}` });
    }
    // A view of a larger buffer would be posted with its whole buffer (structured clone copies all of it): it goes
    // as a copy of just its values, and only arrays that own their whole buffer are transferred.
    const whole = (t: WireTensor) =>
      t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength;
    const sent: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      if (!whole(t)) sent[name] = { ...t, data: t.data.slice() as typeof t.data };
      else sent[name] = t;
      if (opts.transfer || !whole(t)) transfer.push(sent[name]!.data.buffer as ArrayBuffer);
    }
    const r = await this.#call({ op: 'run', key: this.#prefix + role, feeds: sent }, transfer);
    if (!r.ok)
      throw new LvuError('INFERENCE_FAILED', `model ${role} failed: ${r.message}`, {
        field: `models.${role}`,
      });
    if (r.op !== 'run') throw new LvuError('INTERNAL', 'unexpected reply');
    checkFiniteOutputs(role, r.outputs);
    const batch = Object.values(feeds)[0]?.dims[0] ?? 1;
    this.events.emit('model.inferred', { model: role, batch, ms: r.ms });
    return { outputs: r.outputs, ms: r.ms };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#call({ op: 'close', prefix: this.#prefix }).catch(() => {});
    this.#closed = true;
    this.loaded.clear();
  }
}

/** Float outputs must be finite: NaN or Infinity means a broken model file or input. */
export function checkFiniteOutputs(role: string, outputs: Record<string, WireTensor>): void {
  for (const [name, t] of Object.entries(outputs)) {
    if (t.data instanceof Float32Array) {
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i]!)) {
          throw new LvuError('INFERENCE_FAILED', `model ${role} produced NaN or Infinity in ${name}`, {
            field: `models.${role}.outputs.${name}`,
            hint: 'the model file or its input is broken; re-export the model and check the input',
          });
        }
      }
    }
  }
}

/** The graph's (or the server's) inputs and outputs must be the manifest's: names, dtypes, shapes. */
export function checkGraph(
  role: ModelRole,
  spec: ModelSpec,
  inputs: ValueInfo[],
  outputs: ValueInfo[],
): void {
  for (const [kind, want, have] of [
    ['input', spec.inputs, inputs],
    ['output', spec.outputs, outputs],
  ] as const) {
    for (const t of want) {
      const g = have.find((h) => h.name === t.name);
      if (!g) {
        throw new LvuError(
          'MODEL_INVALID',
          `model ${role} (${spec.file}) has no ${kind} "${t.name}"; the graph has ${have.map((h) => h.name).join(', ')}`,
          {
            field: `models.${role}.${kind}s.${t.name}`,
            hint: 'is this the right file for this role? re-export it',
          },
        );
      }
      if (g.type !== t.dtype) {
        throw new LvuError(
          'MODEL_INVALID',
          `model ${role}: ${kind} "${t.name}" is ${g.type} in the graph, ${t.dtype} in the manifest`,
          {
            field: `models.${role}.${kind}s.${t.name}.dtype`,
          },
        );
      }
      const same =
        g.shape.length === t.shape.length &&
        t.shape.every((d, i) => typeof d === 'string' || typeof g.shape[i] === 'string' || g.shape[i] === d);
      if (!same) {
        throw new LvuError(
          'MODEL_INVALID',
          `model ${role}: ${kind} "${t.name}" has shape [${g.shape}] in the graph, [${t.shape}] in the manifest`,
          { field: `models.${role}.${kind}s.${t.name}.shape` },
        );
      }
    }
  }
}
