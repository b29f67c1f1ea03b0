import { expect } from 'chai';
import fs from 'node:fs';
import YAML from 'yaml';
import { openapiPath } from '../../core/paths.js';
import { startTestApi, type TestApi } from '../support/stack.js';

describe('api: the contract and its documentation', () => {
  let api: TestApi;
  before(async () => {
    api = await startTestApi({ worker: false });
  });
  after(() => api.close());

  it('serves openapi.yaml exactly as in the repository', async () => {
    const res = await fetch(`${api.baseUrl}/openapi.yaml`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/yaml/);
    const text = await res.text();
    expect(text).to.equal(fs.readFileSync(openapiPath(), 'utf8'));
    expect(YAML.parse(text).openapi).to.equal('3.1.0');
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await fetch(`${api.baseUrl}/docs/`);
    expect(res.status).to.equal(200);
    const html = await res.text();
    expect(html).to.contain('<title>mockcloud API</title>');
    const init = await fetch(`${api.baseUrl}/docs/swagger-ui-init.js`);
    expect(init.status).to.equal(200);
    expect(await init.text()).to.contain('createEnvironment');
  });
});
