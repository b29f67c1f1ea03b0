// Aliases for the API shapes generated from openapi.yaml (npm run gen:types); never hand-copied.
import type { components, operations } from './api-types.js';

export type Schemas = components['schemas'];
export type OperationId = keyof operations;
export type Environment = Schemas['Environment'];
export type EnvironmentCreate = Schemas['EnvironmentCreate'];
export type EnvironmentPatch = Schemas['EnvironmentPatch'];
export type SecurityGroup = Schemas['SecurityGroup'];
export type SecurityGroupCreate = Schemas['SecurityGroupCreate'];
export type SecurityGroupPatch = Schemas['SecurityGroupPatch'];
export type Rule = Schemas['Rule'];
export type Vm = Schemas['Vm'];
export type VmCreate = Schemas['VmCreate'];
export type VmPatch = Schemas['VmPatch'];
export type Volume = Schemas['Volume'];
export type VolumeCreate = Schemas['VolumeCreate'];
export type VolumePatch = Schemas['VolumePatch'];
export type Operation = Schemas['Operation'];
export type Simulation = Schemas['Simulation'];
export type SimulationPatch = Schemas['SimulationPatch'];
export type Problem = Schemas['Problem'];
export type ResetResult = Schemas['ResetResult'];
export type ChaosMatch = Schemas['ChaosMatch'];
export type ChaosEffect = Schemas['ChaosEffect'];
export type ChaosRuleCreate = Schemas['ChaosRuleCreate'];
export type ChaosRule = Schemas['ChaosRule'];
