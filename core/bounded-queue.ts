// A FIFO queue that keeps the newest `limit` items: when full, the oldest makes room for the newest
// and is counted as dropped. Used wherever something outside the runtime's control can outpace its
// reader (a plugin's deltas, a device handle's data, a raw socket's datagrams). A head index
// instead of Array.shift keeps taking O(1); the array is compacted once half of it is taken.

export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  /** Items pushed since the queue was made. */
  received = 0;
  /** Items dropped to make room (not those discarded by clear). */
  dropped = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends `item`; returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    this.received++;
    const full = this.length >= this.limit;
    if (full) {
      this.items[this.head++] = undefined as T; // let the dropped item be collected
      this.dropped++;
    }
    this.items.push(item);
    if (full) this.compact();
    return full;
  }

  /** The oldest item, left in the queue. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    this.compact();
    return item;
  }

  /** Empties the queue; returns how many items were discarded. */
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
