import { expect } from 'chai';
import { InvalidArgumentError } from 'commander';
import { parseOpSetting } from '../../cli/commands/sim.js';
import { parseRule, parseTag, ruleText, tagsPatch } from '../../cli/commands/shared.js';
import { SseParser } from '../../cli/events.js';
import { plainOpLine, tableLines } from '../../cli/format.js';

describe('CLI flag parsing', () => {
  it('reads --rule as direction:protocol:ports:cidr, with ranges and port-less protocols', () => {
    const rules = ['ingress:tcp:22:0.0.0.0/0', 'egress:udp:1000-2000:10.0.0.0/8', 'ingress:icmp::10.0.0.0/8', 'egress:all::0.0.0.0/0'].reduce(
      (acc, r) => parseRule(r, acc),
      [] as ReturnType<typeof parseRule>,
    );
    expect(rules).to.deep.equal([
      { direction: 'ingress', protocol: 'tcp', port_from: 22, port_to: 22, cidr: '0.0.0.0/0' },
      { direction: 'egress', protocol: 'udp', port_from: 1000, port_to: 2000, cidr: '10.0.0.0/8' },
      { direction: 'ingress', protocol: 'icmp', cidr: '10.0.0.0/8' },
      { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
    ]);
    expect(rules.map(ruleText)).to.deep.equal(['ingress:tcp:22:0.0.0.0/0', 'egress:udp:1000-2000:10.0.0.0/8', 'ingress:icmp::10.0.0.0/8', 'egress:all::0.0.0.0/0']);
  });

  it('refuses malformed rules as usage errors before any request', () => {
    for (const bad of ['ingress:tcp:22', 'inbound:tcp:22:0.0.0.0/0', 'ingress:sctp:22:0.0.0.0/0', 'ingress:tcp:ssh:0.0.0.0/0', 'ingress:tcp:22:']) {
      expect(() => parseRule(bad), bad).to.throw(InvalidArgumentError);
    }
  });

  it('reads repeatable --tag k=v (values may contain = and :) and builds a merge patch with --untag', () => {
    const tags = parseTag('mockcloud:outcome=fail', parseTag('eq=a=b'));
    expect(tags).to.deep.equal({ eq: 'a=b', 'mockcloud:outcome': 'fail' });
    expect(() => parseTag('novalue')).to.throw(InvalidArgumentError);
    expect(tagsPatch({ a: '1' }, ['b'])).to.deep.equal({ b: null, a: '1' });
    expect(tagsPatch(undefined, undefined)).to.equal(undefined);
  });

  it('reads --op kind:key=value,… for the simulation', () => {
    const ops = parseOpSetting('volume.attach:failure_rate=0.5', parseOpSetting('vm.create:min_s=1,max_s=2,failure_rate=0'));
    expect(ops).to.deep.equal({ 'vm.create': { min_s: 1, max_s: 2, failure_rate: 0 }, 'volume.attach': { failure_rate: 0.5 } });
    expect(() => parseOpSetting('vm.create:speed=1')).to.throw(InvalidArgumentError, /unknown setting/);
    expect(() => parseOpSetting('vm.create:min_s=fast')).to.throw(InvalidArgumentError, /number/);
  });
});

describe('CLI event stream parser', () => {
  it('assembles events split across chunks and skips keepalive comments', () => {
    const p = new SseParser();
    const stream = 'retry: 2000\n\n: keepalive\n\nid: 12\nevent: operation.progress\ndata: {"seq":12,"type":"operation.progress"}\n\nid: 13\r\nevent: vm.status\r\ndata: {"seq":13,\r\ndata: "type":"vm.status"}\r\n\r\n';
    const out = [];
    for (let i = 0; i < stream.length; i += 7) out.push(...p.feed(stream.slice(i, i + 7)));
    expect(p.retryMs).to.equal(2000);
    expect(out).to.deep.equal([
      { id: '12', event: 'operation.progress', data: '{"seq":12,"type":"operation.progress"}' },
      { id: '13', event: 'vm.status', data: '{"seq":13,\n"type":"vm.status"}' },
    ]);
  });
});

describe('CLI plain output', () => {
  it('aligns table columns without escape codes', () => {
    const lines = tableLines([{ header: 'ID', value: (x: { id: string; s: string }) => x.id }, { header: 'STATUS', value: (x) => x.s }], [{ id: 'vm-1', s: 'running' }, { id: 'vm-12345', s: 'error' }]);
    expect(lines).to.deep.equal(['ID        STATUS', 'vm-1      running', 'vm-12345  error']);
    expect(lines.join('')).to.not.match(/\u001b/);
  });

  it('prints one line per operation step', () => {
    const v = { id: 'op-1', kind: 'vm.create', resourceId: 'vm-1', status: 'running' as const, progress: 5, message: 'allocating address', startedAt: 0 };
    expect(plainOpLine(v, 1200)).to.equal('op-1 vm.create vm-1    5%  allocating address  (1.2s)');
    expect(plainOpLine({ ...v, status: 'failed', error: { code: 'image_corrupt', message: 'bad image' }, finishedAt: 2000 }, 9000)).to.equal('op-1 vm.create vm-1  failed: bad image (image_corrupt)  (2.0s)');
  });
});
