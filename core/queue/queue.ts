import type { Dispatcher } from '../operations/submit.js';

/**
 * The work queue carries only operation ids; the database holds everything else. A handler
 * resolves once the operation is safely claimed in the database (the message can then be acked),
 * and throws when it could not be (the message is retried, then dead-lettered).
 */
export type WorkHandler = (operationId: string) => Promise<void>;

/** What is true right now (for /health): reachable, and taking messages. */
export interface QueueStatus {
  connected: boolean;
  consuming: boolean;
}

export interface WorkQueue extends Dispatcher {
  consume(handler: WorkHandler): Promise<void>;
  /** Stops taking new messages (graceful shutdown); unacked ones go back to the broker. */
  stopConsuming(): Promise<void>;
  depth(): Promise<number>;
  status(): QueueStatus;
  close(): Promise<void>;
}

/** The embedded twin: same contract, one process, nothing survives a restart (the reconciler re-dispatches). */
export class InProcessQueue implements WorkQueue {
  private handler: WorkHandler | undefined;
  private readonly backlog: string[] = [];
  private draining = false;

  async dispatch(operationId: string): Promise<void> {
    this.backlog.push(operationId);
    this.drain();
  }

  async consume(handler: WorkHandler): Promise<void> {
    this.handler = handler;
    this.drain();
  }

  private drain(): void {
    if (this.draining || !this.handler) return;
    this.draining = true;
    setImmediate(async () => {
      while (this.handler && this.backlog.length) {
        const batch = this.backlog.splice(0, 500);
        await Promise.all(batch.map((id) => this.handler!(id).catch(() => undefined)));
      }
      this.draining = false;
      if (this.handler && this.backlog.length) this.drain();
    });
  }

  async stopConsuming(): Promise<void> {
    this.handler = undefined;
  }

  async depth(): Promise<number> {
    return this.backlog.length;
  }

  status(): QueueStatus {
    return { connected: true, consuming: this.handler !== undefined };
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.backlog.length = 0;
  }
}
