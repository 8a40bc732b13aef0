// fastify's schema compilers, loaded at the first route that has a schema. Without a
// `compilersFactory` fastify requires @fastify/ajv-compiler (ajv, ajv-formats, fast-uri) and
// @fastify/fast-json-stringify-compiler when the server is made; no route of ours has a schema, so
// that was ≈ 1.3 MB of heap and 2.5 MB of RSS held by every runtime for nothing (decision 0098).
// The factories are fastify's own, required from fastify's folder as fastify requires them, so a
// route with a schema is compiled exactly as before. (Passing factories marks them "custom" to
// fastify, which then leaves a `headers` schema's keys as written instead of lower-casing them.)

import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorFactory = NonNullable<Compilers['buildValidator']>;
type SerializerFactory = NonNullable<Compilers['buildSerializer']>;

const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));

let validator: ValidatorFactory | undefined;
let serializer: SerializerFactory | undefined;

export const lazySchemaCompilers: Compilers = {
  buildValidator: (externalSchemas, options) =>
    (validator ??= (fastifyRequire('@fastify/ajv-compiler') as () => ValidatorFactory)())(externalSchemas, options),
  buildSerializer: (externalSchemas, options) =>
    (serializer ??= (fastifyRequire('@fastify/fast-json-stringify-compiler') as () => SerializerFactory)())(
      externalSchemas,
      options,
    ),
};
