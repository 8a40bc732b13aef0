// Second load step, between validation and compilation: where memory caps, CPU metering and the
// content-hash AOT cache slot in. For now the module passes through unchanged.

export interface PreparedModule {
  readonly bytes: Uint8Array;
}

export function prepareModule(bytes: Uint8Array): PreparedModule {
  return { bytes };
}
