// The twin's virtual clock: a discrete-event scheduler.
//
// Wait states and Retry intervals call `sleep(ms)`, which registers a timer instead of waiting.
// Every call that leaves the executor (an SDK call to moto, a Lambda invocation, an SNS delivery)
// is wrapped in `track()`. When nothing is in flight, the earliest timer fires: the clock jumps
// to its due time (and tells moto, whose RDS phases follow the same clock), and the sleeper
// resumes. Parallel Map iterations therefore wait concurrently, as on AWS, and a 6-hour phase
// takes milliseconds.

interface Timer {
  due: number;
  seq: number;
  resolve: () => void;
}

export class VirtualClock {
  private nowMs: number;
  private timers: Timer[] = [];
  private seq = 0;
  private inFlight = 0;
  private pumping = false;
  /** Called (and awaited) before a timer fires, with the new time in ms. */
  onAdvance: ((nowMs: number) => Promise<void>) | undefined;

  constructor(startMs = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  iso(): string {
    return new Date(this.nowMs).toISOString();
  }

  /** Advance without any sleeper (test setup: "an hour passes"). */
  async advance(ms: number): Promise<void> {
    this.nowMs += ms;
    await this.onAdvance?.(this.nowMs);
  }

  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      this.timers.push({ due: this.nowMs + ms, seq: this.seq++, resolve });
      this.schedulePump();
    });
  }

  async track<T>(work: Promise<T> | (() => Promise<T>)): Promise<T> {
    this.inFlight++;
    try {
      return await (typeof work === 'function' ? work() : work);
    } finally {
      this.inFlight--;
      this.schedulePump();
    }
  }

  /** Number of sleepers and calls in flight (for tests of the scheduler itself). */
  pending(): { timers: number; inFlight: number } {
    return { timers: this.timers.length, inFlight: this.inFlight };
  }

  /** Resolves once nothing is in flight and no sleeper is left (everything has run to its end). */
  async idle(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(() => setImmediate(() => setImmediate(r))));
      if (this.inFlight === 0 && this.timers.length === 0 && !this.pumping) return;
    }
  }

  private schedulePump(): void {
    if (this.pumping) return;
    this.pumping = true;
    // Three macrotask turns: every promise chain started by the last completion has settled
    // and either registered a timer or a new call by then.
    setImmediate(() => setImmediate(() => setImmediate(() => void this.pump())));
  }

  private async pump(): Promise<void> {
    this.pumping = false;
    if (this.inFlight > 0 || this.timers.length === 0) return;
    this.timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
    const next = this.timers.shift()!;
    this.inFlight++;
    try {
      if (next.due > this.nowMs) {
        this.nowMs = next.due;
        await this.onAdvance?.(this.nowMs);
      }
    } finally {
      this.inFlight--;
    }
    next.resolve();
    this.schedulePump();
  }
}
