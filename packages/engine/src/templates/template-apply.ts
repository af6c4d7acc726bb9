// Applying an image's templates to an instance, as LXD's templateApplyNow:
// the templates whose `when` holds the trigger are rendered and written to
// their paths in the instance (a `create_only` one only where nothing is
// there yet: a symlink counts, as LXD's PathExists). Where the files go is
// the caller's `TemplateTarget` (the driver's file push: a container's
// rootfs resolved without leaving it, a VM's through its agent).
//
// The template set is the instance's own copy (`<volume>/metadata.yaml`,
// `<volume>/templates/`, made at create as LXD keeps it in the instance's
// dir, so copies, snapshots and renames carry it), else the image's
// (`volatile.base_image`) for an instance made before it had a copy.
import { constants as fsConstants, type Dirent } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../errors.ts';
import type { ImageFiles } from '../images/image-files.ts';
import {
  parseImageMetadata,
  type ImageMetadata,
  type ImageTemplate,
} from '../images/image-metadata.ts';
import { templateError } from './template-error.ts';
import {
  templateContext,
  type TemplateInstance,
  type TemplateTrigger,
} from './template-context.ts';
import {
  compileTemplate,
  DEFAULT_RENDER_LIMITS,
  MAX_TEMPLATE_BYTES,
  renderCompiled,
} from './template-render.ts';

export const INSTANCE_METADATA = 'metadata.yaml';
export const INSTANCE_TEMPLATES = 'templates';

/**
 * What one trigger may apply: LXD's images carry a handful of templates of
 * a few hundred bytes; these bound what a hostile metadata.yaml could make
 * the engine render (each template is bounded too, see template-render.ts).
 */
export const MAX_TEMPLATES_PER_TRIGGER = 256;
export const MAX_RENDERED_BYTES = 16 * 1024 * 1024;
const STEPS_PER_TEMPLATE = 200_000;

export interface TemplateSet {
  metadata: ImageMetadata;
  /** The folder holding the template files. */
  dir: string;
  /** Where it was found (said in logs). */
  from: 'instance' | 'image';
}

