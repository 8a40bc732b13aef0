// A plugin's queue of deltas waiting for delivery: FIFO, bounded; when full the oldest entry makes
// room for the newest (the caller counts it). A head index instead of Array.shift keeps taking O(1).

export class Inbox<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends `item`; returns true when the oldest entry was dropped to make room. */
  push(item: T): boolean {
    const full = this.length >= this.limit;
    if (full) this.head++;
    this.items.push(item);
    this.compact();
    return full;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    this.compact();
    return item;
  }

  /** Empties the queue; returns how many entries were discarded. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    return n;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
