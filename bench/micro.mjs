// Splits the cost of one 4-target steady-state call into request decoding, RunFunction and
// response encoding, in-process. Needs `npm run bench` to have written the payloads first.
// Usage: node bench/micro.mjs [N]
import { readFileSync } from 'node:fs';

import { RunFunctionRequest, RunFunctionResponse } from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../dist/function.js';
import { newLogger } from '../dist/logger.js';

const bin = readFileSync(new URL('../_output/bench/payloads/3.bin', import.meta.url));
const deps = {
  logger: newLogger(false),
  random: () => 0,
  now: () => new Date('2026-12-01T10:05:00Z'),
};
const n = Number(process.argv[2] ?? 5000);
const time = (f) => {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  return (Number(process.hrtime.bigint() - t) / n / 1000).toFixed(1);
};
const req = RunFunctionRequest.decode(bin);
for (let i = 0; i < 500; i++) runFunction(req, deps);
const rsp = runFunction(req, deps);
const result = {
  decodeUs: time(() => RunFunctionRequest.decode(bin)),
  runFunctionUs: time(() => runFunction(req, deps)),
  encodeUs: time(() => RunFunctionResponse.encode(rsp).finish()),
  requestBytes: bin.length,
  responseBytes: RunFunctionResponse.encode(rsp).finish().length,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
