/**
 * The process's one long-lived inference thread, owning every onnxruntime-node session: `InferenceSession.run()`
 * blocks its thread, so it never runs on the main thread; and onnxruntime-node's native binding can be loaded in
 * only one thread per process. Sessions are keyed `<pool>:<role>`. Tensors arrive and leave as transferred buffers.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import {
  EP_REFUSED,
  type SessionRequest,
  type SessionResponse,
  type ValueInfo,
  type WireTensor,
} from './session-protocol.js';

const sessions = new Map<string, ort.InferenceSession>();

function info(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) => ({
    name: m.name,
    type: m.isTensor ? m.type : null,
    shape: m.isTensor ? [...m.shape] : [],
  }));
}

function reply(r: SessionResponse, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(r, transfer);
}

parentPort!.on('message', async (req: SessionRequest) => {
  const t0 = performance.now();
  try {
    if (req.op === 'load') {
      const have = ort.listSupportedBackends();
      for (const ep of req.executionProviders) {
        const b = have.find((x) => x.name === ep);
        if (!b) {
          throw new Error(
            `${EP_REFUSED}${ep} is not in this onnxruntime-node ${ort.env.versions.node} (it has: ${have.map((x) => x.name).join(', ')})`,
          );
        }
      }
      let s: ort.InferenceSession;
      try {
        s = await ort.InferenceSession.create(req.path, {
          intraOpNumThreads: req.intraOpNumThreads,
          interOpNumThreads: req.interOpNumThreads,
          executionProviders: req.executionProviders,
          extra: { session: { intra_op: { allow_spinning: req.allowSpinning ? '1' : '0' } } },
          graphOptimizationLevel: 'all',
        });
      } catch (err) {
        const eps = req.executionProviders.filter((ep) => ep !== 'cpu');
        const unbundled = eps.filter((ep) => have.find((x) => x.name === ep && !x.bundled));
        if (unbundled.length) {
          throw new Error(
            `${EP_REFUSED}${unbundled.join(', ')} could not start: its libraries are not installed (${(err as Error).message.slice(0, 200)})`,
          );
        }
        throw err;
      }
      await sessions.get(req.key)?.release();
      sessions.set(req.key, s);
      reply({
        id: req.id,
        ok: true,
        op: 'load',
        inputs: info(s.inputMetadata),
        outputs: info(s.outputMetadata),
        ms: performance.now() - t0,
      });
    } else if (req.op === 'run') {
      const s = sessions.get(req.key);
      if (!s) throw new Error(`model ${req.key} is not loaded`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(req.feeds)) feeds[k] = new ort.Tensor(t.type, t.data, t.dims);
      const out = await s.run(feeds);
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [k, t] of Object.entries(out)) {
        const data = t.data as WireTensor['data'];
        outputs[k] = { type: t.type as WireTensor['type'], dims: [...t.dims], data };
        transfer.push(data.buffer as ArrayBuffer);
        t.dispose?.();
      }
      reply({ id: req.id, ok: true, op: 'run', outputs, ms: performance.now() - t0 }, transfer);
    } else {
      for (const [k, s] of [...sessions]) {
        if (!k.startsWith(req.prefix)) continue;
        await s.release();
        sessions.delete(k);
      }
      reply({ id: req.id, ok: true, op: 'close' });
    }
  } catch (err) {
    reply({ id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
});
