// Listener bookkeeping for drivers and devices: copy-on-write lists, so a listener may remove itself
// (or another) while an event is being delivered.

export class Listeners<T> {
  private list: ((value: T) => void)[] = [];

  /** Adds a listener; returns its removal. */
  add(listener: (value: T) => void): () => void {
    this.list = [...this.list, listener];
    return () => {
      this.list = this.list.filter((l) => l !== listener);
    };
  }

  emit(value: T): void {
    const ls = this.list;
    for (let i = 0; i < ls.length; i++) ls[i](value);
  }
}
