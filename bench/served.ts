/**
 * Served models (`LVU_BENCH_CASES=size,prefix,kserve` picks cases):
 * 1. `size`: the prompt-embeds request at LongVU's shape (8,192 × 3,584) per wire dtype: lvu's `torch.save` bytes
 *    and their base64 body, and the time to make them, against PyTorch's own `torch.save` of the same tensor (bytes and
 *    ms, measured in the same run in `.venv`);
 * 2. `prefix`: time to first token on llama.cpp's llama-server (built from PyPI's llama-cpp-python sdist) serving a
 *    tiny Qwen2-VL, a follow-up question over the same context with the server's prompt cache, and the same follow-up
 *    with `cache_prompt: false` (the server's own no-reuse path: the baseline);
 * 3. `kserve`: the lvu process's CPU per sampled frame replaying the same file with the `small` encoders in process
 *    and on Triton (nvidia-pytriton, same machine; Triton's own CPU counted apart), and what it means in 1-fps
 *    streams per 2-core box.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createEngine } from '@lvu/cli';
import type { Engine } from '@lvu/engine';
import { torchSaveTensor } from '@lvu/engine';
import { makeSceneVideo } from '../tests/support/media.js';
import { llamaServer, Peer } from '../tests/support/peers.js';
import { llamaServerBinary, tinyVlm, tritonPython } from '../tests/support/served-models.js';
import { ensureSmallModels, exportPython, freePort } from './fixtures.js';
import type { BenchOptions, BenchRow } from './run.js';
import { median } from './stats.js';

const root = resolve(import.meta.dirname, '..');
const cases = (process.env.LVU_BENCH_CASES ?? 'size,prefix,kserve').split(',');

function sizeCase(runs: number): BenchRow[] {
  const [T, H] = [8192, 3584];
  const values = new Float32Array(T * H);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.001) * 0.05;
  const ref = JSON.parse(
    execFileSync(
      exportPython(),
      [
        '-c',
        `import io, json, time, torch
out = {}
x = torch.sin(torch.arange(${T * H}, dtype=torch.float64) * 0.001).float().mul(0.05).reshape(${T}, ${H})
for d in ("float32", "bfloat16", "float16"):
    ms = []
    for _ in range(${runs}):
        b = io.BytesIO(); t0 = time.perf_counter(); torch.save(x.to(getattr(torch, d)), b)
        ms.append((time.perf_counter() - t0) * 1000)
    out[d] = {"bytes": len(b.getvalue()), "ms": sorted(ms)[len(ms) // 2]}
print(json.dumps(out))`,
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    ).trim(),
  ) as Record<string, { bytes: number; ms: number }>;
  return (['float32', 'bfloat16', 'float16'] as const).map((dtype) => {
    const ms: number[] = [];
    const b64: number[] = [];
    let bytes = 0;
    let body = 0;
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const file = torchSaveTensor(values, T, H, dtype);
      const t1 = performance.now();
      const s = Buffer.from(file.buffer, file.byteOffset, file.byteLength).toString('base64');
      ms.push(t1 - t0);
      b64.push(performance.now() - t1);
      bytes = file.byteLength;
      body = s.length;
    }
    return {
      bench: 'served',
      case: `size-${dtype}`,
      shape: [T, H],
      torchSaveBytes: bytes,
      base64Bytes: body,
      lvuSaveMs: Number(median(ms).toFixed(1)),
      base64Ms: Number(median(b64).toFixed(1)),
      baseline: 'PyTorch: float32 tensor .to(dtype) then torch.save into BytesIO, same run',
      baselineBytes: ref[dtype]!.bytes,
      baselineMs: Number(ref[dtype]!.ms.toFixed(1)),
      ratio: Number((median(ms) / ref[dtype]!.ms).toFixed(2)),
    };
  });
}

async function prefixCase(runs: number): Promise<BenchRow[]> {
  const vlm = tinyVlm();
  const port = await freePort();
  const peer = llamaServer(llamaServerBinary(), vlm.model, vlm.mmproj, port, 8192);
  await peer.start();
  const video = makeSceneVideo(120);
  const engine = await createEngine({
    backend: 'openai',
    openai: { url: `http://127.0.0.1:${port}/v1`, model: 'tiny-vl', maxTokens: 4, textBytesPerToken: 1 },
    longvu: { contextTokens: 4096 },
  });
  const noCache = await createEngine({
    backend: 'openai',
    openai: {
      url: `http://127.0.0.1:${port}/v1`,
      model: 'tiny-vl',
      maxTokens: 4,
      textBytesPerToken: 1,
      extra: { cache_prompt: false },
    },
    longvu: { contextTokens: 4096 },
  });
  try {
    for (const e of [engine, noCache]) {
      e.addStream({ id: 'cam', source: video });
      await e.whenDone('cam');
    }
    const ask = async (e: Engine, q: string) => (await e.query('cam', { question: q })).usage!;
    const cold: number[] = [];
    const warm: number[] = [];
    const base: number[] = [];
    let last = { promptTokens: 0, cachedTokens: 0, images: 0, requestBytes: 0 };
    for (let r = 0; r < runs; r++) {
      const a = await ask(noCache, `Question ${r}: what happens first?`);
      cold.push(a.firstTokenMs!);
      await ask(engine, `Question ${r}: what happens first?`);
      const w = await ask(engine, `Follow-up ${r}: and after that?`);
      warm.push(w.firstTokenMs!);
      const b = await ask(noCache, `Follow-up ${r}: and after that?`);
      base.push(b.firstTokenMs!);
      last = {
        promptTokens: w.promptTokens ?? 0,
        cachedTokens: w.cachedTokens ?? 0,
        images: (w.images?.high ?? 0) + (w.images?.low ?? 0),
        requestBytes: w.requestBytes ?? 0,
      };
    }
    return [
      {
        bench: 'served',
        case: 'prefix-llama-server',
        server: 'llama.cpp llama-server (llama-cpp-python 0.3.36 sdist), tiny Qwen2-VL f32, 2 threads',
        budget: 4096,
        ...last,
        firstTokenMsFollowUp: Number(median(warm).toFixed(1)),
        baseline: 'the same follow-up with cache_prompt: false (the server prefills everything)',
        firstTokenMsNoReuse: Number(median(base).toFixed(1)),
        firstTokenMsColdQuestion: Number(median(cold).toFixed(1)),
        ratio: Number((median(warm) / median(base)).toFixed(3)),
      },
    ];
  } finally {
    await engine.close();
    await noCache.close();
    await peer.kill();
  }
}

/** CPU ms (user + system) of a process group's processes, from /proc. */
function groupCpuMs(pgid: number): number {
  const tick = 100; // USER_HZ
  let ms = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(f[2]) !== pgid) continue; // field 5: pgrp
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / tick; // utime, stime
    } catch {}
  }
  return ms;
}

