import { Registry } from '@lvu/core';
import { isStarterDir, LongVuModels, StarterModels } from '@lvu/models';
import { BuiltinFrameEncoder, BuiltinTextEncoder } from './builtin-encoder.js';
import type { ModelKit } from './model-kit.js';
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

const longvuKit: ModelKit = {
  name: 'longvu',
  description: 'a model directory of the exporter (lvu-models/1): DINOv2, SigLIP, SVA, projector, LLM',
  accepts: (dir) => !!dir,
  async open(dir, ctx) {
    const models = await LongVuModels.open(dir!, ctx);
    const vision = new OnnxFrameEncoder(models, { padded: true, unpad: ctx.longvu.unpad ?? 'official' });
    const m = models.m.manifest;
    const hasLlm = Boolean(m.llm && m.models.llm);
    return {
      kit: 'longvu',
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
  },
};

/** The model kits, tried in order: a new kind of model set is a new entry before `longvu` (which takes any directory). */
export const modelKits = new Registry<ModelKit>('model kit', [builtinKit, starterKit, longvuKit]);
