// An image's `metadata.yaml`, as LXD reads and writes it
// (shared/api.ImageMetadata): architecture, creation_date (unix seconds),
// expiry_date, properties, and templates keyed by the path they render to.
import { EngineError } from '../errors.ts';
import { parseYaml, writeYaml, type YamlValue, type YamlWritable } from './safe-yaml.ts';

export interface ImageTemplate {
  /** `create`, `copy`, `start`, `rename`. */
  when: string[];
  /** File name under `templates/`. */
  template: string;
  createOnly?: boolean;
  properties?: Record<string, string>;
}

export interface ImageMetadata {
  architecture: string;
  /** Unix seconds. */
  creationDate: number;
  /** Unix seconds; 0 when unset. */
  expiryDate: number;
  properties: Record<string, string>;
  templates: Record<string, ImageTemplate>;
}

const field = (name: string) => `metadata.yaml: ${name}`;
/** LXD's and distrobuilder's files are a few KiB; anything near this is not an image's metadata. */
export const MAX_METADATA_BYTES = 256 * 1024;

function asMap(value: YamlValue | undefined, name: string): Record<string, YamlValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw EngineError.invalid(field(name), 'must be a mapping');
  return value;
}

function asStringMap(value: YamlValue | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(asMap(value, name))) {
    if (v === null) out[key] = '';
    else if (typeof v === 'string') out[key] = v;
    else throw EngineError.invalid(field(`${name}.${key}`), 'must be a string');
  }
  return out;
}

function asSeconds(value: YamlValue | undefined, name: string): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value))
    throw EngineError.invalid(field(name), 'must be a unix timestamp in seconds');
  return Number(value);
}

/** Parses and checks `metadata.yaml`; throws INVALID_ARGUMENT naming the field. */
export function parseImageMetadata(text: string): ImageMetadata {
  const doc = asMap(
    parseYaml(text, { file: 'metadata.yaml', maxBytes: MAX_METADATA_BYTES }),
    '(document)',
  );
  const architecture = doc['architecture'];
  if (typeof architecture !== 'string' || architecture === '') {
    throw EngineError.invalid(field('architecture'), 'is required');
  }
  const templates: Record<string, ImageTemplate> = {};
  for (const [target, raw] of Object.entries(asMap(doc['templates'], 'templates'))) {
    const name = `templates["${target}"]`;
    const t = asMap(raw, name);
    const template = t['template'];
    if (
      typeof template !== 'string' ||
      template === '' ||
      template.includes('/') ||
      template.startsWith('.')
    ) {
      throw EngineError.invalid(field(`${name}.template`), 'must be a file name in templates/');
    }
    if (!target.startsWith('/'))
      throw EngineError.invalid(field(name), 'the target must be an absolute path');
    const when = t['when'] ?? [];
    if (!Array.isArray(when) || when.some((w) => typeof w !== 'string')) {
      throw EngineError.invalid(field(`${name}.when`), 'must be a list of strings');
    }
    templates[target] = {
      when: when as string[],
      template,
      ...(t['create_only'] === 'true' ? { createOnly: true } : {}),
      ...(t['properties']
        ? { properties: asStringMap(t['properties'], `${name}.properties`) }
        : {}),
    };
  }
  return {
    architecture,
    creationDate: asSeconds(doc['creation_date'], 'creation_date'),
    expiryDate: asSeconds(doc['expiry_date'], 'expiry_date'),
    properties: asStringMap(doc['properties'], 'properties'),
    templates,
  };
}

export function writeImageMetadata(metadata: ImageMetadata): string {
  const templates: Record<string, YamlWritable> = {};
  for (const [target, t] of Object.entries(metadata.templates)) {
    templates[target] = {
      when: t.when,
      create_only: t.createOnly ? true : undefined,
      template: t.template,
      properties: t.properties,
    };
  }
  return writeYaml({
    architecture: metadata.architecture,
    creation_date: metadata.creationDate,
    expiry_date: metadata.expiryDate || undefined,
    properties: metadata.properties,
    templates: Object.keys(templates).length ? templates : undefined,
  });
}
