/**
 * A wait between polls that `notify()` cuts short: loops poll on a timer as a fallback and wake at once when
 * another part of the node has work for them (the follower stored new jobs, a reorganisation rewound some).
 * A notification that arrives while nobody waits is kept for the next wait.
 * @example const wake = new Wakeup(); follower.onApplied = () => wake.notify(); await wake.wait(1_000, signal);
 */
export class Wakeup {
  private pending = false;
  private resolve?: () => void;

  notify(): void {
    if (this.resolve === undefined) this.pending = true;
    else this.resolve();
  }

  /** Resolves after `ms`, on `notify()`, or when `signal` aborts; never rejects. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.resolve = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.resolve = done;
    });
  }
}
