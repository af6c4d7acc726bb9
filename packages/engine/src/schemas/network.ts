// Networks in LXD's wire shape (`GET /1.0/networks`, `/1.0/networks/<name>/state`).
import { z } from 'zod';
import { ConfigMap } from './common.ts';

/** A host interface name: 1–15 bytes, no `/`, `:`, white space, not `.`/`..` (the kernel's dev_valid_name). */
export const NetworkName = z
  .string()
  .min(1, 'must not be empty')
  .max(15, 'must be at most 15 characters (IFNAMSIZ)')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
    'may contain letters, digits, "-", "_" and "." and must start with a letter or digit',
  )
  .refine((n) => n !== '.' && n !== '..', 'must not be "." or ".."');

export const NetworkType = z.enum(['bridge']);
export type NetworkType = z.infer<typeof NetworkType>;

export const Network = z.object({
  name: z.string(),
  description: z.string(),
  /** bridge, or for unmanaged host interfaces physical | loopback | ... */
  type: z.string(),
  managed: z.boolean(),
  /** Created | Pending | Errored | Unknown */
  status: z.string(),
  config: ConfigMap,
  used_by: z.array(z.string()),
  locations: z.array(z.string()),
});
export type Network = z.infer<typeof Network>;

export const NetworksPost = z.object({
  name: NetworkName,
  type: NetworkType.default('bridge'),
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type NetworksPost = z.input<typeof NetworksPost>;

export const NetworkPut = z.object({
  description: z.string().default(''),
  config: ConfigMap.default({}),
});
export type NetworkPut = z.input<typeof NetworkPut>;

/** LXD's PATCH of a network: the keys given are set, the others kept. */
export const NetworkPatch = z.object({
  description: z.string().optional(),
  config: ConfigMap.default({}),
});
export type NetworkPatch = z.input<typeof NetworkPatch>;

export const NetworkStateAddress = z.object({
  family: z.enum(['inet', 'inet6']),
  address: z.string(),
  netmask: z.string(),
  scope: z.string(),
});
export type NetworkStateAddress = z.infer<typeof NetworkStateAddress>;

export const NetworkStateCounters = z.object({
  bytes_received: z.number(),
  bytes_sent: z.number(),
  packets_received: z.number(),
  packets_sent: z.number(),
});

export const NetworkState = z.object({
  addresses: z.array(NetworkStateAddress),
  counters: NetworkStateCounters,
  hwaddr: z.string(),
  mtu: z.number(),
  /** up | down */
  state: z.string(),
  /** broadcast | loopback | ... */
  type: z.string(),
  bond: z.null(),
  bridge: z
    .object({
      id: z.string(),
      stp: z.boolean(),
      forward_delay: z.number(),
      vlan_default: z.number(),
      vlan_filtering: z.boolean(),
      upper_devices: z.array(z.string()),
    })
    .nullable(),
  vlan: z.null(),
  ovn: z.null(),
});
export type NetworkState = z.infer<typeof NetworkState>;

/** `GET /1.0/networks/<name>/leases`. */
export const NetworkLease = z.object({
  hostname: z.string(),
  hwaddr: z.string(),
  address: z.string(),
  /** dynamic | static | gateway */
  type: z.string(),
  location: z.string(),
});
export type NetworkLease = z.infer<typeof NetworkLease>;
