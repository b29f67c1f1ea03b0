import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { WorkHandler, WorkQueue } from './queue.js';

// RabbitMQ after the amqplib tutorials and Rascal: a durable queue with a dead-letter exchange,
// persistent messages published on a confirm channel, manual acks after the database commit,
// a deliberate prefetch, and every message validated before it is acted on.

export interface RabbitOptions {
  url: string;
  queue: string; // tests use a per-run name from randomUUID()
  prefetch?: number;
  maxRetries?: number;
  onError?: (err: unknown, context: string) => void;
}

const MESSAGE = /^op-[0-9a-z]{16}$/;

export class RabbitQueue implements WorkQueue {
  private conn!: ChannelModel;
  private pub!: ConfirmChannel;
  private sub: Channel | undefined;
  private consumerTag: string | undefined;
  private closed = false;

  private constructor(private readonly opts: RabbitOptions) {}

  static async connect(opts: RabbitOptions): Promise<RabbitQueue> {
    const q = new RabbitQueue(opts);
    await q.open();
    return q;
  }

  private async open(): Promise<void> {
    this.conn = await amqp.connect(this.opts.url);
    this.conn.on('error', (err) => this.opts.onError?.(err, 'amqp connection'));
    this.pub = await this.conn.createConfirmChannel();
    await this.assertTopology(this.pub);
  }

  private async assertTopology(ch: Channel): Promise<void> {
    const dlx = `${this.opts.queue}.dlx`;
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.assertQueue(`${this.opts.queue}.dead`, { durable: true });
    await ch.bindQueue(`${this.opts.queue}.dead`, dlx, '');
    await ch.assertQueue(this.opts.queue, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
  }

  async dispatch(operationId: string): Promise<void> {
    await this.publish(operationId, 0);
  }

  private publish(operationId: string, retries: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const body = Buffer.from(JSON.stringify({ operation_id: operationId }));
      this.pub.sendToQueue(
        this.opts.queue,
        body,
        { persistent: true, contentType: 'application/json', messageId: operationId, headers: { 'x-retries': retries } },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  async consume(handler: WorkHandler): Promise<void> {
    const ch = await this.conn.createChannel();
    this.sub = ch;
    // Claims are quick (one UPDATE), and the database lease, not the unacked message, keeps an
    // operation safe afterwards; so a moderate prefetch keeps a worker busy without hoarding.
    await ch.prefetch(this.opts.prefetch ?? 200);
    const { consumerTag } = await ch.consume(this.opts.queue, (msg) => {
      if (msg) void this.onMessage(ch, msg, handler);
    });
    this.consumerTag = consumerTag;
  }

  private async onMessage(ch: Channel, msg: ConsumeMessage, handler: WorkHandler): Promise<void> {
    try {
      await this.process(ch, msg, handler);
    } catch (err) {
      // The channel closed under us (shutdown, broker restart): the broker redelivers the message.
      this.opts.onError?.(err, 'acknowledging a message');
    }
  }

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
      // Recoverable (the database hiccuped): retry a few times, then dead-letter.
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
    if (this.sub && this.consumerTag) {
      await this.sub.cancel(this.consumerTag).catch(() => undefined);
      await this.sub.close().catch(() => undefined); // unacked messages return to the queue
    }
    this.sub = undefined;
    this.consumerTag = undefined;
  }

  async depth(): Promise<number> {
    const q = await this.pub.checkQueue(this.opts.queue);
    return q.messageCount;
  }

  async ping(): Promise<boolean> {
    try {
      await this.pub.checkQueue(this.opts.queue);
      return true;
    } catch {
      return false;
    }
  }

  /** Test helper: removes this queue and its dead-letter twin. */
  async deleteTopology(): Promise<void> {
    await this.pub.deleteQueue(this.opts.queue).catch(() => undefined);
    await this.pub.deleteQueue(`${this.opts.queue}.dead`).catch(() => undefined);
    await this.pub.deleteExchange(`${this.opts.queue}.dlx`).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopConsuming();
    await this.pub.close().catch(() => undefined);
    await this.conn.close().catch(() => undefined);
  }
}
