#!/usr/bin/env node
/**
 * cross-platform-secret-audit: reads every target of every CrossPlatformSecret through the
 * platforms' own APIs and prints what it found. Exit status 1 when any target has drifted, so
 * it can gate a CI job or page from a cron job.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

import { parseDuration } from '../duration.js';
import { getString, isObj, type Obj } from '../observe.js';
import { storeName } from '../names.js';
import { parseInput, type FunctionInput } from '../spec.js';
import { Engine } from '../verify/engine.js';
import { scrubError } from '../verify/scrub.js';
import { kubernetesClient } from '../verify/kubernetes.js';
import { Adapters, type StepCredentials } from '../verify/live.js';
import { audit, DRIFT_STATES, type AuditRow } from './audit.js';
import { listCrossPlatformSecrets } from './list.js';

export const USAGE = `Usage: cross-platform-secret-audit --input=FILE [flags] [FILE ...]

Reads CrossPlatformSecrets from FILEs ("-" for standard input) or, when no FILE is given,
from the cluster of the kubeconfig's context; reads every target through the platform's API
and reports each as InSync, Behind, Drifted, Missing, Deleted or Unknown.

Flags:
  -h, --help                 Show this help.
      --input=FILE           The function's Input, or a Composition whose pipeline step holds
                             it, with the verification settings (required).
      --credentials=NAME=FILE
                             A credentials entry the input names: a Secret manifest (data or
                             stringData), a kubeconfig (taken as key "kubeconfig"), or any
                             other file (taken as key "credentials"). Repeat for each entry.
      --kubeconfig=FILE      Kubeconfig for the cluster listing (default: $KUBECONFIG,
                             ~/.kube/config, or the pod's service account).
      --context=NAME         Kubeconfig context.
  -n, --namespace=NS         Only this namespace (cluster listing).
      --no-store             Do not read value stores; compare each target with the others.
  -o, --output=table|json    Report format (default table).
      --concurrency=8        Secrets audited at once.
      --progress             Progress on standard error (default when it is a terminal).
      --fail-on-unknown      Exit 1 also when a target could not be read.
      --timeout=10m          Time for one secret's reads, waits for the input's rate limits
                             included; what is not read by then is unknown.

Value stores (Secrets NAME.value-store) are read from the cluster, or taken from the FILEs
when they hold them (kubectl's List output is understood). Exit status: 0 no drift, 1 drift
found (or a target unknown, with --fail-on-unknown), 2 usage or setup error.
`;

class UsageError extends Error {}

interface Args {
  files: string[];
  input: FunctionInput;
  credentials: StepCredentials;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  store: boolean;
  output: 'table' | 'json';
  concurrency: number;
  progress: boolean;
  failOnUnknown: boolean;
  timeoutMs: number;
}

function docs(text: string, what: string): Obj[] {
  const out: Obj[] = [];
  for (const d of parseAllDocuments(text)) {
    const e = d.errors[0];
    if (e !== undefined) {
      // The parser's message quotes the offending line, which may hold a value or a token.
      const at = e.linePos?.[0];
      const where = at === undefined ? '' : ` at line ${String(at.line)}, column ${String(at.col)}`;
      throw new UsageError(`${what}: not valid YAML${where} (${e.code})`);
    }
    const v = d.toJS() as unknown;
    if (!isObj(v)) continue;
    // kubectl get -o yaml wraps what it lists in one List.
    if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
      out.push(...(v.items as unknown[]).filter(isObj));
    } else out.push(v);
  }
  return out;
}

function read(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The Input itself, or the input of the Composition step that runs this function. */
function inputFrom(path: string): FunctionInput {
  for (const d of docs(read(path), path)) {
    let raw: unknown = d;
    if (d.kind === 'Composition') {
      const steps = isObj(d.spec) && Array.isArray(d.spec.pipeline) ? d.spec.pipeline : [];
      raw = (steps as unknown[])
        .map((s) => (isObj(s) ? s.input : undefined))
        .find((i) => getString(i, 'kind') === 'Input');
    }
    if (getString(raw, 'kind') !== 'Input') continue;
    const parsed = parseInput(raw);
    if (!parsed.ok) throw new UsageError(`${path}: ${parsed.errors.join('; ')}`);
    if (parsed.value.verification === undefined) {
      throw new UsageError(`${path}: the Input has no verification settings`);
    }
    return parsed.value;
  }
  throw new UsageError(`${path}: holds no secrets.fn.crossplatform.io Input`);
}

