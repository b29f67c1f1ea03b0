import { expect } from 'chai';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import type { OpView } from '../../cli/format.js';
import { OperationBar, OperationBoard } from '../../cli/ui/operation-progress.js';
import { Details, Table } from '../../cli/ui/table.js';

const T0 = 1_700_000_000_000;
const op = (over: Partial<OpView> = {}): OpView => ({
  id: 'op-1',
  kind: 'vm.create',
  resourceId: 'vm-abc',
  status: 'running',
  progress: 40,
  message: 'booting',
  error: null,
  startedAt: T0,
  ...over,
});

describe('CLI Ink components', () => {
  it('draws a progress bar with the phase, percentage and elapsed time', () => {
    const { lastFrame, rerender, frames } = render(createElement(OperationBar, { op: op(), now: T0 + 3_200, width: 10 }));
    expect(lastFrame()).to.include('vm.create').and.include('vm-abc').and.include('████░░░░░░').and.include(' 40%').and.include('booting').and.include('3.2s');
    rerender(createElement(OperationBar, { op: op({ progress: 80, message: 'running cloud-init' }), now: T0 + 5_000, width: 10 }));
    expect(lastFrame()).to.include('████████░░').and.include(' 80%').and.include('running cloud-init').and.include('5.0s');
    expect(frames.length).to.be.greaterThan(1);
  });

  it('shows a failed operation with its error code and message instead of a bar', () => {
    const failed = op({ status: 'failed', progress: 60, error: { code: 'provisioning_failed', message: 'the host ran out of capacity' }, finishedAt: T0 + 7_000 });
    const { lastFrame } = render(createElement(OperationBar, { op: failed, now: T0 + 60_000 }));
    const frame = lastFrame()!;
    expect(frame).to.include('✘').and.include('failed').and.include('at 60%');
    expect(frame).to.include('the host ran out of capacity (provisioning_failed)');
    expect(frame, 'elapsed stops when the operation ends').to.include('7.0s').and.not.include('60.0s');
    expect(frame).to.not.include('░');
  });

  it('shows a succeeded operation as one line with a tick', () => {
    const { lastFrame } = render(createElement(OperationBar, { op: op({ status: 'succeeded', progress: 100, finishedAt: T0 + 1_500 }), now: T0 + 9_000 }));
    expect(lastFrame()).to.match(/✔ vm\.create vm-abc succeeded \(op-1, 1\.5s\)/);
  });

  it('keeps finished operations above the bars of those in flight', () => {
    const finished = op({ id: 'op-0', resourceId: 'vm-old', status: 'succeeded', progress: 100, finishedAt: T0 + 1_000 });
    const live = op({ id: 'op-2', resourceId: 'vm-new', progress: 10, message: 'allocating address' });
    const { lastFrame } = render(createElement(OperationBoard, { done: [finished, { key: 'x', text: 'env-1 environment.created' }], active: [live], now: T0 + 2_000, status: 'reconnecting…' }));
    const frame = lastFrame()!;
    expect(frame.indexOf('vm-old')).to.be.greaterThan(-1);
    expect(frame.indexOf('vm-old')).to.be.lessThan(frame.indexOf('vm-new'));
    expect(frame).to.include('environment.created').and.include('allocating address').and.include('reconnecting…');
  });

  it('renders a table with aligned columns, and without its header for --no-header', () => {
    const { lastFrame } = render(createElement(Table, { headers: ['ID', 'NAME', 'STATUS'], rows: [['vm-1', 'web', 'running'], ['vm-22', 'database', 'error']], statusColumn: 2 }));
    const lines = lastFrame()!.split('\n');
    expect(lines[0]).to.match(/^ID\s+NAME\s+STATUS$/);
    expect(lines[1]).to.match(/^vm-1\s+web\s+running$/);
    expect(lines[2]).to.match(/^vm-22\s+database\s+error$/);
    expect(lines[1]!.indexOf('running')).to.equal(lines[0]!.indexOf('STATUS'));
    expect(render(createElement(Table, { headers: ['ID', 'NAME'], rows: [['vm-1', 'web']], header: false })).lastFrame()).to.equal('vm-1  web');
  });

  it('renders one resource as aligned key/value lines', () => {
    const { lastFrame } = render(createElement(Details, { fields: [['id', 'env-1'], ['status', 'available']] }));
    expect(lastFrame()!.split('\n')).to.deep.equal(['id:     env-1', 'status: available']);
  });
});
