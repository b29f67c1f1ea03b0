import type { NewEvent } from '../events/event-log.js';
import { serializeOperation, type OperationRow } from './schema.js';

export const operationEvent = (op: OperationRow, type = 'operation.progress'): NewEvent => ({
  projectId: op.project_id,
  type,
  resourceType: op.resource_type,
  resourceId: op.resource_id,
  environmentId: op.environment_id,
  operationId: op.id,
  kind: op.kind,
  data: serializeOperation(op),
});