function timeout(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) {
    throw new UsageError(`--timeout: must be a duration of at least 1s such as 10m, not "${text}"`);
  }
  return ms;
}

function credentialFrom(spec: string): [string, Record<string, Buffer>] {
  const i = spec.indexOf('=');
  if (i <= 0) throw new UsageError(`--credentials: expected NAME=FILE, not "${spec}"`);
  const name = spec.slice(0, i);
  const text = read(spec.slice(i + 1));
  let parsed: Obj[] = [];
  try {
    parsed = docs(text, name);
  } catch {
    // Not YAML (an AWS credentials file): the whole file is the entry's "credentials" key.
  }
  if (parsed.some((d) => d.kind === 'Config')) {
    return [name, { kubeconfig: Buffer.from(text, 'utf8') }];
  }
  const secret = parsed.find((d) => d.kind === 'Secret');
  if (secret === undefined) return [name, { credentials: Buffer.from(text, 'utf8') }];
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(isObj(secret.data) ? secret.data : {})) {
    data[k] = Buffer.from(String(v), 'base64');
  }
  for (const [k, v] of Object.entries(isObj(secret.stringData) ? secret.stringData : {})) {
    data[k] = Buffer.from(String(v), 'utf8');
  }
  return [name, data];
}

export function parseAuditArgs(argv: string[], isTty: boolean): Args | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        input: { type: 'string' },
        credentials: { type: 'string', multiple: true },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        'no-store': { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        concurrency: { type: 'string' },
        progress: { type: 'boolean' },
        'fail-on-unknown': { type: 'boolean' },
        timeout: { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  if (v.input === undefined) throw new UsageError('--input: required');
  const output = v.output ?? 'table';
  if (output !== 'table' && output !== 'json') {
    throw new UsageError(`--output: must be table or json, not "${output}"`);
  }
  const concurrency = v.concurrency ?? '8';
  if (!/^[1-9][0-9]{0,2}$/.test(concurrency)) {
    throw new UsageError('--concurrency: must be a whole number from 1 to 999');
  }
  return {
    files: parsed.positionals,
    input: inputFrom(v.input),
    credentials: Object.fromEntries((v.credentials ?? []).map(credentialFrom)),
    ...(v.kubeconfig === undefined ? {} : { kubeconfig: v.kubeconfig }),
    ...(v.context === undefined ? {} : { context: v.context }),
    ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
    store: v['no-store'] !== true,
    output,
    concurrency: Number(concurrency),
    progress: v.progress === true || isTty,
    failOnUnknown: v['fail-on-unknown'] === true,
    timeoutMs: timeout(v.timeout ?? '10m'),
  };
}

const COLUMNS: [string, (r: AuditRow) => string][] = [
  ['NAMESPACE', (r) => r.namespace],
  ['NAME', (r) => r.name],
  ['TARGET', (r) => r.target],
  ['PLATFORM', (r) => r.platform],
  ['STATE', (r) => r.state],
  ['VERSION', (r) => (r.version === undefined ? '-' : String(r.version))],
  ['EXTERNAL NAME', (r) => r.externalName],
  ['MESSAGE', (r) => r.message],
];

export function summary(rows: readonly AuditRow[]): Record<string, number> {
  const out: Record<string, number> = { targets: rows.length };
  for (const s of ['InSync', 'Behind', 'Drifted', 'Missing', 'Deleted', 'Unknown']) {
    out[s] = rows.filter((r) => r.state === s).length;
  }
  return out;
}

export function table(rows: readonly AuditRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const lines = cells.map((c) =>
    c
      .map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  const s = summary(rows);
  lines.push(
    '',
    `${String(s.targets)} targets: ${String(s.InSync)} in sync, ${String(s.Behind)} behind, ` +
      `${String(s.Drifted)} drifted, ${String(s.Missing)} missing, ${String(s.Deleted)} ` +
      `deleted, ${String(s.Unknown)} unknown`,
  );
  return `${lines.join('\n')}\n`;
}

export async function run(
  argv: string[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void; isTty: boolean },
): Promise<number> {
  let args;
  try {
    args = parseAuditArgs(argv, io.isTty);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`cross-platform-secret-audit: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  let composites: Obj[];
  let store: ((ns: string, name: string) => Promise<Obj | undefined>) | undefined;
  try {
    if (args.files.length > 0) {
      const all = args.files.flatMap((f) => docs(read(f), f === '-' ? 'standard input' : f));
      composites = all.filter((d) => d.kind === 'CrossPlatformSecret');
      if (composites.length === 0) {
        throw new UsageError(`no CrossPlatformSecret in ${args.files.join(', ')}`);
      }
      const stores = new Map(
        all
          .filter((d) => d.kind === 'Secret')
          .map((d) => [
            `${getString(d, 'metadata', 'namespace') ?? ''}/` +
              (getString(d, 'metadata', 'name') ?? ''),
            d,
          ]),
      );
      store = args.store
        ? (ns, name) => Promise.resolve(stores.get(`${ns}/${storeName(name)}`))
        : undefined;
    } else {
      if (args.kubeconfig === undefined && !kubeconfigAvailable()) {
        throw new UsageError(
          'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or give FILEs to read composites from',
        );
      }
      let kc;
      try {
        kc = kubernetesClient(args.kubeconfig, args.context);
      } catch (err) {
        const why = /context/.test((err as Error).message)
          ? (err as Error).message
          : 'it is not a valid kubeconfig';
        const which = args.kubeconfig ?? process.env.KUBECONFIG ?? '~/.kube/config';
        throw new UsageError(`cannot load the kubeconfig ${which}: ${why}`);
      }
      composites = (await listCrossPlatformSecrets(kc, {
        ...(args.namespace === undefined ? {} : { namespace: args.namespace }),
      })) as Obj[];
      const core = kc.makeApiClient(CoreV1Api);
      store = args.store
        ? async (namespace, name) => {
            try {
              const s = await core.readNamespacedSecret({ namespace, name: storeName(name) });
              return { ...(s as unknown as Obj), apiVersion: 'v1', kind: 'Secret' };
            } catch {
              // Not readable (RBAC) or gone: compare the targets with one another instead.
              return undefined;
            }
          }
        : undefined;
    }
  } catch (err) {
    // Only our own messages are shown: a client library's may quote the kubeconfig.
    const message =
      err instanceof UsageError
        ? err.message
        : `cannot list the composites: ${scrubError((err as Error).name)}` +
          (isObj(err) && typeof err.code === 'number' ? ` (HTTP ${String(err.code)})` : '');
    io.stderr(`cross-platform-secret-audit: ${message}\n`);
    return 2;
  }
  // One run, no later call: wait for the rate limits rather than leave targets unread.
  const engine = new Engine({ unknownTtlMs: 30_000, waitForRate: true });
  const rows = await audit(composites, {
    input: args.input,
    credentials: args.credentials,
    engine,
    adapters: new Adapters(),
    concurrency: args.concurrency,
    timeoutMs: args.timeoutMs,
    ...(store === undefined ? {} : { store }),
    ...(args.progress
      ? {
          onProgress: (done: number, total: number) => {
            if (done === total || done % 100 === 0) {
              io.stderr(`audited ${String(done)} of ${String(total)} secrets\n`);
            }
          },
        }
      : {}),
  });
  io.stdout(
    args.output === 'json'
      ? `${JSON.stringify({ rows, summary: summary(rows) }, null, 2)}\n`
      : table(rows),
  );
  const failing = rows.some(
    (r) => DRIFT_STATES.includes(r.state) || (args.failOnUnknown && r.state === 'Unknown'),
  );
  return failing ? 1 : 0;
}

/** Where the Kubernetes client would find a configuration, without its fallback to localhost. */
function kubeconfigAvailable(): boolean {
  const env = process.env.KUBECONFIG;
  if (env !== undefined && env !== '') return true;
  if (process.env.KUBERNETES_SERVICE_HOST !== undefined) return true;
  return existsSync(join(homedir(), '.kube', 'config'));
}
