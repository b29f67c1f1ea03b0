import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import amqp, { type AmqpConnectionManager, type ChannelWrapper } from 'amqp-connection-manager';
import type { QueueStatus, WorkHandler, WorkQueue } from './queue.js';

// RabbitMQ after the amqplib tutorials and Rascal: a durable queue with a dead-letter exchange,
// persistent messages published on a confirm channel, manual acks after the database commit,
// a deliberate prefetch, and every message validated before it is acted on.
//
// Connections come and go (broker restarts, `rabbitmqctl close_connection`, network blips), so the
// connection is owned by amqp-connection-manager rather than a hand-written loop: it reconnects
// every `reconnectSeconds`, replays each channel's setup (topology, prefetch, consume) on the new
// connection, and holds publishes in a buffer until they can be confirmed. What it does not do is
// replace a channel that the broker closed while the connection stayed up (a 404 on a deleted
// queue, a 406 on a stale delivery tag): such a channel would stay dead, so any channel error here
// forces a reconnect, which replays every setup and re-declares the topology.

export interface RabbitOptions {
  url: string;
  queue: string; // tests use a per-run name from randomUUID()
  prefetch?: number;
  maxRetries?: number;
  /** Shown by `rabbitmqctl list_connections name`; fault drills close their own connections by it. */
  connectionName?: string;
  /** How long a publish may wait in the buffer for the broker before it is given up (the reconciler then re-publishes). */
  publishTimeoutMs?: number;
  /** Wait between reconnect attempts. */
  reconnectSeconds?: number;
  /** How long start-up waits for the first connection. */
  connectTimeoutMs?: number;
  onError?: (err: unknown, context: string) => void;
  /** Connection life-cycle news (connected, lost, reconnecting) for the log. */
  onEvent?: (message: string, fields?: Record<string, unknown>) => void;
}

const MESSAGE = /^op-[0-9a-z]{16}$/;

interface Consuming {
  channel: Channel;
  tag: string;
}

