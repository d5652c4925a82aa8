export { Credits } from './credits.js';
export { encodeKept } from './encode-kept.js';
export { pullMap } from './pull-map.js';
export { type ReducedWindow, reduceWindows } from './reduce-windows.js';
export { type Scored, scoreFrames } from './score-frames.js';
export { temporalReduce } from './temporal-reduce.js';
export { runWritePath, type WritePathOptions, writePath } from './write-path.js';
