import { z } from 'zod';
import { InstanceType, Timestamp } from './common.ts';

/** An alias as listed inside an image (`aliases: [{name, description}]`). */
export const ImageAlias = z.object({
  name: z.string(),
  description: z.string(),
});
export type ImageAlias = z.infer<typeof ImageAlias>;

/** An alias as `/1.0/images/aliases/<name>` returns it. */
export const ImageAliasesEntry = z.object({
  name: z.string(),
  description: z.string(),
  target: z.string(),
  type: InstanceType,
});
export type ImageAliasesEntry = z.infer<typeof ImageAliasesEntry>;

export const ImageSource = z.object({
  alias: z.string(),
  certificate: z.string(),
  protocol: z.string(),
  server: z.string(),
  image_type: z.string().optional(),
});
export type ImageSource = z.infer<typeof ImageSource>;

/** `GET /1.0/images/<fingerprint>` (LXD 5.0). */
export const Image = z.object({
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  filename: z.string(),
  size: z.number().int().nonnegative(),
  public: z.boolean(),
  auto_update: z.boolean(),
  properties: z.record(z.string(), z.string()),
  aliases: z.array(ImageAlias),
  architecture: z.string(),
  type: InstanceType,
  cached: z.boolean(),
  /** Profiles applied to instances created from it. */
  profiles: z.array(z.string()),
  created_at: Timestamp,
  uploaded_at: Timestamp,
  /** `0001-01-01T00:00:00Z` when never used. */
  last_used_at: Timestamp,
  /** `1970-01-01T00:00:00Z` when it never expires (what LXD 5.0 prints). */
  expires_at: Timestamp,
  update_source: ImageSource.optional(),
});
export type Image = z.infer<typeof Image>;

/** Alias names: what LXD accepts (no `/`, no leading/trailing space, not empty). */
export const ImageAliasName = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  // LXD allows "/" (`debian/12`, `ubuntu/22.04`); API paths percent-encode it.
  .refine(
    (n) => !n.startsWith('/') && !n.endsWith('/') && !n.includes('//'),
    'must not start or end with "/" or contain "//"',
  )
  .refine(
    (n) => !n.split('/').some((part) => part === '.' || part === '..'),
    'must not contain "." or ".." parts',
  )
  .refine((n) => n.trim() === n, 'must not start or end with white space');
