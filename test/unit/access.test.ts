import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { decide, exceedingScopes, roleAllows, scopesGrant, type Principal } from '../../core/identity/access.js';
import { hashSecret, newSecret, sameSecret } from '../../core/identity/secrets.js';
import { openapiPath } from '../../core/paths.js';
import { specOperations } from '../../server/access.js';

const token = (role: Principal['role'], scopes: string[]): Principal => ({ kind: 'token', projectId: 'p', tokenId: 't', userId: 'u', role, scopes });

describe('unit: access rules (SPEC §10)', () => {
  it('roles: viewer reads, editor reads and writes, only the owner manages members and reads the audit log', () => {
    expect(roleAllows('viewer', 'vms:read')).to.equal(true);
    expect(roleAllows('viewer', 'vms:write')).to.equal(false);
    expect(roleAllows('editor', 'vms:write')).to.equal(true);
    expect(roleAllows('editor', 'members:write')).to.equal(false);
    expect(roleAllows('editor', 'audit:read')).to.equal(false);
    expect(roleAllows('owner', 'members:write')).to.equal(true);
    expect(roleAllows(undefined, 'vms:read')).to.equal(false);
  });

  it('scopes: write includes read, * covers every collection, nothing else leaks', () => {
    expect(scopesGrant(['vms:write'], 'vms:read')).to.equal(true);
    expect(scopesGrant(['vms:read'], 'vms:write')).to.equal(false);
    expect(scopesGrant(['*:read'], 'volumes:read')).to.equal(true);
    expect(scopesGrant(['*:read'], 'volumes:write')).to.equal(false);
    expect(scopesGrant(['vms:write'], 'volumes:read')).to.equal(false);
  });

  it('decides 401 without a principal, 403 with the missing scope, admin-only for the admin', () => {
    expect(decide('vms:read', undefined)).to.include({ ok: false, code: 'unauthorized' });
    expect(decide('none', token('viewer', []))).to.deep.equal({ ok: true });
    expect(decide('vms:write', token('viewer', ['*:write']))).to.deep.include({ ok: false, code: 'forbidden', missing: ['vms:write'] });
    expect(decide('admin', token('owner', ['*:write']))).to.deep.include({ ok: false, missing: ['admin'] });
    expect(decide('admin', { kind: 'admin', projectId: 'default', scopes: [] })).to.deep.equal({ ok: true });
  });

  it('a token never exceeds its creator', () => {
    expect(exceedingScopes(['vms:read'], token('editor', ['vms:write']), 'editor')).to.deep.equal([]);
    expect(exceedingScopes(['vms:write', 'volumes:read'], token('editor', ['vms:read']), 'editor')).to.deep.equal(['vms:write', 'volumes:read']);
    expect(exceedingScopes(['*:write'], token('viewer', ['*:write']), 'viewer')).to.deep.equal(['*:write']);
    expect(exceedingScopes(['members:write'], { kind: 'admin', projectId: 'p', scopes: [] }, 'editor')).to.deep.equal(['members:write']);
  });

  it('token secrets are mc_ + 32 bytes base62, hashed, compared in constant time', () => {
    const s = newSecret();
    expect(s).to.match(/^mc_[0-9A-Za-z]{42,44}$/);
    expect(newSecret()).to.not.equal(s);
    expect(hashSecret(s)).to.match(/^[0-9a-f]{64}$/);
    expect(sameSecret('a', 'a')).to.equal(true);
    expect(sameSecret('a', 'ab')).to.equal(false);
    // The expected secret's digest is kept between calls: a different expected secret replaces it.
    expect(sameSecret('ab', 'ab')).to.equal(true);
    expect(sameSecret('ab', 'a')).to.equal(false);
    expect(sameSecret('a', 'a')).to.equal(true);
  });
});

describe('unit: x-required-scope on every operation', () => {
  const spec = () => YAML.parse(fs.readFileSync(openapiPath(), 'utf8'));

  it('every operation of openapi.yaml declares a valid scope', () => {
    const ops = specOperations(spec());
    expect(ops.length).to.be.greaterThan(40);
    expect(ops.filter((o) => o.public).map((o) => o.operationId).sort()).to.deep.equal(['getHealth', 'getReady']);
  });

  it('refuses to start with an operation that does not declare one, or declares a bad one', () => {
    const s = spec();
    delete s.paths['/api/v1/vms'].get['x-required-scope'];
    s.paths['/api/v1/vms'].post['x-required-scope'] = 'vms:delete';
    expect(() => specOperations(s)).to.throw(/x-required-scope.*listVms, createVm/);
  });

  it('documents bearer auth, and 401/403/429 on every operation that needs a token', () => {
    const s = spec();
    expect(s.components.securitySchemes.bearer).to.include({ type: 'http', scheme: 'bearer' });
    expect(s.security).to.deep.equal([{ bearer: [] }]);
    for (const [, item] of Object.entries(s.paths as Record<string, Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, unknown> }>>)) {
      for (const op of Object.values(item)) {
        if (!op?.operationId || (Array.isArray(op.security) && op.security.length === 0)) continue;
        expect(Object.keys(op.responses), op.operationId).to.include.members(['401', '403', '429']);
      }
    }
  });
});
