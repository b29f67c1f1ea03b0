/**
 * A value every replica reads from the database and each process keeps: dropped at once when a
 * change is announced on the bus (`invalidate`), and past `maxAgeMs` — which only matters when an
 * announcement was lost — refreshed by one read in the background while callers go on with what
 * they have. So no request waits on the database for it unless nothing is cached (start-up, or just
 * after a change), and concurrent callers share one read.
 */
export class AnnouncedCache<T> {
  private cached: { value: T; at: number } | undefined;
  private loading: Promise<T> | undefined;
  /** Bumped by every change: a read that started before one is not kept as current. */
  private generation = 0;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly maxAgeMs = 1000,
  ) {}

  get(): Promise<T> {
    const cached = this.cached;
    if (!cached) return this.load();
    if (Date.now() - cached.at >= this.maxAgeMs) this.load().catch(() => undefined);
    return Promise.resolve(cached.value);
  }

  invalidate(): void {
    this.generation++;
    this.cached = undefined;
    this.loading = undefined;
  }

  private load(): Promise<T> {
    if (this.loading) return this.loading;
    const generation = this.generation;
    const p = this.read()
      .then((value) => {
        if (generation === this.generation) this.cached = { value, at: Date.now() };
        return value;
      })
      .finally(() => {
        if (this.loading === p) this.loading = undefined;
      });
    this.loading = p;
    return p;
  }
}
