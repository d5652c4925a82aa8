export {
  buildFeatureBatch,
  type FeatureGeometry,
  type FeatureRow,
  featureRows,
  featureSchema,
  fromIpc,
  toIpc,
} from './feature-batch.js';
