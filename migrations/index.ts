import type { Knex } from 'knex';
import * as m01 from './20261126000001-projects.js';
import * as m02 from './20261126000002-environments.js';
import * as m03 from './20261126000003-security-groups.js';
import * as m04 from './20261126000004-vms.js';
import * as m05 from './20261126000005-volumes.js';
import * as m06 from './20261126000006-operations.js';
import * as m07 from './20261126000007-events.js';
import * as m08 from './20261126000008-idempotency-keys.js';
import * as m09 from './20261126000009-resource-tags.js';
import * as m10 from './20261126000010-simulation-settings.js';
import * as m11 from './20261126000011-default-project.js';
import * as m12 from './20261126000012-operations-dispatched.js';
import * as m13 from './20261126000013-events-created-at.js';
import * as m2701a from './20261127010001-operations-lease-owner-width.js';
import * as m2702a from './20261127020001-drop-resource-progress.js';
import * as m2702b from './20261127020002-server-secrets.js';
import * as m2703_01 from './20261127030001-events-retention.js';
import * as e01 from './20261127070001-simulated-clock.js';
import * as e02 from './20261127070002-state-snapshots.js';
import * as e03 from './20261127070003-chaos-rules.js';
import * as i11a from './20261127050001-users.js';
import * as i11b from './20261127050002-memberships.js';
import * as i11c from './20261127050003-api-tokens.js';
import * as i11d from './20261127050004-audit-events.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

// A static list rather than a directory scan: the same list works from TypeScript sources and from
// the compiled dist/, and a bundler or a Docker image cannot silently drop a file.
const migrations: Record<string, Migration> = {
  '20261126000001-projects': m01,
  '20261126000002-environments': m02,
  '20261126000003-security-groups': m03,
  '20261126000004-vms': m04,
  '20261126000005-volumes': m05,
  '20261126000006-operations': m06,
  '20261126000007-events': m07,
  '20261126000008-idempotency-keys': m08,
  '20261126000009-resource-tags': m09,
  '20261126000010-simulation-settings': m10,
  '20261126000011-default-project': m11,
  '20261126000012-operations-dispatched': m12,
  '20261126000013-events-created-at': m13,
  '20261127010001-operations-lease-owner-width': m2701a,
  '20261127020001-drop-resource-progress': m2702a,
  '20261127020002-server-secrets': m2702b,
  '20261127030001-events-retention': m2703_01,
  '20261127070001-simulated-clock': e01,
  '20261127070002-state-snapshots': e02,
  '20261127070003-chaos-rules': e03,
  '20261127050001-users': i11a,
  '20261127050002-memberships': i11b,
  '20261127050003-api-tokens': i11c,
  '20261127050004-audit-events': i11d,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
