export {
  buildFeatureBatch,
  type FeatureGeometry,
  type FeatureRow,
  featureRows,
  featureSchema,
  fromIpc,
  toIpc,
} from './feature-batch.js';
export { decodeWindow, encodeWindow, type FeatureWindow } from './feature-window.js';
export { fromHalf, toHalf } from './half.js';
