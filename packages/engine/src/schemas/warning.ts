import { z } from 'zod';

/** LXD's `api.Warning`. */
export const Warning = z.object({
  uuid: z.string(),
  location: z.string(),
  project: z.string(),
  type: z.string(),
  count: z.number().int(),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
  last_message: z.string(),
  severity: z.enum(['low', 'moderate', 'high']),
  status: z.enum(['new', 'acknowledged', 'resolved']),
  entity_url: z.string(),
});
export type Warning = z.infer<typeof Warning>;

/** `PUT /1.0/warnings/<uuid>`: a user acknowledges a warning or sets it new again. */
export const WarningPut = z.object({
  status: z.enum(['new', 'acknowledged'], 'must be "new" or "acknowledged"'),
});
export type WarningPut = z.input<typeof WarningPut>;
