/**
 * Turns a composite's planned targets into live reads: which adapter reads each target, with
 * which credentials, under which limits. Adapters are kept per platform account, so clients
 * and their connections are reused across calls and composites.
 */
import { createHash } from 'node:crypto';

import { parse } from 'yaml';

import { isObj } from '../observe.js';
import type { PlannedTarget } from '../plan.js';
import type { AwsSettings, AzureSettings, Platform, VaultSettings } from '../spec.js';
import type { VerificationInput } from '../spec.js';
import type { KubernetesTarget } from '../targets/kubernetes.js';
import { vaultUrlOf } from './azure-url.js';
import { DEFAULT_LIMITS, type LiveItem, type PlatformLimits } from './engine.js';
import type { Adapter, LiveObservation } from './types.js';

/** Credential entries of the pipeline step, by name: each a Secret's data. */
export type StepCredentials = Record<string, Record<string, Buffer>>;

export class ConfigError extends Error {}

type AnyAdapter = Adapter<{ id: string }>;

/** What an adapter is built from; the same inputs give the same adapter. */
export interface AdapterSpec {
  platform: Platform;
  settings: Record<string, unknown>;
  secret?: Record<string, Buffer>;
}

export type AdapterBuilder = (spec: AdapterSpec) => AnyAdapter;

const MAX_ADAPTERS = 256;

export class Adapters {
  private readonly built = new Map<string, AnyAdapter>();

  constructor(private readonly build: AdapterBuilder = buildAdapter) {}

  get(spec: AdapterSpec): AnyAdapter {
    const h = createHash('sha256').update(spec.platform).update(JSON.stringify(spec.settings));
    for (const [k, v] of Object.entries(spec.secret ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      h.update(`\n${k}\n`).update(v);
    }
    const id = h.digest('hex');
    let a = this.built.get(id);
    if (a === undefined) {
      // Rotated credentials make new adapters; old ones are dropped wholesale, not tracked.
      if (this.built.size >= MAX_ADAPTERS) this.built.clear();
      a = this.build(spec);
      this.built.set(id, a);
    }
    return a;
  }
}

function text(secret: Record<string, Buffer> | undefined, key: string): string | undefined {
  const v = secret?.[key];
  return v === undefined ? undefined : v.toString('utf8');
}

/** The [default] profile of an AWS shared-credentials file, as provider-aws reads it. */
export function awsProfile(ini: string): { accessKeyId: string; secretAccessKey: string } & {
  sessionToken?: string;
} {
  const section = /^\s*\[default\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(ini)?.[1] ?? ini;
  const field = (k: string) =>
    new RegExp(`^\\s*${k}\\s*=\\s*(\\S+)\\s*$`, 'mi').exec(section)?.[1] ?? undefined;
  const accessKeyId = field('aws_access_key_id');
  const secretAccessKey = field('aws_secret_access_key');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      'AWS credentials: key "credentials" must hold aws_access_key_id and aws_secret_access_key ' +
        'under [default]',
    );
  }
  const sessionToken = field('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
}

function json(secret: Record<string, Buffer> | undefined, what: string): Record<string, unknown> {
  const raw = text(secret, 'credentials');
  if (raw === undefined) throw new ConfigError(`${what} credentials: no key "credentials"`);
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      return v as Record<string, unknown>;
    }
  } catch {
    // Reported below without the text, which is a credential.
  }
  throw new ConfigError(`${what} credentials: key "credentials" must hold a JSON object`);
}

/**
 * Loads a platform's SDK on first use: a function whose Compositions verify one platform, or
 * none, starts without loading the other three.
 */
class Lazy implements AnyAdapter {
  private real?: Promise<AnyAdapter | ConfigError>;

  constructor(
    readonly platform: Platform,
    private readonly make: () => Promise<AnyAdapter>,
  ) {}

  async observe(
    targets: readonly { id: string }[],
    signal: AbortSignal,
    opts?: { concurrency?: number },
  ): Promise<Map<string, LiveObservation>> {
    this.real ??= this.make().catch((err: unknown) =>
      err instanceof ConfigError
        ? err
        : new ConfigError(`cannot set up the ${this.platform} client: ${(err as Error).name}`),
    );
    const a = await this.real;
    if (a instanceof ConfigError) {
      return new Map(targets.map((t) => [t.id, { state: 'unknown', error: a.message }]));
    }
    return a.observe(targets, signal, opts);
  }
}

