// Read-only catalogues (SPEC §3), so IaC data sources can look sizes and images up.

export const SIZES = [
  { name: 'small', vcpus: 1, memory_gib: 1 },
  { name: 'medium', vcpus: 2, memory_gib: 4 },
  { name: 'large', vcpus: 4, memory_gib: 16 },
  { name: 'xlarge', vcpus: 8, memory_gib: 32 },
] as const;

export const IMAGES = [
  { name: 'ubuntu-24.04', os: 'ubuntu', version: '24.04', description: 'Ubuntu 24.04 LTS (Noble Numbat)' },
  { name: 'ubuntu-22.04', os: 'ubuntu', version: '22.04', description: 'Ubuntu 22.04 LTS (Jammy Jellyfish)' },
  { name: 'debian-12', os: 'debian', version: '12', description: 'Debian 12 (bookworm)' },
  { name: 'debian-11', os: 'debian', version: '11', description: 'Debian 11 (bullseye)' },
  { name: 'rocky-9', os: 'rocky', version: '9', description: 'Rocky Linux 9' },
  { name: 'alpine-3.20', os: 'alpine', version: '3.20', description: 'Alpine Linux 3.20' },
] as const;

export const imageExists = (name: string) => IMAGES.some((i) => i.name === name);
