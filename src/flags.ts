import { parseArgs } from 'node:util';

export interface Options {
  address: string;
  network: string;
  tlsServerCertsDir: string;
  insecure: boolean;
  debug: boolean;
  /** Largest request accepted, in bytes. */
  maxRecvMessageSize: number;
  /** host:port of the Prometheus endpoint; empty when metrics are not served. */
  metricsAddress: string;
  /** Responses kept for unchanged requests; 0 turns the cache off. */
  cacheSize: number;
}

export const USAGE = `Usage: function-cross-platform-secret [flags]

Flags:
  -h, --help                          Show this help.
  -d, --debug                         Emit debug logs as well as info logs.
      --network="tcp"                 Network on which to listen for gRPC connections.
      --address=":9443"               Address at which to listen for gRPC connections.
      --tls-server-certs-dir=STRING   Directory holding ca.crt, tls.crt and tls.key for mutual
                                      TLS ($TLS_SERVER_CERTS_DIR, default /tls/server).
      --insecure                      Serve without TLS (local development only).
      --max-recv-message-size=4       Largest gRPC message received, in MiB.
      --metrics-address=""            Serve Prometheus metrics at this address (for example
                                      ":8080"); off when empty.
      --cache-size=4096               Responses kept for requests that come again unchanged;
                                      0 turns the cache off.
`;

export class UsageError extends Error {}

function cacheSize(text: string): number {
  if (!/^(0|[1-9][0-9]{0,6})$/.test(text)) {
    throw new UsageError('--cache-size: must be a whole number from 0 to 9999999');
  }
  return Number(text);
}

function metricsAddress(text: string): string {
  if (text === '') return '';
  const a = normaliseAddress(text);
  if (!/^[^\s:]+:\d{1,5}$/.test(a) || Number(a.split(':')[1]) > 65535) {
    throw new UsageError(`--metrics-address: must be host:port or :port, not "${text}"`);
  }
  return a;
}

/** Go's ":9443" means every interface; gRPC for Node needs the host spelled out. */
function normaliseAddress(address: string): string {
  return address.startsWith(':') ? `0.0.0.0${address}` : address;
}

/**
 * Accepts the flags Crossplane's Go functions accept, so a DeploymentRuntimeConfig written for
 * them works here, and reads TLS_SERVER_CERTS_DIR as Crossplane sets it.
 */
export function parseFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { help: true } | { help: false; options: Options } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        debug: { type: 'boolean', short: 'd' },
        network: { type: 'string' },
        address: { type: 'string' },
        'tls-server-certs-dir': { type: 'string' },
        insecure: { type: 'boolean' },
        'max-recv-message-size': { type: 'string' },
        'metrics-address': { type: 'string' },
        'cache-size': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  const v = parsed.values;
  if (v.help === true) return { help: true };
  const network = v.network ?? 'tcp';
  if (network !== 'tcp')
    throw new UsageError(`--network: only "tcp" is supported, not "${network}"`);
  const size = v['max-recv-message-size'] ?? '4';
  if (!/^[1-9][0-9]{0,3}$/.test(size)) {
    throw new UsageError('--max-recv-message-size: must be a whole number of MiB from 1 to 9999');
  }
  return {
    help: false,
    options: {
      address: normaliseAddress(v.address ?? ':9443'),
      network,
      tlsServerCertsDir: v['tls-server-certs-dir'] ?? env.TLS_SERVER_CERTS_DIR ?? '/tls/server',
      insecure: v.insecure === true,
      debug: v.debug === true,
      maxRecvMessageSize: Number(size) * 1024 * 1024,
      metricsAddress: metricsAddress(v['metrics-address'] ?? ''),
      cacheSize: cacheSize(v['cache-size'] ?? '4096'),
    },
  };
}
