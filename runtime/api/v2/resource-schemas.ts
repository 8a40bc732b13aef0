// What the v2 resources API accepts for Signal K's own resource types (routes, waypoints, regions,
// notes, charts), checked before a provider sees it, as signalk-server 2.32 does: its resources API
// validates POST/PUT bodies against the OpenAPI schemas built from @signalk/server-api's
// typebox/resources-schemas.js and shared-schemas.js, and PUT ids against a v4 UUID (charts: 8 or
// more of [A-Za-z0-9_-]). The schemas below are written here from those documented shapes (field
// names, GeoJSON geometry per type, the note's href pattern, the chart source kinds); extra
// properties are allowed, as there. List queries of routes, waypoints, regions and notes are checked
// as its parameters declare them (limit, distance, bbox, position, zoom). Types of a plugin's own
// (buoys, tracks ...) are not checked. The validators are compiled at the first check: a runtime
// no client sends resources to does not carry them (decision 0098).

import type { ErrorObject, ValidateFunction } from 'ajv';
import { lazyModule } from '../../../hal/lazy-module.js';

const UUID = '[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}';
const UUID_ID = new RegExp(`^${UUID}$`);
const CHART_ID = /^[A-Za-z0-9_-]{8,}$/;

const lonLat = { type: 'array', items: [{ type: 'number' }, { type: 'number' }], minItems: 2, maxItems: 2 };
const ring = { type: 'array', items: lonLat, minItems: 4 };
const geometry = (type: string, coordinates: object) => ({
  type: 'object',
  required: ['type', 'coordinates'],
  properties: { type: { const: type }, coordinates },
});
const point = geometry('Point', lonLat);
const lineString = geometry('LineString', { type: 'array', items: lonLat, minItems: 2 });
const polygon = geometry('Polygon', { type: 'array', items: ring });
const multiPolygon = geometry('MultiPolygon', { type: 'array', items: { type: 'array', items: ring } });
const position = {
  type: 'object',
  required: ['latitude', 'longitude'],
  properties: {
    latitude: { type: 'number', minimum: -90, maximum: 90 },
    longitude: { type: 'number', minimum: -180, maximum: 180 },
  },
};
const text = { type: 'string' };
const properties = { type: 'object' };
/** A resource drawn as a GeoJSON feature of the given geometry. */
const feature = (geo: object, extra: Record<string, object> = {}) => ({
  type: 'object',
  required: ['feature'],
  properties: {
    name: text,
    description: text,
    ...extra,
    feature: { type: 'object', required: ['geometry'], properties: { geometry: geo, properties } },
  },
});

const SCHEMAS: Record<string, object> = {
  routes: feature(lineString, { distance: { type: 'number', minimum: 0 } }),
  waypoints: feature(point, { type: text }),
  regions: feature({ oneOf: [polygon, multiPolygon] }),
  notes: {
    type: 'object',
    properties: {
      name: text,
      description: text,
      mimeType: text,
      url: text,
      properties,
      position,
      href: { type: 'string', pattern: `^/resources/(\\w*)/${UUID}$` },
    },
  },
  charts: {
    type: 'object',
    required: ['type'],
    properties: {
      name: text,
      description: text,
      layers: { type: 'array', items: text },
      type: { enum: ['tilelayer', 'tileJSON', 'WMS', 'WMTS', 'mapstyleJSON', 'S-57'] },
      bounds: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4 },
      format: { enum: ['jpg', 'pbf', 'png', 'webp'] },
      minzoom: { type: 'number', minimum: 0, maximum: 30 },
      maxzoom: { type: 'number', minimum: 0, maximum: 30 },
      scale: { type: 'number', minimum: 1 },
    },
  },
};

/** Upstream's list parameters; an array also comes as `1,2,3,4` (its form style, explode false). */
const coordinates = (n: number) => ({
  type: 'array',
  items: { type: 'number', minimum: -180, maximum: 180 },
  minItems: n,
  maxItems: n,
});
const LIST_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1 },
    distance: { type: 'integer', minimum: 100 },
    bbox: coordinates(4),
    position: coordinates(2),
    zoom: { type: 'integer', minimum: 1 },
  },
};
const QUERIED = new Set(['routes', 'waypoints', 'regions', 'notes']);

const ajvModule = lazyModule<typeof import('ajv')>('ajv');
let compiled: { validators: Map<string, ValidateFunction>; validateQuery: ValidateFunction } | undefined;

function validatorsOnce(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const ajv = new (ajvModule().Ajv)({ allErrors: true, strict: false });
  return (compiled = {
    validators: new Map(Object.entries(SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)])),
    validateQuery: ajv.compile(LIST_QUERY),
  });
}

/** Upstream's id rule for its own types (a v4 UUID; charts their identifier); any id the route accepts otherwise. */
export function validResourceId(type: string, id: string): boolean {
  if (!Object.hasOwn(SCHEMAS, type)) return true;
  return type === 'charts' ? CHART_ID.test(id) : UUID_ID.test(id);
}

function describe(e: ErrorObject): string {
  const where = e.instancePath === '' ? 'the resource' : e.instancePath.slice(1).replace(/\//g, '.');
  if (e.keyword === 'required') return `${where} needs ${(e.params as { missingProperty: string }).missingProperty}`;
  if (e.keyword === 'const' || e.keyword === 'enum')
    return `${where} must be ${JSON.stringify((e.params as { allowedValue?: unknown; allowedValues?: unknown }).allowedValue ?? (e.params as { allowedValues?: unknown }).allowedValues)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Why a body is not a valid resource of `type` (the first few problems); undefined when it is, or when the type is not checked. */
export function resourceProblem(type: string, body: unknown): string | undefined {
  if (!Object.hasOwn(SCHEMAS, type)) return undefined;
  const validate = validatorsOnce().validators.get(type)!;
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'if');
  const lines = [...new Set(errors.map(describe))].slice(0, 4);
  return `invalid ${type.slice(0, -1)}: ${lines.join('; ') || 'does not match the schema'}`;
}

/** Why a list query of `type` is refused (parameters as the route parsed them: JSON where JSON); undefined when it is fine. */
export function queryProblem(type: string, query: Readonly<Record<string, unknown>>): string | undefined {
  if (!QUERIED.has(type)) return undefined;
  const checked: Record<string, unknown> = { ...query };
  for (const key of ['bbox', 'position']) {
    const v = checked[key];
    if (typeof v === 'string' && v.includes(','))
      checked[key] = v.split(',').map((n) => (n.trim() !== '' && Number.isFinite(Number(n)) ? Number(n) : n));
  }
  const { validateQuery } = validatorsOnce();
  if (validateQuery(checked)) return undefined;
  const lines = [...new Set((validateQuery.errors ?? []).map(describe))].slice(0, 4);
  return `invalid query: ${lines.join('; ').replace(/^the resource /, '')}`;
}
