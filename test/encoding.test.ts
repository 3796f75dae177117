/**
 * Round trips: for awkward values, what each target's managed resource makes its provider write
 * decodes to the same bytes. The decoding follows each platform's documented encoding: AWS
 * SecretString is the text and SecretBinary is read as base64; Key Vault stores the text; the
 * Vault provider writes the JSON object of dataJson; Kubernetes data is base64.
 */
import { describe, expect, it } from '@jest/globals';
import { Severity } from '@crossplane-org/function-sdk-typescript';

import { runFunction } from '../src/function.js';
import type { Obj } from '../src/observe.js';
import { SOURCE_REQUIREMENT } from '../src/resolve.js';
import { desiredObjects, fromSecretComposite, request, sourceSecret, testDeps } from './helpers.js';

const VAULT_ID = '/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-one';

function run(value: Buffer, targets: Obj[]) {
  return runFunction(
    request(fromSecretComposite('src', 'v', targets), {
      required: { [SOURCE_REQUIREMENT]: [sourceSecret('src', { v: value })] },
    }),
    testDeps(),
  );
}

type Ref = { name: string; key: string };

/** What the provider of each composed resource would write, decoded to bytes. */
function written(rsp: ReturnType<typeof run>): Record<string, Buffer> {
  const objs = desiredObjects(rsp);
  const store = (objs.store?.data ?? {}) as Record<string, string>;
  const read = (ref: Ref | undefined): Buffer => {
    const encoded = ref === undefined ? undefined : store[ref.key];
    if (encoded === undefined) throw new Error(`store has no key ${String(ref?.key)}`);
    return Buffer.from(encoded, 'base64');
  };
  const out: Record<string, Buffer> = {};
  for (const [key, o] of Object.entries(objs)) {
    const fp = ((o.spec as Obj | undefined)?.forProvider ?? {}) as Record<string, unknown>;
    if (o.kind === 'SecretVersion') {
      const text = fp.secretStringSecretRef as Ref | undefined;
      out[key] = text
        ? read(text)
        : Buffer.from(read(fp.secretBinarySecretRef as Ref).toString(), 'base64');
    } else if (String(o.apiVersion).startsWith('keyvault.')) {
      const raw = read(fp.valueSecretRef as Ref);
      const base64 = (fp.valueSecretRef as Ref).key.endsWith('.base64');
      out[key] = base64 ? Buffer.from(raw.toString(), 'base64') : raw;
    } else if (String(o.apiVersion).startsWith('kv.vault.')) {
      const doc = JSON.parse(read(fp.dataJsonSecretRef as Ref).toString('utf8')) as Record<
        string,
        string
      >;
      const text = doc.key ?? '';
      out[key] = key.includes('b64') ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    } else if (o.kind === 'Secret' && o.apiVersion === 'v1' && key !== 'store') {
      out[key] = Buffer.from((o.data as Record<string, string>).key ?? '', 'base64');
    }
  }
  return out;
}

const TEXT_TARGETS: Obj[] = [
  { name: 'aws', aws: { region: 'eu-west-1', name: 'app' } },
  { name: 'azure', azure: { vaultId: VAULT_ID, name: 'app' } },
  { name: 'vault', vault: { mount: 'secret', path: 'app', key: 'key' } },
  { name: 'pods', kubernetes: { name: 'app', key: 'key' } },
];

const BINARY_TARGETS: Obj[] = [
  { name: 'aws', aws: { region: 'eu-west-1', name: 'app' } },
  { name: 'azure', azure: { vaultId: VAULT_ID, name: 'app', encoding: 'Base64' } },
  { name: 'vault-b64', vault: { mount: 'secret', path: 'app', key: 'key', encoding: 'Base64' } },
  { name: 'pods', kubernetes: { name: 'app', key: 'key' } },
];

describe('every target receives the exact bytes', () => {
  it.each([
    ['quotes and backslashes', Buffer.from('pa"ss\\word\'s "quoted"')],
    ['newlines', Buffer.from('line one\nline two\r\nline three')],
    ['JSON text', Buffer.from('{"user":"app","password":"s3cr3t","nested":[1,2,{"a":null}]}')],
    ['a trailing newline', Buffer.from('-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n')],
    ['unicode', Buffer.from('pässwörd-密码-🔑-\u2028-end')],
  ])('%s', (_name, value) => {
    const rsp = run(value, TEXT_TARGETS);
    expect(rsp.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_NORMAL]);
    const out = written(rsp);
    expect(Object.keys(out).sort()).toEqual([
      'aws-aws-version',
      'azure-azure-secret',
      'pods-kubernetes-secret',
      'vault-vault-secret',
    ]);
    for (const [key, bytes] of Object.entries(out)) expect([key, bytes]).toEqual([key, value]);
  });

  it('non-UTF-8 bytes: AWS binary, Base64 elsewhere, Kubernetes as they are', () => {
    const value = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x41, 0xc3, 0x28, 0x0a]);
    const rsp = run(value, BINARY_TARGETS);
    expect(rsp.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_NORMAL]);
    const version = desiredObjects(rsp)['aws-aws-version'] as { spec: { forProvider: Obj } };
    expect(version.spec.forProvider).toHaveProperty('secretBinarySecretRef');
    expect(version.spec.forProvider).not.toHaveProperty('secretStringSecretRef');
    const out = written(rsp);
    expect(Object.keys(out)).toHaveLength(4);
    for (const [key, bytes] of Object.entries(out)) expect([key, bytes]).toEqual([key, value]);
  });

  it('non-UTF-8 bytes are refused for a Text target before anything is written', () => {
    const value = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8]);
    const rsp = run(value, [TEXT_TARGETS[2] as Obj]);
    expect(rsp.results.map((r) => r.message)).toEqual([
      'invalid value: spec.targets[0]: the value is not UTF-8 text; set vault.encoding: Base64 ' +
        'to store its base64 form',
    ]);
    expect(rsp.desired?.resources).toEqual({});
  });
});

describe('the largest value each platform takes, and one byte more', () => {
  it.each([
    ['aws', 65536, TEXT_TARGETS[0]],
    ['azure', 25600, TEXT_TARGETS[1]],
    // Vault alone: the store keeps the value and its JSON document {"key":"..."} (10 bytes more)
    // for two versions: 2 * (2v + 10) <= 1 MiB.
    ['vault', 262139, TEXT_TARGETS[2]],
    // Kubernetes alone: the store and the 1 MiB Secret limit, for two versions.
    ['kubernetes', 524288, TEXT_TARGETS[3]],
  ])('%s: %d bytes', (_name, max, target) => {
    const ok = run(Buffer.alloc(max, 'a'), [target as Obj]);
    expect(ok.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_NORMAL]);
    const out = written(ok);
    for (const bytes of Object.values(out)) expect(bytes.equals(Buffer.alloc(max, 'a'))).toBe(true);
    const over = run(Buffer.alloc(max + 1, 'a'), [target as Obj]);
    expect(over.results.map((r) => r.severity)).toEqual([Severity.SEVERITY_FATAL]);
    expect(over.desired?.resources).toEqual({});
  });
});
