/**
 * The AWS adapter against moto's Secrets Manager on loopback: in sync, changed out of band,
 * missing, scheduled for deletion, AWSCURRENT moved, throttling and a server that never answers.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';

import { AwsAdapter, awsClients } from '../src/verify/aws.js';
import { startMoto, type Moto } from './moto.js';

const SENTINEL = 'SENTINEL-aws-9c1e-"value"';
const KEYS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let moto: Moto;
let admin: SecretsManagerClient;
let adapter: AwsAdapter;

beforeAll(async () => {
  moto = await startMoto();
  admin = new SecretsManagerClient({
    region: 'eu-west-1',
    endpoint: moto.endpoint,
    credentials: KEYS,
  });
  adapter = new AwsAdapter(awsClients({ endpoint: moto.endpoint, credentials: KEYS }));
});

afterAll(() => {
  moto.stop();
});

const budget = () => AbortSignal.timeout(5000);

async function create(name: string, value: string): Promise<string> {
  const r = await admin.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  return r.VersionId ?? '';
}

describe('the AWS adapter against moto', () => {
  it('in sync: the hash of the current value and its version', async () => {
    const version = await create('team-a/in-sync', SENTINEL);
    const r = await adapter.observe(
      [{ id: 'a', region: 'eu-west-1', name: 'team-a/in-sync' }],
      budget(),
    );
    expect(r.get('a')).toMatchObject({ state: 'present', version, valueSha256: sha(SENTINEL) });
    expect(JSON.stringify([...r])).not.toContain('SENTINEL');
  });

  it('changed out of band: a new version and another hash', async () => {
    const first = await create('team-a/changed', SENTINEL);
    await admin.send(
      new PutSecretValueCommand({ SecretId: 'team-a/changed', SecretString: 'edited' }),
    );
    const r = await adapter.observe(
      [{ id: 'a', region: 'eu-west-1', name: 'team-a/changed' }],
      budget(),
    );
    expect(r.get('a')?.version).not.toBe(first);
    expect(r.get('a')?.valueSha256).toBe(sha('edited'));
  });

  it('AWSCURRENT moved back to the first version', async () => {
    const first = await create('team-a/moved', 'one-value');
    const put = await admin.send(
      new PutSecretValueCommand({ SecretId: 'team-a/moved', SecretString: 'two-value' }),
    );
    await admin.send(
      new UpdateSecretVersionStageCommand({
        SecretId: 'team-a/moved',
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: first,
        RemoveFromVersionId: put.VersionId,
      }),
    );
    const r = await adapter.observe(
      [{ id: 'a', region: 'eu-west-1', name: 'team-a/moved' }],
      budget(),
    );
    expect(r.get('a')).toMatchObject({ version: first, valueSha256: sha('one-value') });
  });

  it('missing and scheduled for deletion', async () => {
    await create('team-a/deleted', SENTINEL);
    await admin.send(
      new DeleteSecretCommand({ SecretId: 'team-a/deleted', RecoveryWindowInDays: 7 }),
    );
    const r = await adapter.observe(
      [
        { id: 'gone', region: 'eu-west-1', name: 'team-a/never-created' },
        { id: 'deleted', region: 'eu-west-1', name: 'team-a/deleted' },
      ],
      budget(),
    );
    expect(r.get('gone')).toEqual({ state: 'missing' });
    expect(r.get('deleted')?.state).toBe('deleted');
    expect(r.get('deleted')?.valueSha256).toBeUndefined();
  });

  it('several secrets of a region in one batch', async () => {
    await create('team-b/one', 'value-one');
    await create('team-b/two', 'value-two');
    const r = await adapter.observe(
      [
        { id: 'one', region: 'eu-west-1', name: 'team-b/one' },
        { id: 'two', region: 'eu-west-1', name: 'team-b/two' },
      ],
      budget(),
    );
    expect(r.get('one')?.valueSha256).toBe(sha('value-one'));
    expect(r.get('two')?.valueSha256).toBe(sha('value-two'));
  });
});

describe('the AWS adapter when AWS does not cooperate', () => {
  // Fault injection only: AWS's own error shape for throttling, and a server that never answers.
  const throttle = createServer((_req, res) => {
    res.writeHead(400, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-errortype': 'ThrottlingException',
      'x-amzn-requestid': '0f6b6a8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
    });
    res.end(JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }));
  });
  const hang = createServer(() => undefined);
  const endpoint = (s: Server) => {
    const a = s.address();
    return `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  };

  beforeAll(async () => {
    await new Promise<void>((r) => throttle.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  });

  afterAll(() => {
    throttle.close();
    hang.closeAllConnections();
    hang.close();
  });

  it('throttling is unknown, with no request id in the error', async () => {
    const a = new AwsAdapter(awsClients({ endpoint: endpoint(throttle), credentials: KEYS }));
    const r = await a.observe([{ id: 'a', region: 'eu-west-1', name: 'x' }], budget());
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'throttled by AWS' });
  });

  it('no answer within the budget is unknown, and the call returns in time', async () => {
    const a = new AwsAdapter(awsClients({ endpoint: endpoint(hang), credentials: KEYS }));
    const started = Date.now();
    const r = await a.observe(
      [{ id: 'a', region: 'eu-west-1', name: 'x' }],
      AbortSignal.timeout(300),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.get('a')).toEqual({ state: 'unknown', error: 'no answer within the time budget' });
  });
});
