import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { parse } from 'yaml';

type JsonObject = Record<string, unknown>;

/** Where the packaged schema files live, relative to the compiled module. */
const root = fileURLToPath(new URL('../', import.meta.url));

export const XRD_PATH = `${root}apis/definition.yaml`;
export const INPUT_CRD_PATH = `${root}package/input/secrets.fn.crossplatform.io_inputs.yaml`;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function child(o: unknown, ...path: (string | number)[]): unknown {
  let cur = o;
  for (const p of path) {
    if (typeof p === 'number') {
      cur = Array.isArray(cur) ? (cur[p] as unknown) : undefined;
    } else {
      cur = isObject(cur) ? cur[p] : undefined;
    }
  }
  return cur;
}

/**
 * The API server prunes fields a structural schema does not declare; at render time nothing
 * does, so a typo would pass silently. Rejecting undeclared fields instead gives the user the
 * same contract with a message that names the field.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(schema)) out[k] = closeObjects(v);
  const open = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (isObject(schema.properties) && !open && schema.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

function newAjv(source = false): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    strict: false,
    ...(source ? { code: { source: true } } : {}),
  });
  for (const k of [
    'x-kubernetes-list-type',
    'x-kubernetes-list-map-keys',
    'x-kubernetes-map-type',
    'x-kubernetes-preserve-unknown-fields',
    'x-kubernetes-validations',
  ]) {
    ajv.addKeyword(k);
  }
  // The formats Kubernetes defines for CRD schemas, checked as the API server checks them.
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat(
    'date-time',
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i,
  );
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  return ajv;
}

function loadYaml(path: string): unknown {
  return parse(readFileSync(path, 'utf8')) as unknown;
}

/** Compiles any OpenAPI v3 schema of a CRD with undeclared fields refused. */
export function compileSchema(schema: unknown): ValidateFunction {
  if (!isObject(schema)) throw new Error('cannot compile a schema that is not an object');
  return newAjv().compile(closeObjects(schema) as JsonObject);
}

function xrdSpecSchema(path: string): JsonObject {
  const xrd = loadYaml(path);
  const spec = child(xrd, 'spec', 'versions', 0, 'schema', 'openAPIV3Schema', 'properties', 'spec');
  if (!isObject(spec)) throw new Error(`cannot find spec schema in XRD "${path}"`);
  return closeObjects(spec) as JsonObject;
}

function inputSchema(path: string): JsonObject {
  const crd = loadYaml(path);
  const schema = child(crd, 'spec', 'versions', 0, 'schema', 'openAPIV3Schema');
  if (!isObject(schema)) throw new Error(`cannot find schema in input CRD "${path}"`);
  return closeObjects(schema) as JsonObject;
}

/** Compiles the spec schema of the composite from the XRD, the single source of truth. */
export function compileXrdSpec<T>(path = XRD_PATH): ValidateFunction<T> {
  return newAjv().compile<T>(xrdSpecSchema(path));
}

/** Compiles the schema of the function's input from its CRD. */
export function compileInputCrd<T>(path = INPUT_CRD_PATH): ValidateFunction<T> {
  return newAjv().compile<T>(inputSchema(path));
}

/**
 * Both validators as CommonJS source, for the build to write next to the compiled code: the
 * first call then skips reading the YAML and compiling (about 150 ms of start-up).
 */
export function validatorsSource(): string {
  const ajv = newAjv(true);
  ajv.addSchema(xrdSpecSchema(XRD_PATH), 'spec');
  ajv.addSchema(inputSchema(INPUT_CRD_PATH), 'input');
  return standalone.default(ajv, { spec: 'spec', input: 'input' });
}

/** Turns a JSON pointer from ajv into the field path a Kubernetes user reads. */
export function fieldPath(prefix: string, pointer: string): string {
  let out = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return out;
}

/** Field names come from the user; keep a hostile one from filling the event. */
function clip(name: string): string {
  return name.length <= 64 ? name : `${name.slice(0, 61)}...`;
}

function describeRule(e: ErrorObject): string {
  const p = e.params as JsonObject;
  const bound = e.keyword.startsWith('min') ? 'at least' : 'at most';
  switch (e.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return `unknown field "${clip(String(p.additionalProperty))}"`;
    case 'type':
      return `must be of type ${String(p.type)}`;
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern':
      return `must match the pattern ${String(p.pattern)}`;
    case 'minimum':
    case 'maximum':
      return `must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(p.limit)}`;
    case 'minLength':
    case 'maxLength':
      return `must be ${bound} ${String(p.limit)} characters`;
    case 'minItems':
    case 'maxItems':
      return `must have ${bound} ${String(p.limit)} items`;
    case 'oneOf': {
      const branches = Array.isArray(e.schema) ? (e.schema as unknown[]) : [];
      const names = branches.flatMap((b) => (child(b, 'required') as string[] | undefined) ?? []);
      return `must set exactly one of: ${names.join(', ')}`;
    }
    case 'not': {
      const lo = child(e.schema, 'minimum');
      const hi = child(e.schema, 'maximum');
      return `must not be between ${String(lo)} and ${String(hi)}`;
    }
    default:
      return e.message ?? `must satisfy ${e.keyword}`;
  }
}

/**
 * Formats ajv errors as "<field path>: <rule>", sorted and without duplicates. Values are never
 * echoed: a field may hold something the user would not want in an event.
 */
export function formatErrors(prefix: string, errors: ErrorObject[] | null | undefined): string[] {
  const list = errors ?? [];
  const oneOfPaths = new Set(list.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const out = new Set<string>();
  for (const e of list) {
    // A failed oneOf also reports each branch's missing field; the oneOf message says it all.
    if (e.schemaPath.includes('/oneOf/') && oneOfPaths.has(e.instancePath)) continue;
    let path = fieldPath(prefix, e.instancePath);
    if (e.keyword === 'required') {
      path += `.${clip(String((e.params as JsonObject).missingProperty))}`;
    }
    out.add(`${path}: ${describeRule(e)}`);
  }
  return [...out].sort();
}
