export { conformanceJson, readCase, runConformanceCase } from './conformance.js';
export { type GoldenCase, inputsFromCase, optionsFromCaseConfig } from './golden-case.js';
export { INGEST_OPTIONS } from './ingest.js';
export { main } from './main.js';
export { createEngine, defaultPlugins } from './plugins.js';
export { serveUsage } from './serve-command.js';
export { WORKER_OPTIONS } from './worker-command.js';
