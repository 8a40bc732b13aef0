// What a plugin may actually do. Today the manifest is the grant, as upstream; operator grants
// (effective = requested ∩ granted) are to be added here and nowhere else.

import type { Capabilities } from './discovery.js';

export function effectiveCapabilities(requested: Capabilities): Capabilities {
  return { ...requested };
}
