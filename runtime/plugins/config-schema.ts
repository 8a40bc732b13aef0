// Checks a plugin configuration against the JSON Schema subset plugin schemas use
// (type, properties, required, enum, minimum/maximum, items, default) and fills in defaults.
// Every error names the property: `configuration.speed: must be a number, got "fast"`.

import type { JsonValue } from '../bus/delta.js';

type JsonObject = { [key: string]: JsonValue };

export type SchemaResult = { ok: true; value: JsonValue } | { ok: false; errors: string[] };

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeOf(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: JsonValue, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isObject(v);
    case 'null':
      return v === null;
    default:
      return typeof v === type;
  }
}

function show(v: JsonValue): string {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function check(schema: JsonValue, value: JsonValue, at: string, errors: string[]): JsonValue {
  if (!isObject(schema)) return value;
  const types = typeof schema.type === 'string' ? [schema.type] : Array.isArray(schema.type) ? schema.type.filter((t) => typeof t === 'string') : [];
  if (types.length > 0 && !types.some((t) => hasType(value, t as string))) {
    errors.push(`${at}: must be ${types.join(' or ')}, got ${typeOf(value)} ${show(value)}`);
    return value;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at}: must be one of ${schema.enum.map(show).join(', ')}, got ${show(value)}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: must be >= ${schema.minimum}, got ${value}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: must be <= ${schema.maximum}, got ${value}`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    return value.map((item, i) => check(schema.items as JsonValue, item, `${at}[${i}]`, errors));
  }
  if (isObject(value)) {
    const props = isObject(schema.properties) ? schema.properties : {};
    const out: JsonObject = { ...value };
    for (const [key, propSchema] of Object.entries(props)) {
      if (out[key] === undefined && isObject(propSchema) && propSchema.default !== undefined) out[key] = propSchema.default;
      if (out[key] !== undefined) out[key] = check(propSchema, out[key], `${at}.${key}`, errors);
    }
    if (Array.isArray(schema.required)) {
      for (const key of schema.required) {
        if (typeof key === 'string' && out[key] === undefined) errors.push(`${at}.${key}: is required`);
      }
    }
    return out;
  }
  return value;
}

/** Validates `value` (named `at` in messages) and returns it with schema defaults filled in. */
export function validateConfig(schema: JsonValue | undefined, value: JsonValue, at = 'configuration'): SchemaResult {
  if (schema === undefined) return { ok: true, value };
  const errors: string[] = [];
  const filled = check(schema, value, at, errors);
  return errors.length === 0 ? { ok: true, value: filled } : { ok: false, errors };
}
