// Per-path ACLs in signalk-server's settings format (so an operator's existing list carries over):
//   [{ "context": "vessels.self", "resources": [{ "paths": ["navigation.*"],
//      "permissions": [{ "subject": "any" | "<user or device id>", "permission": "read" | "write" | "put" }] }] }]
// The first ACL whose context matches and, in it, the first resource with a matching path decide.
// `read` is granted by read or write; a PUT needs `put`. No ACLs configured = no path restriction;
// ACLs configured but none matching = denied. `*` in a context or path matches any characters.

import type { Reader } from '../../core/settings-reader.js';

export type AclPermission = 'read' | 'write' | 'put';
export type AclOperation = 'read' | 'put';

export interface Acl {
  context: string;
  resources: { paths: string[]; permissions: { subject: string; permission: AclPermission }[] }[];
}

export function parseAcls(r: Reader, raw: unknown): Acl[] {
  if (!Array.isArray(raw)) r.fail('security.acls', 'must be an array of {context, resources}');
  return raw.map((a: unknown, i: number) => {
    const key = `security.acls[${i}]`;
    const o = r.obj(a, key);
    r.known(o, key, ['context', 'resources']);
    if (!Array.isArray(o.resources)) r.fail(`${key}.resources`, 'must be an array of {paths, permissions}');
    return {
      context: r.str(o.context, `${key}.context`),
      resources: o.resources.map((res: unknown, j: number) => {
        const rk = `${key}.resources[${j}]`;
        const ro = r.obj(res, rk);
        r.known(ro, rk, ['paths', 'permissions']);
        if (!Array.isArray(ro.paths)) r.fail(`${rk}.paths`, 'must be an array of path patterns');
        if (!Array.isArray(ro.permissions)) r.fail(`${rk}.permissions`, 'must be an array of {subject, permission}');
        return {
          paths: ro.paths.map((p: unknown, k: number) => r.str(p, `${rk}.paths[${k}]`)),
          permissions: ro.permissions.map((p: unknown, k: number) => {
            const pk = `${rk}.permissions[${k}]`;
            const po = r.obj(p, pk);
            r.known(po, pk, ['subject', 'permission']);
            return {
              subject: r.str(po.subject, `${pk}.subject`),
              permission: r.oneOf(po.permission, `${pk}.permission`, ['read', 'write', 'put'] as const),
            };
          }),
        };
      }),
    };
  });
}

function pattern(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[\\^$+?.()[\]{}|]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

interface CompiledAcl {
  context: RegExp;
  resources: { paths: RegExp[]; permissions: Acl['resources'][number]['permissions'] }[];
}

export class AclCheck {
  private readonly acls: CompiledAcl[];

  /** `vessels.self` in an ACL's context stands for the self vessel's full context. */
  constructor(acls: Acl[], selfContext: string) {
    this.acls = acls.map((a) => ({
      context: pattern(a.context === 'vessels.self' ? selfContext : a.context),
      resources: a.resources.map((res) => ({ paths: res.paths.map(pattern), permissions: res.permissions })),
    }));
  }

  get active(): boolean {
    return this.acls.length > 0;
  }

  allows(subject: string, context: string, path: string, op: AclOperation): boolean {
    if (this.acls.length === 0) return true;
    const acl = this.acls.find((a) => a.context.test(context));
    const resource = acl?.resources.find((res) => res.paths.some((p) => p.test(path)));
    if (!resource) return false;
    return resource.permissions.some(
      (p) =>
        (p.subject === subject || p.subject === 'any') &&
        (op === 'read' ? p.permission === 'read' || p.permission === 'write' : p.permission === 'put'),
    );
  }
}

export type CanRead = (context: string, path: string) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A model branch of one context with only the values `canRead` allows; undefined when none is left. */
function pruneBranch(node: unknown, context: string, path: string[], canRead: CanRead): unknown {
  if (!isObject(node) || 'value' in node || 'values' in node)
    return canRead(context, path.join('.')) ? node : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    const kept = pruneBranch(v, context, [...path, k], canRead);
    if (kept !== undefined) out[k] = kept;
  }
  return Object.keys(out).length > 0 || Object.keys(node).length === 0 ? out : undefined;
}

/**
 * What a REST GET of `segments` (context type, id, path...) may show: the whole tree and context
 * collections are pruned value by value. `resolve` turns `vessels.self` into the full context.
 */
export function pruneTree(
  node: unknown,
  segments: string[],
  canRead: CanRead,
  resolve: (context: string) => string,
): unknown {
  if (segments.length >= 2)
    return pruneBranch(node, resolve(`${segments[0]}.${segments[1]}`), segments.slice(2), canRead);
  if (!isObject(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (segments.length === 1) {
      const kept = pruneBranch(v, `${segments[0]}.${k}`, [], canRead);
      if (kept !== undefined) out[k] = kept;
    } else if (isObject(v) && !['sources', 'self', 'version'].includes(k)) {
      const kept = pruneTree(v, [k], canRead, resolve);
      if (isObject(kept) && Object.keys(kept).length > 0) out[k] = kept;
    } else {
      out[k] = v;
    }
  }
  return out;
}