export class RabbitQueue implements WorkQueue {
  private readonly manager: AmqpConnectionManager;
  private readonly pub: ChannelWrapper;
  private sub: ChannelWrapper | undefined;
  private consuming: Consuming | undefined;
  private connected = false;
  private closed = false;
  private forcing: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: RabbitOptions) {
    this.manager = amqp.connect([opts.url], {
      reconnectTimeInSeconds: opts.reconnectSeconds ?? 1,
      heartbeatIntervalInSeconds: 5,
      connectionOptions: { clientProperties: { connection_name: opts.connectionName ?? `mockcloud ${opts.queue}` } } as never,
    });
    this.manager.on('connect', () => {
      this.connected = true;
      this.opts.onEvent?.('connected to RabbitMQ', { queue: opts.queue });
    });
    this.manager.on('disconnect', ({ err }) => {
      this.connected = false;
      this.consuming = undefined;
      if (!this.closed) this.opts.onError?.(err, `RabbitMQ connection lost; reconnecting every ${opts.reconnectSeconds ?? 1} s, publishes are buffered`);
    });
    this.manager.on('connectFailed', ({ err }) => {
      if (!this.closed) this.opts.onError?.(err, 'RabbitMQ reconnect attempt failed; retrying');
    });
    this.pub = this.manager.createChannel({
      name: 'publish',
      confirm: true,
      publishTimeout: opts.publishTimeoutMs ?? 60_000,
      setup: (ch: ConfirmChannel) => this.prepare(ch),
    });
    this.pub.on('error', (err) => this.channelFailed(err, 'publish channel setup'));
  }

  static async connect(opts: RabbitOptions): Promise<RabbitQueue> {
    const q = new RabbitQueue(opts);
    try {
      await q.manager.connect({ timeout: opts.connectTimeoutMs ?? 10_000 });
      await q.pub.waitForConnect();
    } catch (err) {
      await q.close();
      throw err;
    }
    return q;
  }

  /** Channel setup, replayed on every (re)connect: declare the topology, and watch for channel errors. */
  private async prepare(ch: Channel): Promise<void> {
    ch.on('error', (err: unknown) => this.channelFailed(err, 'channel closed by the broker'));
    const dlx = `${this.opts.queue}.dlx`;
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.assertQueue(`${this.opts.queue}.dead`, { durable: true });
    await ch.bindQueue(`${this.opts.queue}.dead`, dlx, '');
    await ch.assertQueue(this.opts.queue, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
  }

  /** A channel died under a live connection: reconnect everything, once, shortly. */
  private channelFailed(err: unknown, context: string): void {
    if (this.closed) return;
    this.opts.onError?.(err, `${context}; reconnecting to RabbitMQ`);
    if (this.forcing) return;
    this.forcing = setTimeout(() => {
      this.forcing = undefined;
      if (!this.closed) this.manager.reconnect();
    }, 500);
    this.forcing.unref();
  }

  /** Resolves once the broker confirmed the message; while the broker is away the message waits in a buffer. */
  async dispatch(operationId: string): Promise<void> {
    await this.publish(operationId, 0);
  }

  private async publish(operationId: string, retries: number): Promise<void> {
    const body = Buffer.from(JSON.stringify({ operation_id: operationId }));
    await this.pub.sendToQueue(this.opts.queue, body, {
      persistent: true,
      contentType: 'application/json',
      messageId: operationId,
      headers: { 'x-retries': retries },
    });
  }

  async consume(handler: WorkHandler): Promise<void> {
    // Its own channel (acks and prefetch are per channel); the setup runs again on every reconnect,
    // so consuming resumes by itself.
    this.sub = this.manager.createChannel({
      name: 'consume',
      confirm: false,
      setup: async (ch: Channel) => {
        await this.prepare(ch);
        // Claims are quick (one UPDATE), and the database lease, not the unacked message, keeps an
        // operation safe afterwards; so a moderate prefetch keeps a worker busy without hoarding.
        await ch.prefetch(this.opts.prefetch ?? 200);
        const { consumerTag } = await ch.consume(this.opts.queue, (msg) => {
          if (msg) void this.onMessage(ch, msg, handler);
          // A null message is the broker cancelling us (the queue was deleted): start over.
          else this.channelFailed(new Error('the broker cancelled the consumer'), 'work queue consumer cancelled');
        });
        this.consuming = { channel: ch, tag: consumerTag };
        ch.on('close', () => {
          if (this.consuming?.channel === ch) this.consuming = undefined;
        });
      },
    });
    this.sub.on('error', (err) => this.channelFailed(err, 'consumer channel setup'));
    await this.sub.waitForConnect();
  }

  private async onMessage(ch: Channel, msg: ConsumeMessage, handler: WorkHandler): Promise<void> {
    try {
      await this.process(ch, msg, handler);
    } catch (err) {
      // The channel closed under us (shutdown, broker restart): the broker redelivers the message.
      this.opts.onError?.(err, 'acknowledging a message');
    }
  }

  // Acks go to the channel that delivered the message: its delivery tags mean nothing on a channel
  // opened after a reconnect, and the broker would close that one for an unknown tag.
  private async process(ch: Channel, msg: ConsumeMessage, handler: WorkHandler): Promise<void> {
    let id: string | undefined;
    try {
      const parsed = JSON.parse(msg.content.toString('utf8')) as { operation_id?: unknown };
      if (typeof parsed.operation_id === 'string' && MESSAGE.test(parsed.operation_id)) id = parsed.operation_id;
    } catch {
      // falls through: unparseable is poison
    }
    if (!id) {
      // Unrecoverable: no retry can fix a malformed message. Dead-letter it for inspection.
      ch.nack(msg, false, false);
      this.opts.onError?.(new Error('malformed message dead-lettered'), msg.content.toString('utf8').slice(0, 200));
      return;
    }
    try {
      await handler(id);
      ch.ack(msg);
    } catch (err) {
      // Recoverable (the database hiccuped): retry a few times, then dead-letter (the reconciler
      // still finds the operation in the database).
      const retries = Number(msg.properties.headers?.['x-retries'] ?? 0);
      this.opts.onError?.(err, `operation ${id}, attempt ${retries + 1}`);
      if (retries + 1 >= (this.opts.maxRetries ?? 5)) {
        ch.nack(msg, false, false);
        return;
      }
      try {
        await this.publish(id, retries + 1);
        ch.ack(msg);
      } catch {
        ch.nack(msg, false, true);
      }
    }
  }

  async stopConsuming(): Promise<void> {
    const sub = this.sub;
    this.sub = undefined;
    this.consuming = undefined;
    // Closing the channel returns unacked messages to the queue.
    await sub?.close().catch(() => undefined);
  }

  status(): QueueStatus {
    return { connected: this.connected && this.manager.isConnected(), consuming: this.consuming !== undefined };
  }

  /**
   * Asks the broker about the queue on a throwaway channel: a failed check (404 when the queue was
   * deleted) closes that channel only, never the publisher's. A missing queue is declared again.
   */
  private async inspect(): Promise<{ messageCount: number; consumerCount: number } | undefined> {
    const conn = this.manager.connection;
    if (!conn || !this.status().connected) return undefined;
    let ch: Channel | undefined;
    try {
      ch = await conn.createChannel();
      ch.on('error', () => undefined);
      return await ch.checkQueue(this.opts.queue);
    } catch (err) {
      if ((err as { code?: number }).code === 404) this.channelFailed(err, 'work queue missing; declaring it again');
      return undefined;
    } finally {
      await ch?.close().catch(() => undefined);
    }
  }

  async depth(): Promise<number> {
    return (await this.inspect())?.messageCount ?? 0;
  }

  async ping(): Promise<boolean> {
    return (await this.inspect()) !== undefined;
  }

  /** How many consumers the broker sees on the work queue (any process), or undefined when it cannot say. */
  async consumers(): Promise<number | undefined> {
    return (await this.inspect())?.consumerCount;
  }

  /** Test helper: removes this queue and its dead-letter twin. */
  async deleteTopology(): Promise<void> {
    const conn = this.manager.connection;
    if (!conn) return;
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.deleteQueue(this.opts.queue).catch(() => undefined);
    await ch.deleteQueue(`${this.opts.queue}.dead`).catch(() => undefined);
    await ch.deleteExchange(`${this.opts.queue}.dlx`).catch(() => undefined);
    await ch.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.stopConsuming();
    this.closed = true;
    if (this.forcing) clearTimeout(this.forcing);
    await this.pub.close().catch(() => undefined);
    await this.manager.close().catch(() => undefined);
  }
}
