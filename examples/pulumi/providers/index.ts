export { Environment, EnvironmentProvider, type EnvironmentArgs, type EnvironmentInputs, type EnvironmentOutputs } from './environment.js';
export { SecurityGroup, SecurityGroupProvider, type Rule, type SecurityGroupArgs, type SecurityGroupInputs, type SecurityGroupOutputs } from './security-group.js';
export { Vm, VmProvider, type VmArgs, type VmInputs, type VmOutputs, type VmSize } from './vm.js';
export { Volume, VolumeProvider, type VolumeArgs, type VolumeInputs, type VolumeOutputs } from './volume.js';
export { VolumeAttachment, VolumeAttachmentProvider, type VolumeAttachmentArgs, type VolumeAttachmentInputs, type VolumeAttachmentOutputs } from './volume-attachment.js';
