// First load step: is this file a WebAssembly core module at all, and is it whole? Each failure
// gets a cause an operator can act on (wrong file, interrupted copy, component instead of module).

import { PluginLoadError } from './errors.js';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const SECTION_NAMES = [
  'custom',
  'type',
  'import',
  'function',
  'table',
  'memory',
  'global',
  'export',
  'start',
  'element',
  'code',
  'data',
  'data count',
  'tag',
];

/** Reads an unsigned LEB128 (u32) at `at`; undefined when the bytes end inside it. */
function readU32(bytes: Uint8Array, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (at + i >= bytes.length) return undefined;
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
  }
  return undefined;
}

/** Walks the section headers: a section claiming more bytes than remain means a cut-off file. */
function findTruncation(bytes: Uint8Array): string | undefined {
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const name = SECTION_NAMES[id] ?? `#${id}`;
    const size = readU32(bytes, at + 1);
    if (!size)
      return `truncated module: the ${name} section header is cut off at byte ${at} (file is ${bytes.length} bytes)`;
    const remaining = bytes.length - size.next;
    if (size.value > remaining) {
      return `truncated module: the ${name} section needs ${size.value} bytes but only ${remaining} remain (file is ${bytes.length} bytes)`;
    }
    at = size.next + size.value;
  }
  return undefined;
}

/** Throws PluginLoadError unless `bytes` is a complete, valid WebAssembly core module. */
export function validateModule(pluginId: string, bytes: Uint8Array): void {
  if (bytes.length === 0) throw new PluginLoadError(pluginId, 'empty file (0 bytes), not a wasm module');
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Buffer.from(bytes.subarray(0, 4)).toString('hex');
    throw new PluginLoadError(pluginId, `not a wasm module (bad magic: expected 0061736d, got ${head || 'nothing'})`);
  }
  const version = bytes[4]! | (bytes[5]! << 8);
  const layer = bytes[6]! | (bytes[7]! << 8);
  if (layer === 1)
    throw new PluginLoadError(
      pluginId,
      'a WebAssembly component, not a core module (components are not supported yet)',
    );
  if (version !== 1 || layer !== 0) {
    throw new PluginLoadError(
      pluginId,
      `unsupported wasm binary version ${version} (layer ${layer}); expected version 1`,
    );
  }
  const truncated = findTruncation(bytes);
  if (truncated) throw new PluginLoadError(pluginId, truncated);
  if (!WebAssembly.validate(bytes)) {
    let detail = 'invalid module';
    try {
      new WebAssembly.Module(bytes);
    } catch (err) {
      detail = `invalid module: ${(err as Error).message.replace(/^WebAssembly\.Module\(\): /, '')}`;
    }
    throw new PluginLoadError(pluginId, detail);
  }
}

/**
 * Checks every import of the module against what the host provides, before instantiation, so a
 * plugin built for a newer host fails with the name of what is missing.
 */
export function checkImports(
  pluginId: string,
  module: WebAssembly.Module,
  provided: Record<string, Record<string, unknown>>,
): void {
  const missing: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    const fn = provided[imp.module]?.[imp.name];
    if (imp.kind !== 'function' || typeof fn !== 'function')
      missing.push(`${imp.module}.${imp.name}${imp.kind === 'function' ? '' : ` (${imp.kind})`}`);
  }
  if (missing.length === 1) throw new PluginLoadError(pluginId, `missing import ${missing[0]}`);
  if (missing.length > 1) throw new PluginLoadError(pluginId, `missing imports ${missing.join(', ')}`);
}
