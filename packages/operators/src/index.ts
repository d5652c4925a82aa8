export { Credits } from './credits.js';
export { pullMap } from './pull-map.js';
export { temporalReduce } from './temporal-reduce.js';
