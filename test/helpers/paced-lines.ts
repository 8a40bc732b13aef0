// NMEA lines at a serial line's byte rate (the soak's ports, the serial-read bench): each tick gives
// the lines due since the last one, cycling through the given lines, each ended with CR LF.

export class PacedLines {
  private budget = 0;
  private next = 0;

  constructor(
    private readonly lines: readonly string[],
    private readonly bytesPerSecond: number,
    private readonly offset = 0,
  ) {}

  /** The lines due after another `ms` milliseconds (a line started within the budget is due whole). */
  due(ms: number): string[] {
    this.budget += (this.bytesPerSecond * ms) / 1000;
    const out: string[] = [];
    while (this.budget > 0) {
      const line = `${this.lines[(this.offset + this.next++) % this.lines.length]}\r\n`;
      this.budget -= line.length;
      out.push(line);
    }
    return out;
  }
}