/** Where rendered files are written. */
export interface TemplateTarget {
  /** Whether `path` exists in the instance (a symlink itself counts; never followed out). */
  exists(path: string): Promise<boolean>;
  /** Writes `path` (parents made), as a new file of root 0644 or keeping an existing one's owner and mode. */
  write(path: string, content: Buffer): Promise<void>;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The instance's template set, or its base image's; `null` when neither is there. */
export async function loadTemplateSet(
  volumeDir: string,
  images: ImageFiles,
  baseImage: string | undefined,
): Promise<TemplateSet | null> {
  const own = await readIfExists(path.join(volumeDir, INSTANCE_METADATA));
  if (own !== null) {
    return {
      metadata: parseImageMetadata(own),
      dir: path.join(volumeDir, INSTANCE_TEMPLATES),
      from: 'instance',
    };
  }
  if (!baseImage || !/^[0-9a-f]{64}$/.test(baseImage)) return null;
  const image = await readIfExists(images.metadata(baseImage));
  if (image === null) return null;
  return { metadata: parseImageMetadata(image), dir: images.templates(baseImage), from: 'image' };
}

/**
 * Copies an image's metadata.yaml and templates/ into a new instance's
 * volume folder (LXD keeps them in the instance's dir). Only regular files:
 * the image store holds nothing else, and nothing is followed.
 */
export async function storeTemplateSet(
  images: ImageFiles,
  fingerprint: string,
  volumeDir: string,
): Promise<void> {
  const metadata = images.metadata(fingerprint);
  if ((await readIfExists(metadata)) === null) return;
  await copyFile(metadata, path.join(volumeDir, INSTANCE_METADATA));
  let entries: Dirent[];
  try {
    entries = await readdir(images.templates(fingerprint), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const into = path.join(volumeDir, INSTANCE_TEMPLATES);
  await mkdir(into, { mode: 0o755 });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    await copyFile(
      path.join(images.templates(fingerprint), entry.name),
      path.join(into, entry.name),
    );
  }
}

/** The templates one trigger applies, by target path (sorted, so the order is the same every time). */
export function templatesFor(
  metadata: ImageMetadata,
  trigger: TemplateTrigger,
): [string, ImageTemplate][] {
  return Object.entries(metadata.templates)
    .filter(([, t]) => t.when.includes(trigger))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A template file's text, refused when it is not a plain file in the set's folder or is too big. */
async function readTemplate(set: TemplateSet, name: string): Promise<string> {
  if (name === '' || name.includes('/') || name.startsWith('.') || name.includes('\0'))
    throw EngineError.invalid(`templates/${name}`, 'must be a file name in templates/');
  let handle;
  try {
    handle = await open(
      path.join(set.dir, name),
      fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
    );
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw EngineError.invalid(
        `templates/${name}`,
        `the template file is missing from the ${set.from}'s templates/`,
      );
    throw error;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw EngineError.invalid(`templates/${name}`, 'is not a regular file');
    if (stats.size > MAX_TEMPLATE_BYTES)
      throw EngineError.invalid(`templates/${name}`, `is larger than ${MAX_TEMPLATE_BYTES} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** One template rendered for one trigger, ready to write. */
export interface RenderedTemplate {
  trigger: TemplateTrigger;
  path: string;
  createOnly: boolean;
  content: Buffer;
}

/**
 * Renders the templates `trigger` applies (nothing is written). A template
 * that does not render fails the lot, named with its file and line.
 */
export async function renderTemplateSet(
  set: TemplateSet,
  instance: TemplateInstance,
  trigger: TemplateTrigger,
): Promise<RenderedTemplate[]> {
  const chosen = templatesFor(set.metadata, trigger);
  if (chosen.length > MAX_TEMPLATES_PER_TRIGGER) {
    throw EngineError.invalid(
      'metadata.yaml: templates',
      `${chosen.length} templates for "${trigger}" (at most ${MAX_TEMPLATES_PER_TRIGGER})`,
    );
  }
  const rendered: RenderedTemplate[] = [];
  let total = 0;
  for (const [targetPath, template] of chosen) {
    const source = await readTemplate(set, template.template);
    let content: Buffer;
    try {
      const text = renderCompiled(
        compileTemplate(source),
        templateContext(instance, trigger, targetPath, template.properties ?? {}),
        {
          maxOutputBytes: Math.min(
            DEFAULT_RENDER_LIMITS.maxOutputBytes,
            MAX_RENDERED_BYTES - total,
          ),
          maxSteps: STEPS_PER_TEMPLATE,
        },
      );
      content = Buffer.from(text);
    } catch (error) {
      throw templateError(template.template, error);
    }
    total += content.length;
    rendered.push({ trigger, path: targetPath, createOnly: template.createOnly === true, content });
  }
  return rendered;
}

/** Writes rendered templates in order (a create_only one only where nothing is); returns the paths written. */
export async function writeRendered(
  rendered: readonly RenderedTemplate[],
  target: TemplateTarget,
): Promise<string[]> {
  const written: string[] = [];
  for (const file of rendered) {
    if (file.createOnly && (await target.exists(file.path))) continue;
    await target.write(file.path, file.content);
    written.push(file.path);
  }
  return written;
}

/**
 * Renders the templates `trigger` applies and writes them through `target`.
 * Every one is rendered before anything is written, so a template that does
 * not render leaves the instance untouched. Returns the paths written.
 */
export async function applyTemplateSet(
  set: TemplateSet,
  instance: TemplateInstance,
  trigger: TemplateTrigger,
  target: TemplateTarget,
): Promise<string[]> {
  return writeRendered(await renderTemplateSet(set, instance, trigger), target);
}
