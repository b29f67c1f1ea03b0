import { parseCidr } from '../common/cidr.js';
import type { FieldError } from '../errors.js';
import type { Rule } from './schema.js';

/** Checks what the schema cannot express: CIDR syntax, port order, ports where the protocol has them. */
export function ruleErrors(rules: Rule[], base = '/body/rules'): FieldError[] {
  const errors: FieldError[] = [];
  rules.forEach((r, i) => {
    const at = `${base}/${i}`;
    const cidr = parseCidr(r.cidr);
    if (typeof cidr === 'string') errors.push({ path: `${at}/cidr`, message: cidr, code: 'invalid_cidr' });
    const hasPorts = r.port_from !== undefined || r.port_to !== undefined;
    if (r.protocol === 'tcp' || r.protocol === 'udp') {
      if (r.port_from === undefined || r.port_to === undefined) {
        errors.push({ path: at, message: `${r.protocol} rules need port_from and port_to`, code: 'required' });
      } else if (r.port_from > r.port_to) {
        errors.push({ path: `${at}/port_from`, message: `port_from ${r.port_from} is greater than port_to ${r.port_to}`, code: 'invalid_range' });
      }
    } else if (hasPorts && r.port_from !== undefined && r.port_to !== undefined && r.port_from > r.port_to) {
      errors.push({ path: `${at}/port_from`, message: `port_from ${r.port_from} is greater than port_to ${r.port_to}`, code: 'invalid_range' });
    }
  });
  return errors;
}
