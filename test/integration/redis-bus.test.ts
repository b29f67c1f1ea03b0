import { expect } from 'chai';
import { RedisBus } from '../../core/events/redis-bus.js';
import { privateRedis, type PrivateService } from '../support/services.js';
import { waitFor } from '../support/wait.js';

describe('integration: Redis bus publishes', () => {
  let redis: PrivateService;
  let listener: RedisBus;
  let publisher: RedisBus;
  const heard: string[] = [];

  before(async () => {
    redis = await privateRedis();
    listener = await RedisBus.connect(redis.url);
    publisher = await RedisBus.connect(redis.url);
    await listener.subscribe('bus-test', (m) => heard.push(m));
  });
  after(async () => {
    await listener?.close();
    await publisher?.close();
    await redis?.destroy();
  });
  beforeEach(() => {
    heard.length = 0;
  });

  // Redis delivers one connection's publishes in order: once `marker` is heard, everything
  // published before it has been heard too.
  const drain = async (marker: string) => {
    await publisher.publish('bus-test', marker);
    await waitFor(marker, async () => heard.includes(marker), 10_000, 10);
    return heard.filter((m) => m !== marker);
  };

  it('a publish made while the same message is on the wire is still followed by a delivery sent after it', async () => {
    const first = publisher.publish('bus-test', 'wake');
    const second = publisher.publish('bus-test', 'wake');
    await Promise.all([first, second]);
    expect(await drain('end-1')).to.deep.equal(['wake', 'wake']);
  });

  it('a burst of identical wake-ups goes out as a couple of publishes, and every caller is answered', async () => {
    await Promise.all(Array.from({ length: 200 }, () => publisher.publish('bus-test', 'wake')));
    const got = await drain('end-2');
    expect(got.length).to.be.within(1, 2);
  });

  it('different messages are never folded together', async () => {
    await Promise.all(['a', 'b', 'a', 'c'].map((m) => publisher.publish('bus-test', m)));
    const got = await drain('end-3');
    expect([...new Set(got)].sort()).to.deep.equal(['a', 'b', 'c']);
  });
});