/** The adapters for the four platforms, from the pipeline step's settings and credentials. */
export function buildAdapter(spec: AdapterSpec): AnyAdapter {
  const s = spec.settings;
  const lazy = (make: () => Promise<AnyAdapter>) => new Lazy(spec.platform, make);
  switch (spec.platform) {
    case 'aws': {
      const ini = text(spec.secret, 'credentials');
      const credentials = ini === undefined ? undefined : awsProfile(ini);
      return lazy(async () => {
        const { AwsAdapter, awsClients } = await import('./aws.js');
        return new AwsAdapter(
          awsClients({
            ...(typeof s.endpoint === 'string' ? { endpoint: s.endpoint } : {}),
            ...(credentials === undefined ? {} : { credentials }),
          }),
        );
      });
    }
    case 'vault': {
      const address = String(s.address);
      let token = '';
      const auth = s.kubernetesAuth as { role: string; mount: string } | undefined;
      if (spec.secret !== undefined) {
        const t = json(spec.secret, 'Vault').token;
        if (typeof t !== 'string' || t === '') {
          throw new ConfigError('Vault credentials: the JSON in "credentials" has no "token"');
        }
        token = t;
      } else if (auth === undefined) {
        throw new ConfigError(
          'input.verification.vault: name credentials or kubernetesAuth; Vault has no ambient ' +
            'identity',
        );
      }
      return lazy(async () => {
        const { VaultAdapter, vaultClient } = await import('./vault.js');
        const client = vaultClient(address, token, s.namespace);
        return token === '' ? new VaultAdapter(client, auth) : new VaultAdapter(client);
      });
    }
    case 'azure': {
      const c = spec.secret === undefined ? undefined : json(spec.secret, 'Azure');
      let principal: { tenantId: string; clientId: string; clientSecret: string } | undefined;
      if (c !== undefined) {
        const { tenantId, clientId, clientSecret } = c;
        if (
          typeof tenantId !== 'string' ||
          typeof clientId !== 'string' ||
          typeof clientSecret !== 'string'
        ) {
          throw new ConfigError(
            'Azure credentials: the JSON in "credentials" needs tenantId, clientId and ' +
              'clientSecret',
          );
        }
        principal = { tenantId, clientId, clientSecret };
      }
      return lazy(async () => {
        const { AzureAdapter, azureClients, clientSecretCredential } = await import('./azure.js');
        const credential =
          principal === undefined
            ? undefined
            : clientSecretCredential(
                principal.tenantId,
                principal.clientId,
                principal.clientSecret,
                typeof s.authorityHost === 'string' ? s.authorityHost : undefined,
              );
        return new AzureAdapter(azureClients(credential === undefined ? {} : { credential }));
      });
    }
    case 'kubernetes': {
      const config = spec.secret?.kubeconfig?.toString('utf8');
      if (spec.secret !== undefined && config === undefined) {
        throw new ConfigError('Kubernetes credentials: no key "kubeconfig"');
      }
      if (config !== undefined && runsCommands(config)) {
        throw new ConfigError(
          'Kubernetes credentials: a kubeconfig user with an exec or auth-provider plugin is ' +
            'refused: it would run a command in the function pod',
        );
      }
      return lazy(async () => {
        const { KubernetesAdapter, kubernetesClient } = await import('./kubernetes.js');
        const { KubeConfig } = await import('@kubernetes/client-node');
        try {
          let kc = kubernetesClient;
          if (config !== undefined) {
            kc = () => {
              const c = new KubeConfig();
              c.loadFromString(config);
              return c;
            };
          }
          return new KubernetesAdapter(kc());
        } catch {
          // The parser's message may quote the file, which holds credentials.
          throw new ConfigError(
            config === undefined
              ? 'Kubernetes: no kubeconfig found and not running in a cluster'
              : 'Kubernetes credentials: key "kubeconfig" is not a valid kubeconfig',
          );
        }
      });
    }
  }
}

export interface LiveTargetRef {
  name: string;
  platform: Platform;
  item: LiveItem;
}

export interface LivePlan {
  items: LiveTargetRef[];
  /** Targets that cannot be read, with why (a missing credential, a platform not set up). */
  problems: Map<string, string>;
  budgetMs: number;
}

function limitsOf(l: Partial<PlatformLimits> | undefined): PlatformLimits {
  return { ...DEFAULT_LIMITS, ...l };
}

/** The settings that shape an adapter; limits and the credentials' name do not. */
function stripLimits(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !SHAPELESS.has(k)));
}

