import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * JSON logs with a `severity` field, as the SDK and Crossplane's own tooling expect. Values never
 * reach the logger: callers pass counts, versions and names only.
 */
export function newLogger(debug: boolean, destination?: DestinationStream): Logger {
  const options = {
    level: debug ? 'debug' : 'info',
    base: undefined,
    formatters: { level: (label: string) => ({ severity: label.toUpperCase() }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
