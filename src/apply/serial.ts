/**
 * The target session, one piece of work at a time: applies, a streamed transaction, the probe's
 * read and the id check share it, and a write must never interleave with another.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `work` once everything queued before it has ended (whether it failed or not). */
  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(work, work);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once everything queued so far has ended. */
  async settled(): Promise<void> {
    await this.tail.catch(() => undefined);
  }
}
