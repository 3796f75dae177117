import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

import { expect } from '@jest/globals';

import { ROOT } from './helpers.js';

const DIR = `${ROOT}test/golden`;

/**
 * Compares a whole value with its golden file. `UPDATE_GOLDEN=1` rewrites the files; review the
 * diff before committing. A missing golden file fails the test rather than being created.
 */
export function expectGolden(name: string, actual: unknown): void {
  const path = `${DIR}/${name}.json`;
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path, text);
    return;
  }
  if (!existsSync(path))
    throw new Error(`golden file ${path} is missing; run with UPDATE_GOLDEN=1`);
  expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(path, 'utf8')));
}
