// Shared by the benchmarks: the middle value of repeated measurements (NaN for none).
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
