import { expect } from 'chai';
import { intToIp, ipToInt, parseCidr } from '../../core/common/cidr.js';
import { PageTokens } from '../../core/common/pagination.js';
import { AppError } from '../../core/errors.js';

describe('unit: CIDR parsing', () => {
  it('parses a network and its size', () => {
    expect(parseCidr('10.0.0.0/16')).to.deep.equal({ network: ipToInt('10.0.0.0'), prefix: 16, size: 65536 });
    expect(parseCidr('0.0.0.0/0')).to.deep.include({ size: 2 ** 32 });
  });

  it('round-trips addresses', () => {
    for (const ip of ['0.0.0.0', '10.1.2.3', '255.255.255.255']) expect(intToIp(ipToInt(ip)!)).to.equal(ip);
  });

  it('refuses leading zeros, host bits and prefixes out of range', () => {
    expect(parseCidr('010.0.0.0/16')).to.be.a('string');
    expect(parseCidr('10.0.0.0/016')).to.be.a('string');
    expect(parseCidr('10.0.0.1/16')).to.contain('did you mean 10.0.0.0/16');
    expect(parseCidr('10.0.0.0/8', 16, 28)).to.contain('/16–/28');
  });
});

describe('unit: page tokens', () => {
  const tokens = new PageTokens(Buffer.alloc(32, 7));
  const scope = { collection: 'environments', projectId: 'default', filters: { name: 'a' } };
  const c = { c: '2026-11-26T10:00:00.000Z', i: 'env-abc' };

  it('round-trips a cursor', () => {
    expect(tokens.decode(tokens.encode(c, scope), scope)).to.deep.equal(c);
  });

  it('refuses a token whose payload was edited', () => {
    const [, sum] = tokens.encode(c, scope).split('.');
    const forged = Buffer.from(JSON.stringify({ c: '1970', i: 'x' })).toString('base64url') + '.' + sum;
    expect(() => tokens.decode(forged, scope)).to.throw(AppError).with.property('code', 'invalid_page_token');
  });

  it('refuses a token from another collection, other filters, another project or another key', () => {
    const token = tokens.encode(c, scope);
    for (const other of [
      { ...scope, collection: 'vms' },
      { ...scope, filters: { name: 'b' } },
      { ...scope, filters: {} },
      { ...scope, projectId: 'prj-other' },
    ]) {
      expect(() => tokens.decode(token, other), JSON.stringify(other)).to.throw(AppError).with.property('code', 'invalid_page_token');
    }
    expect(() => new PageTokens(Buffer.alloc(32, 8)).decode(token, scope)).to.throw(AppError).with.property('code', 'invalid_page_token');
  });

  it('does not depend on the order of the filters', () => {
    const a = tokens.encode(c, { ...scope, filters: { name: 'a', status: 'x' } });
    expect(tokens.decode(a, { ...scope, filters: { status: 'x', name: 'a' } })).to.deep.equal(c);
  });
});
