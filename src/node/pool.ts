/** A bounded worker pool: at most `size` tasks run at once; a task key runs at most once at a time. */
export class WorkerPool {
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting: { key: string; task: () => Promise<void> }[] = [];

  constructor(private readonly size: number) {}

  /** Queues `task` unless a task with the same key is queued or running. */
  submit(key: string, task: () => Promise<void>): void {
    if (this.running.has(key) || this.waiting.some((w) => w.key === key)) return;
    this.waiting.push({ key, task });
    this.pump();
  }

  get busy(): number {
    return this.running.size + this.waiting.length;
  }

  /** Resolves when every running task has finished (queued ones are dropped). */
  async drain(): Promise<void> {
    this.waiting.length = 0;
    await Promise.allSettled([...this.running.values()]);
  }

  private pump(): void {
    while (this.running.size < this.size && this.waiting.length > 0) {
      const { key, task } = this.waiting.shift()!;
      const run = task()
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(key);
          this.pump();
        });
      this.running.set(key, run);
    }
  }
}
