import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../core/config.js';

describe('unit: config', () => {
  it('has the SPEC §2 defaults', () => {
    const c = loadConfig({});
    expect(c).to.include({ port: 8000, host: '127.0.0.1', dataDir: './.mockcloud', memory: false, timeScale: 1, failureRate: 0.1, auth: 'off' });
    expect(c.databaseUrl).to.equal(undefined);
    expect(Object.isFrozen(c)).to.equal(true);
  });

  it('reads environment variables and lets flags win', () => {
    const c = loadConfig({ MOCKCLOUD_PORT: '9000', MOCKCLOUD_TIME_SCALE: '0.05', MOCKCLOUD_SEED: '42' }, { port: '9100' });
    expect(c.port).to.equal(9100);
    expect(c.timeScale).to.equal(0.05);
    expect(c.seed).to.equal(42);
  });

  for (const [env, flags, mention] of [
    [{ MOCKCLOUD_PORT: 'eighty' }, {}, 'MOCKCLOUD_PORT'],
    [{}, { port: '70000' }, '--port'],
    [{ MOCKCLOUD_FAILURE_RATE: '1.5' }, {}, 'MOCKCLOUD_FAILURE_RATE'],
    [{}, { timeScale: '-1' }, '--time-scale'],
    [{ DATABASE_URL: 'mysql://x' }, {}, 'DATABASE_URL'],
    [{ AMQP_URL: 'not a url' }, {}, 'AMQP_URL'],
    [{ MOCKCLOUD_SEED: '1.5' }, {}, 'MOCKCLOUD_SEED'],
    [{ MOCKCLOUD_AUTH: 'maybe' }, {}, 'MOCKCLOUD_AUTH'],
  ] as const) {
    it(`refuses ${JSON.stringify({ ...env, ...flags })} with one line naming ${mention}`, () => {
      let err: unknown;
      try {
        loadConfig(env, flags);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.contain(mention).and.not.contain('\n');
    });
  }

  it('caps open event streams at 1000 by default, MOCKCLOUD_MAX_STREAMS otherwise, and refuses a cap below 1', () => {
    expect(loadConfig({}).maxStreams).to.equal(1000);
    expect(loadConfig({ MOCKCLOUD_MAX_STREAMS: '25' }).maxStreams).to.equal(25);
    expect(() => loadConfig({ MOCKCLOUD_MAX_STREAMS: '0' })).to.throw(ConfigError, /MOCKCLOUD_MAX_STREAMS/);
    expect(() => loadConfig({ MOCKCLOUD_MAX_STREAMS: 'lots' })).to.throw(ConfigError, /MOCKCLOUD_MAX_STREAMS/);
  });

  it('reads the auth mode, taking the old `on` as enforce', () => {
    expect(loadConfig({ MOCKCLOUD_AUTH: 'on' }).auth).to.equal('enforce');
    expect(loadConfig({ MOCKCLOUD_AUTH: 'SOFT' }).auth).to.equal('soft');
    expect(() => loadConfig({ MOCKCLOUD_AUTH: 'maybe' })).to.throw(ConfigError, /MOCKCLOUD_AUTH/);
  });

  it('rate limits 1200/min by default in enforce only, and parses MOCKCLOUD_RATE_LIMIT', () => {
    expect(loadConfig({}).rateLimit).to.equal(null);
    expect(loadConfig({ MOCKCLOUD_AUTH: 'soft' }).rateLimit).to.equal(null);
    expect(loadConfig({ MOCKCLOUD_AUTH: 'enforce' }).rateLimit).to.deep.equal({ points: 1200, durationS: 60 });
    expect(loadConfig({ MOCKCLOUD_RATE_LIMIT: '5/s' }).rateLimit).to.deep.equal({ points: 5, durationS: 1 });
    expect(loadConfig({ MOCKCLOUD_AUTH: 'enforce', MOCKCLOUD_RATE_LIMIT: 'off' }).rateLimit).to.equal(null);
    expect(() => loadConfig({ MOCKCLOUD_RATE_LIMIT: 'lots' })).to.throw(ConfigError, /MOCKCLOUD_RATE_LIMIT/);
  });
});
