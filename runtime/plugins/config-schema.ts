// Checks a plugin configuration against the plugin's JSON Schema with ajv and fills in defaults.
// Every error names the property: `configuration.speed: must be number, got string "fast"`.

import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { JsonValue } from '../../core/json.js';
import { lazyModule } from '../../hal/lazy-module.js';

export type SchemaResult = { ok: true; value: JsonValue } | { ok: false; errors: string[] };

// strict: false — plugin schemas written for signalk-server carry UI keys (title, ui:widget...)
// that strict mode would refuse. Formats are not checked (upstream does not either). Made at the
// first plugin with a schema: a runtime without one does not carry ajv (decision 0098).
const ajvModule = lazyModule<typeof import('ajv')>('ajv');
let ajvInstance: Ajv | undefined;
const ajv = (): Ajv =>
  (ajvInstance ??= new (ajvModule().Ajv)({
    allErrors: true,
    useDefaults: true,
    strict: false,
    validateFormats: false,
    verbose: true,
  }));
/** Compiled once per schema object (a plugin's schema is read once per start). */
const compiled = new WeakMap<object, ValidateFunction>();

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** `/targets/0/path` → `.targets[0].path`. */
function propertyPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`))
    .join('');
}

function describe(e: ErrorObject, at: string): string {
  const where = `${at}${propertyPath(e.instancePath)}`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${where}.${String(p.missingProperty)}: is required`;
    case 'type':
      return `${where}: must be ${Array.isArray(p.type) ? p.type.join(' or ') : String(p.type)}, got ${typeOf(e.data)} ${show(e.data)}`;
    case 'enum':
      return `${where}: must be one of ${(p.allowedValues as unknown[]).map(show).join(', ')}, got ${show(e.data)}`;
    default:
      return `${where}: ${e.message ?? e.keyword}${e.data !== undefined && typeof e.data !== 'object' ? `, got ${show(e.data)}` : ''}`;
  }
}

/** Validates `value` (named `at` in messages) and returns a copy with schema defaults filled in. */
export function validateConfig(schema: JsonValue | undefined, value: JsonValue, at = 'configuration'): SchemaResult {
  if (schema === undefined || typeof schema !== 'object' || schema === null || Array.isArray(schema))
    return { ok: true, value };
  let validate = compiled.get(schema);
  if (!validate) {
    try {
      // Without $id: two plugins may reuse one, and ajv keeps schemas by id.
      validate = ajv().compile(
        Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$id' && k !== '$async')),
      );
    } catch (err) {
      return {
        ok: false,
        errors: [`the plugin's configuration schema is not valid JSON Schema: ${(err as Error).message}`],
      };
    }
    compiled.set(schema, validate);
  }
  const copy = structuredClone(value);
  if (validate(copy)) return { ok: true, value: copy };
  const errors = (validate.errors ?? []).map((e) => describe(e, at));
  return { ok: false, errors: [...new Set(errors)] };
}