async function kserveCase(runs: number, quick: boolean): Promise<BenchRow[]> {
  const small = ensureSmallModels();
  const python = tritonPython();
  const [http, grpc] = [await freePort(), await freePort()];
  const triton = new Peer(
    python,
    [join(root, 'tools/triton/serve.py'), small, '--http-port', String(http), '--grpc-port', String(grpc)],
    '"ready": true',
  );
  triton.group = true;
  await triton.start();
  const video = makeSceneVideo(quick ? 60 : 180);
  const replay = async (kserve: boolean) => {
    const engine = await createEngine({
      models: small,
      backend: 'none',
      ...(kserve ? { kserve: { url: `http://127.0.0.1:${http}` } } : {}),
    });
    try {
      const c0 = process.cpuUsage();
      const t0 = groupCpuMs(triton.proc!.pid!);
      const w0 = performance.now();
      engine.addStream({ id: 'cam', source: video });
      await engine.whenDone('cam');
      const c = process.cpuUsage(c0);
      const st = engine.status('cam');
      return {
        sampled: st.counters.sampled,
        kept: st.counters.kept,
        wallMs: performance.now() - w0,
        lvuCpuMs: (c.user + c.system) / 1000,
        serverCpuMs: groupCpuMs(triton.proc!.pid!) - t0,
      };
    } finally {
      await engine.close();
    }
  };
  try {
    const rows: BenchRow[] = [];
    for (const kserve of [false, true]) {
      await replay(kserve); // warm-up
      const rs: Awaited<ReturnType<typeof replay>>[] = [];
      for (let r = 0; r < runs; r++) rs.push(await replay(kserve));
      const per = (f: (x: (typeof rs)[number]) => number) => median(rs.map((x) => f(x) / x.sampled));
      const lvu = per((x) => x.lvuCpuMs);
      const server = kserve ? per((x) => x.serverCpuMs) : 0;
      rows.push({
        bench: 'served',
        case: kserve ? 'kserve-triton' : 'kserve-baseline-local',
        models: 'small (DINOv2-small/14@224, SigLIP-base/16@224, SVA, projector; random weights)',
        sampled: rs[0]!.sampled,
        kept: rs[0]!.kept,
        lvuCpuMsPerFrame: Number(lvu.toFixed(1)),
        serverCpuMsPerFrame: Number(server.toFixed(1)),
        wallMsPerFrame: Number(per((x) => x.wallMs).toFixed(1)),
        // a 2-core lvu box at 1 fps per stream: 2,000 CPU-ms a second
        streamsPerLvuBox: Math.floor(2000 / lvu),
      });
    }
    return rows;
  } finally {
    await triton.kill();
  }
}

export async function run(o: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const runs = o.quick ? 1 : Math.min(o.runs, 3);
  if (cases.includes('size')) rows.push(...sizeCase(runs));
  if (cases.includes('prefix')) rows.push(...(await prefixCase(o.quick ? 2 : 5)));
  if (cases.includes('kserve')) rows.push(...(await kserveCase(runs, o.quick)));
  return rows;
}
