#!/usr/bin/env node
// Writes dist/validators.cjs: the XRD's spec schema and the input CRD's schema compiled by ajv
// into plain code, so the function's first call does not parse YAML or compile schemas.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { validatorsSource } = await import(`${root}dist/schema.js`);
writeFileSync(`${root}dist/validators.cjs`, validatorsSource());
