import { Registry } from '@lvu/core';
import { isStarterDir, KServePool, LongVuModels, StarterModels } from '@lvu/models';
import { BuiltinFrameEncoder, BuiltinTextEncoder } from './builtin-encoder.js';
import type { ModelKit, ModelKitContext, OpenedModels } from './model-kit.js';
import { OnnxFrameEncoder, OnnxTextEncoder } from './onnx-encoder.js';
import { StarterFrameEncoder, StarterTextEncoder, starterLabels } from './starter-encoder.js';

/**
 * The temporal-reduction threshold for the starter set's MobileNetV2 features (cosine of flattened 12×12×1280 maps;
 * DINOv2's is 0.83) when the manifest does not say: it keeps 46 % of vtest.avi at 1 fps (the manifest's calibration).
 */
export const STARTER_DINO_THRESHOLD = 0.815;

const builtinKit: ModelKit = {
  name: 'builtin',
  description: 'no model directory: the weight-free built-in encoder (colour and texture statistics)',
  accepts: (dir) => !dir,
  async open() {
    const vision = new BuiltinFrameEncoder();
    return {
      kit: 'builtin',
      vision,
      text: new BuiltinTextEncoder(),
      defaultBackend: 'none',
      longvu: {},
      handle: null,
      close: () => vision.close(),
    };
  },
};

const starterKit: ModelKit = {
  name: 'starter',
  description:
    'the starter set (lvu models fetch starter): MobileNetV2 and all-MiniLM-L6-v2, real pretrained',
  accepts: (dir) => !!dir && isStarterDir(dir),
  async open(dir, ctx) {
    const starter = await StarterModels.open(dir!, ctx);
    const vision = new StarterFrameEncoder(
      starter,
      starter.manifest.calibration?.dinoThreshold ?? STARTER_DINO_THRESHOLD,
    );
    return {
      kit: 'starter',
      vision,
      text: new StarterTextEncoder(starter),
      defaultBackend: 'evidence',
      longvu: {},
      handle: starter,
      labels: (hi) => starterLabels(starter, hi),
      close: () => vision.close(),
    };
  },
};

/** What the engine runs on with LongVU's networks, wherever they run. */
function longvuOpened(
  kit: string,
  models: LongVuModels,
  unpad: ModelKitContext['longvu']['unpad'],
): OpenedModels {
  const vision = new OnnxFrameEncoder(models, { padded: true, unpad: unpad ?? 'official' });
  const m = models.m.manifest;
  const hasLlm = Boolean(m.llm && models.pool.loaded.has('llm'));
  return {
    kit,
    vision,
    text: new OnnxTextEncoder(models),
    defaultBackend: hasLlm ? 'onnx' : 'none',
    longvu: {
      stcThreshold: m.longvu.stcThreshold,
      ...(m.llm ? { contextTokens: m.llm.contextTokens } : {}),
    },
    handle: models,
    close: async () => {
      await vision.close();
      await models.close();
    },
  };
}

const longvuKit: ModelKit = {
  name: 'longvu',
  description: 'a model directory of the exporter (lvu-models/1): DINOv2, SigLIP, SVA, projector, LLM',
  accepts: (dir) => !!dir,
  async open(dir, ctx) {
    return longvuOpened('longvu', await LongVuModels.open(dir!, ctx), ctx.longvu.unpad);
  },
};

/** The roles a KServe server runs: the encoders (the LLM goes to a served backend: prompt-embeds or openai). */
const SERVED_ROLES = ['dino', 'siglip', 'sva', 'projector', 'text-embed'] as const;

const kserveKit: ModelKit = {
  name: 'kserve',
  description:
    'a model directory whose encoders run on a KServe v2 server (Triton, KServe, MLServer): engine.kserve.url',
  accepts: (dir, ctx) => !!dir && !!ctx.kserve,
  async open(dir, ctx) {
    const pool = new KServePool({ ...ctx.kserve!, events: ctx.events });
    const models = await LongVuModels.open(dir!, {
      ...ctx,
      pool,
      roles: [...SERVED_ROLES],
    });
    return longvuOpened('kserve', models, ctx.longvu.unpad);
  },
};

/** The model kits, tried in order: a new kind of model set is a new entry before `longvu` (which takes any directory). */
export const modelKits = new Registry<ModelKit>('model kit', [builtinKit, starterKit, kserveKit, longvuKit]);
