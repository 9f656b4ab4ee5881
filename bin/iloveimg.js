#!/usr/bin/env node
// The shim: load the compiled program, run it, and set the exit code. Nothing else exits the process.
import { main } from '../dist/main.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