const SHAPELESS = new Set(['rate', 'burst', 'concurrency', 'credentials']);

/**
 * The live reads for a composite's targets. A platform that the input does not name is not
 * read; one whose credentials are missing or malformed is reported per target, never fatal.
 */
function stepLacks(credentials: string, platform: Platform): string {
  return (
    `the pipeline step has no credentials named "${credentials}" ` +
    `(input.verification.${platform}.credentials)`
  );
}

export function planLive(
  targets: readonly PlannedTarget[],
  config: VerificationInput,
  namespace: string,
  credentials: StepCredentials,
  adapters: Adapters,
  opts: {
    budgetMs: number;
    ttlMs: number;
    /** The origin target, whose reading keeps the value for adoption. */
    origin?: string;
    /** Says how to supply a credentials entry the input names and the caller lacks. */
    missing?: (credentials: string, platform: Platform) => string;
  },
): LivePlan {
  const missing = opts.missing ?? stepLacks;
  const items: LiveTargetRef[] = [];
  const problems = new Map<string, string>();
  for (const t of targets) {
    const settings = config[t.platform] as
      (Record<string, unknown> & Partial<PlatformLimits> & { credentials?: string }) | undefined;
    if (settings === undefined) continue;
    let secret: Record<string, Buffer> | undefined;
    if (settings.credentials !== undefined) {
      secret = credentials[settings.credentials];
      if (secret === undefined) {
        problems.set(t.name, missing(settings.credentials, t.platform));
        continue;
      }
    }
    let adapter: AnyAdapter;
    try {
      adapter = adapters.get({ platform: t.platform, settings: stripLimits(settings), secret });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.set(t.name, err.message);
      continue;
    }
    const capture = opts.origin === t.name;
    let target;
    try {
      target = liveTarget(t, namespace, settings, capture);
    } catch (err) {
      problems.set(t.name, (err as Error).message);
      continue;
    }
    const key = [
      t.platform,
      settings.credentials ?? '',
      JSON.stringify(stripLimits(settings)),
      JSON.stringify(target),
    ].join('\n');
    items.push({
      name: t.name,
      platform: t.platform,
      item: {
        key,
        platform: t.platform,
        adapter,
        target,
        limits: limitsOf(settings),
        ttlMs: opts.ttlMs,
      },
    });
  }
  return { items, problems, budgetMs: opts.budgetMs };
}

function liveTarget(
  t: PlannedTarget,
  namespace: string,
  config: Record<string, unknown>,
  capture: boolean,
): { id: string } & Record<string, unknown> {
  const extra = capture ? { capture: true } : {};
  switch (t.platform) {
    case 'aws': {
      const s = t.settings as AwsSettings;
      return { id: t.name, region: s.region, name: s.name, ...extra };
    }
    case 'azure': {
      const s = t.settings as AzureSettings;
      const domain = typeof config.vaultDomain === 'string' ? config.vaultDomain : undefined;
      const url =
        typeof config.endpoint === 'string' ? config.endpoint : vaultUrlOf(s.vaultId, domain);
      return { id: t.name, vaultUrl: url, name: s.name, encoding: s.encoding, ...extra };
    }
    case 'vault': {
      const s = t.settings as VaultSettings;
      return {
        id: t.name,
        mount: s.mount,
        path: s.path,
        key: s.key,
        kvVersion: s.kvVersion,
        encoding: s.encoding,
        ...extra,
      };
    }
    case 'kubernetes': {
      const s = t.settings as KubernetesTarget;
      return {
        id: t.name,
        namespace: s.namespace ?? namespace,
        name: s.name,
        key: s.key,
        ...extra,
      };
    }
  }
}

/** The step's credentials as plain data; entries without data are left out. */
export function stepCredentials(
  creds: Record<string, { credentialData?: { data: Record<string, Buffer> } }> | undefined,
): StepCredentials {
  const out: StepCredentials = {};
  for (const [name, c] of Object.entries(creds ?? {})) {
    if (c.credentialData !== undefined) out[name] = c.credentialData.data;
  }
  return out;
}

/** A kubeconfig whose users run plugins; unparsable text is left to the client to refuse. */
function runsCommands(text: string): boolean {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return false;
  }
  const users = isObj(doc) && Array.isArray(doc.users) ? (doc.users as unknown[]) : [];
  return users.some((u) => {
    const user = isObj(u) ? u.user : undefined;
    return isObj(user) && (user.exec !== undefined || user['auth-provider'] !== undefined);
  });
}
