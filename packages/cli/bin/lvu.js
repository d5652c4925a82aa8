#!/usr/bin/env node
// The `lvu` command. The compiled CLI lives in ../dist (built by `npm ci` through the root `prepare` script).
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`lvu: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
