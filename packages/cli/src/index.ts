export { conformanceJson, readCase, runConformanceCase } from './conformance.js';
export { type GoldenCase, inputsFromCase, optionsFromCaseConfig } from './golden-case.js';
export { main } from './main.js';
