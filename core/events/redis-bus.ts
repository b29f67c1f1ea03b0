import { Redis, type RedisOptions } from 'ioredis';
import type { Bus } from './bus.js';

export interface RedisBusOptions {
  onError?: (err: unknown, context: string) => void;
  onEvent?: (message: string, fields?: Record<string, unknown>) => void;
}

/**
 * Redis pub/sub: one connection publishes, one subscribes (a subscribed connection can do nothing
 * else). ioredis reconnects by itself (backoff up to 2 s) and re-subscribes what it had subscribed;
 * a channel whose first SUBSCRIBE failed (Redis was away) it does not know about, so every channel
 * with a listener is subscribed again whenever the subscriber becomes ready.
 */
export class RedisBus implements Bus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  private closed = false;

  private constructor(url: string, private readonly o: RedisBusOptions) {
    const opts: RedisOptions = {
      lazyConnect: true,
      maxRetriesPerRequest: 3,
      enableOfflineQueue: true,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    };
    this.pub = new Redis(url, { ...opts, connectionName: 'mockcloud-pub' });
    this.sub = new Redis(url, { ...opts, connectionName: 'mockcloud-sub' });
    this.sub.on('message', (channel: string, message: string) => {
      for (const h of this.handlers.get(channel) ?? []) h(message);
    });
    this.sub.on('ready', () => void this.resubscribe());
    for (const [role, conn] of [['publisher', this.pub], ['subscriber', this.sub]] as const) {
      // Without an `error` listener ioredis prints "Unhandled error event" over the JSON logs.
      let down = false;
      conn.on('error', (err) => {
        if (!down && !this.closed) this.o.onError?.(err, `Redis ${role} connection error; reconnecting`);
        down = true;
      });
      conn.on('reconnecting', (delay: number) => {
        if (!this.closed) this.o.onEvent?.(`Redis ${role} reconnecting`, { delay_ms: delay });
      });
      conn.on('ready', () => {
        if (down) this.o.onEvent?.(`Redis ${role} reconnected`);
        down = false;
      });
    }
  }

  static async connect(url: string, o: RedisBusOptions = {}): Promise<RedisBus> {
    const bus = new RedisBus(url, o);
    try {
      await Promise.all([bus.pub.connect(), bus.sub.connect()]);
    } catch (err) {
      await bus.close();
      throw err;
    }
    return bus;
  }

  private async resubscribe(): Promise<void> {
    const channels = [...this.handlers.keys()];
    if (!channels.length) return;
    await this.sub.subscribe(...channels).catch((err) => this.o.onError?.(err, 'Redis resubscribe failed; will retry on the next reconnect'));
  }

  /**
   * Every message on the bus is a wake-up ("look again"), so a message identical to one still on
   * the wire is folded into a single follow-up sent once that one is answered: whoever published
   * meanwhile still gets a copy sent after their call, and a server accepting hundreds of creates a
   * second sends a few publishes per round trip instead of one per create.
   */
  async publish(channel: string, message: string): Promise<void> {
    const key = `${channel}\0${message}`;
    const riders = this.onWire.get(key);
    if (riders) return new Promise<void>((resolve, reject) => riders.push({ resolve, reject }));
    this.onWire.set(key, []);
    try {
      await this.pub.publish(channel, message);
    } finally {
      void this.followUp(key, channel, message);
    }
  }

  private readonly onWire = new Map<string, { resolve: () => void; reject: (err: unknown) => void }[]>();

  private async followUp(key: string, channel: string, message: string): Promise<void> {
    for (;;) {
      const riders = this.onWire.get(key)!;
      if (!riders.length) {
        this.onWire.delete(key);
        return;
      }
      this.onWire.set(key, []);
      try {
        await this.pub.publish(channel, message);
        for (const r of riders) r.resolve();
      } catch (err) {
        for (const r of riders) r.reject(err);
      }
    }
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      // Kept even if this SUBSCRIBE fails: the next `ready` subscribes it. Until then readers
      // fall back to polling the event log.
      await this.sub.subscribe(channel).catch((err) => this.o.onError?.(err, `Redis subscribe to ${channel} failed; retried on reconnect`));
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
        await this.sub.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.pub.ping()) === 'PONG' && this.sub.status === 'ready';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
