// What `signalk-edge selftest` reports: one result per check, each with its figure, the devices it
// used and whether each is hardware or one of the project's twins (a pty pair, a candump replay),
// so a twin is never reported as hardware. The same results are printed and written as JSON.

export type Outcome = 'pass' | 'fail' | 'skip';

export interface DeviceUsed {
  /** Device path or interface name as given. */
  name: string;
  kind: 'hardware' | 'twin';
  /** For a twin: what stands in for the hardware. */
  twin?: string;
}

export interface CheckResult {
  /** `serial`, `can`, `plugin`. */
  check: string;
  outcome: Outcome;
  /** The headline figure or the reason, one line. */
  message: string;
  devices: DeviceUsed[];
  /** The counts behind the outcome (lines sent/received, errors, bytes/s, ...). */
  figures: Record<string, number | string | boolean>;
}

export interface SelftestReport {
  command: string;
  startedAt: string;
  finishedAt: string;
  node: string;
  board: string;
  checks: CheckResult[];
  summary: { passed: number; failed: number; skipped: number };
  /** 0 all run checks passed; 1 a check failed; 2 nothing could be tested (all skipped). */
  exitCode: number;
}

export function summarize(checks: readonly CheckResult[]): { summary: SelftestReport['summary']; exitCode: number } {
  const count = (o: Outcome) => checks.filter((c) => c.outcome === o).length;
  const summary = { passed: count('pass'), failed: count('fail'), skipped: count('skip') };
  const exitCode = summary.failed > 0 ? 1 : summary.passed === 0 ? 2 : 0;
  return { summary, exitCode };
}

function deviceText(d: DeviceUsed): string {
  return d.kind === 'twin' ? `${d.name} [TWIN: ${d.twin}]` : d.name;
}

export function formatCheck(c: CheckResult): string {
  const devices = c.devices.map(deviceText).join(', ');
  return `${c.outcome.toUpperCase().padEnd(4)}  ${c.check.padEnd(6)} ${devices ? `${devices}: ` : ''}${c.message}`;
}

export function formatSummary(report: SelftestReport): string {
  const { passed, failed, skipped } = report.summary;
  const twins = report.checks.some((c) => c.outcome !== 'skip' && c.devices.some((d) => d.kind === 'twin'));
  const verdict =
    report.exitCode === 0
      ? 'self-test passed'
      : report.exitCode === 1
        ? 'self-test FAILED'
        : 'self-test tested nothing: no check had its hardware';
  return `${verdict}: ${passed} passed, ${failed} failed, ${skipped} skipped${twins ? ' (twins stood in for hardware where marked TWIN)' : ''}`;
}
