/**
 * Running the real Crossplane CLI (built by scripts/install-crossplane-cli.sh) against the
 * function started from dist/, for the end-to-end tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllDocuments, stringify } from 'yaml';

import type { Obj } from '../src/observe.js';
import { ROOT } from './helpers.js';

export const CLI = process.env.CROSSPLANE_CLI ?? `${ROOT}_output/bin/crossplane`;
const MAIN = `${ROOT}dist/main.js`;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[]): Run {
  const r = spawnSync(CLI, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((d): d is Obj => typeof d === 'object' && d !== null);
}

export function writeDocs(path: string, objects: Obj[]): void {
  writeFileSync(path, objects.map((d) => stringify(d)).join('---\n'));
}

export const composed = (out: Obj[]): Obj[] =>
  out.filter((d) => d.kind !== 'Result' && d.kind !== 'CrossPlatformSecret');
export const results = (out: Obj[]): Obj[] => out.filter((d) => d.kind === 'Result');
export const xrOf = (out: Obj[]): Obj => out.find((d) => d.kind === 'CrossPlatformSecret') ?? {};

export interface RunningFunction {
  port: number;
  stop(): void;
}

/** Starts the built function without TLS, as `crossplane render` needs it, on a free port. */
export async function startFunction(): Promise<RunningFunction> {
  if (!existsSync(CLI)) {
    throw new Error(`Crossplane CLI not found at ${CLI}: run scripts/install-crossplane-cli.sh`);
  }
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const fn: ChildProcess = spawn(process.execPath, [MAIN, '--insecure', '--address=127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error(`function did not start: ${out}`));
    }, 10_000);
    fn.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { port, stop: () => fn.kill('SIGTERM') };
}

/** `crossplane render` of an XR file with the packaged Composition, XRD defaults and results. */
export function render(port: number, xrPath: string, extra: string[] = []): Obj[] {
  const r = cli([
    'render',
    xrPath,
    'apis/composition.yaml',
    'examples/functions.yaml',
    '--xrd=apis/definition.yaml',
    '-r',
    '-x',
    '-a',
    `render.crossplane.io/runtime-development-target=127.0.0.1:${port}`,
    ...extra,
  ]);
  if (r.code !== 0) throw new Error(`render ${xrPath} failed (${r.code}): ${r.stderr}`);
  return docs(r.stdout);
}

/** `beta validate` downloads Crossplane's own schemas unless told the image is cached. */
export function validate(work: string, extensions: string[], resources: string): Run {
  const cache = join(work, 'validate-cache');
  mkdirSync(join(cache, 'local', 'no-crossplane-schemas@v0'), { recursive: true });
  return cli([
    'beta',
    'validate',
    extensions.join(','),
    resources,
    `--cache-dir=${cache}`,
    '--crossplane-image=local/no-crossplane-schemas:v0',
  ]);
}
