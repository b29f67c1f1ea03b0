// An environment with a security group, two VMs and a volume attached to the first VM.
// Run it with the Pulumi CLI (see README.md); the endpoint comes from `pulumi config set
// mockcloud:endpoint …` or MOCKCLOUD_ENDPOINT, read by the providers when they run.
import * as pulumi from '@pulumi/pulumi';
import { Environment, SecurityGroup, Vm, Volume, VolumeAttachment } from './providers/index.js';

const stack = pulumi.getStack();
const tags = { stack, 'managed-by': 'pulumi' };

const env = new Environment('network', { name: `demo-${stack}`, cidr: '10.20.0.0/24', tags });

const web = new SecurityGroup('web', {
  environmentId: env.id,
  description: 'HTTP(S) and SSH in, everything out',
  rules: [
    { direction: 'ingress', protocol: 'tcp', portFrom: 22, portTo: 22, cidr: '10.0.0.0/8' },
    { direction: 'ingress', protocol: 'tcp', portFrom: 80, portTo: 80, cidr: '0.0.0.0/0' },
    { direction: 'ingress', protocol: 'tcp', portFrom: 443, portTo: 443, cidr: '0.0.0.0/0' },
    { direction: 'egress', protocol: 'all', cidr: '0.0.0.0/0' },
  ],
  tags,
});

const app = new Vm('app', { environmentId: env.id, size: 'medium', image: 'ubuntu-24.04', securityGroupIds: [web.id], tags });
const worker = new Vm('worker', { environmentId: env.id, size: 'small', image: 'debian-12', securityGroupIds: [web.id], tags });

const data = new Volume('data', { environmentId: env.id, sizeGb: 20, type: 'ssd', tags });
const dataOnApp = new VolumeAttachment('data-on-app', { volumeId: data.id, vmId: app.id });

export const environmentId = env.id;
export const appIp = app.privateIp;
export const workerIp = worker.privateIp;
export const dataDevice = dataOnApp.device;
