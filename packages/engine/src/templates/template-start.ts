// When templates apply, as LXD: a create, copy or rename records its trigger
// in `volatile.apply_template` (an earlier one still pending is kept, as
// LXD's DeferTemplateApply); the next start applies that trigger's
// templates, then the `start` ones (every start), and clears the key.
// * A container: before LXC starts, into its rootfs through the lxc
//   driver's file push (paths resolved inside the rootfs, a guest symlink
//   never followed out; new files owned by the container's root, id-shifted).
// * A VM: rendered before QEMU starts (a bad template fails the start, as
//   LXD's, which renders into the config drive), written once its guest
//   agent answers, through the qemu driver's file push (the guest writes
//   its own files). The start does not wait for the agent (a guest without
//   one still starts); a failure is said in a logging event, and the key is
//   cleared only once the files are written. A guest's services that read
//   a file at boot before the agent wrote it see it at the next boot.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '@berth/db';
import { isEngineError } from '../errors.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { DriverInstance, InstanceDriver } from '../drivers/driver.ts';
import type { ImageFiles } from '../images/image-files.ts';
import {
  loadTemplateSet,
  renderTemplateSet,
  writeRendered,
  type RenderedTemplate,
  type TemplateTarget,
} from './template-apply.ts';
import type { TemplateInstance, TemplateTrigger } from './template-context.ts';

export const APPLY_TEMPLATE_KEY = 'volatile.apply_template';

const DEFERRED: readonly string[] = ['create', 'copy', 'rename'];

export interface TemplateServices {
  readonly db: Database;
  readonly events: EventBus;
  readonly images: { readonly files: ImageFiles };
}

/** How long a VM's agent is waited for after a start, and how often it is asked. */
export const AGENT_WAIT_MS = 10 * 60_000;
const AGENT_POLL_MS = 2_000;

/** LXD's DeferTemplateApply: the config change that records `trigger`, or none when one is pending. */
export function deferredTemplateKeys(
  localConfig: Record<string, string>,
  trigger: Exclude<TemplateTrigger, 'start'>,
): Record<string, string> {
  return localConfig[APPLY_TEMPLATE_KEY] ? {} : { [APPLY_TEMPLATE_KEY]: trigger };
}

/** Records `trigger` on an instance unless one is already pending. */
export async function deferTemplateApply(
  db: Database,
  instanceId: number,
  trigger: Exclude<TemplateTrigger, 'start'>,
): Promise<void> {
  const record = await db.instances.getById(instanceId);
  if (!record) return;
  const changes = deferredTemplateKeys(record.config, trigger);
  if (Object.keys(changes).length) await db.instances.setConfigKeys(instanceId, changes);
}

/** The triggers a start applies, in order: the pending one (if valid), then `start`. */
export function triggersAtStart(localConfig: Record<string, string>): TemplateTrigger[] {
  const pending = localConfig[APPLY_TEMPLATE_KEY];
  return pending && DEFERRED.includes(pending) ? [pending as TemplateTrigger, 'start'] : ['start'];
}

function driverTarget(driver: InstanceDriver, view: DriverInstance): TemplateTarget {
  return {
    async exists(filePath) {
      try {
        await driver.stat(view, filePath);
        return true;
      } catch (error) {
        if (isEngineError(error, 'NOT_FOUND')) return false;
        throw error;
      }
    },
    write: (filePath, content) =>
      driver.filePush(view, filePath, { type: 'file', content, createParents: true }),
  };
}

function templateInstance(view: DriverInstance, ephemeral: boolean): TemplateInstance {
  return {
    name: view.name,
    type: view.type,
    architecture: view.architecture,
    ephemeral,
    expandedConfig: view.expandedConfig,
    expandedDevices: view.expandedDevices,
  };
}

/** The files a start writes, rendered (a syntax error fails here, before anything runs). */
async function renderAtStart(
  services: TemplateServices,
  view: DriverInstance,
  ephemeral: boolean,
): Promise<RenderedTemplate[]> {
  const baseImage = view.localConfig['volatile.base_image'];
  const set = await loadTemplateSet(view.paths.dir, services.images.files, baseImage);
  if (set === null) {
    const pending = view.localConfig[APPLY_TEMPLATE_KEY];
    if (pending && baseImage) {
      services.events.logging(
        view.project,
        'info',
        `Instance "${view.name}": no image templates to apply (its image ${baseImage} is gone)`,
        { instance: view.name, trigger: pending },
      );
    }
    return [];
  }
  const instance = templateInstance(view, ephemeral);
  const rendered: RenderedTemplate[] = [];
  for (const trigger of triggersAtStart(view.localConfig))
    rendered.push(...(await renderTemplateSet(set, instance, trigger)));
  return rendered;
}

/** Writes them, then clears the pending trigger (only if it is still the one applied). */
async function writeAndClear(
  services: TemplateServices,
  view: DriverInstance,
  driver: InstanceDriver,
  rendered: RenderedTemplate[],
): Promise<void> {
  if (rendered.length) {
    const written = await writeRendered(rendered, driverTarget(driver, view));
    if (written.length) {
      services.events.logging(
        view.project,
        'debug',
        `Instance "${view.name}": applied image templates to ${written.join(', ')}`,
        { instance: view.name },
      );
    }
  }
  const pending = view.localConfig[APPLY_TEMPLATE_KEY];
  if (pending === undefined) return;
  const record = await services.db.instances.getById(view.id);
  if (record && record.config[APPLY_TEMPLATE_KEY] === pending)
    await services.db.instances.setConfigKeys(view.id, { [APPLY_TEMPLATE_KEY]: null });
}

export interface StartTemplates {
  /** Call once the driver has started the instance (a VM's files go in when its agent answers). */
  afterStart(): void;
}

/**
 * Before a start: renders what it applies (a template that does not render
 * fails the start, naming its file and line, as LXD's does for both types)
 * and writes a container's files into its rootfs. A VM's are written by
 * `afterStart`, in the background.
 */
export async function startTemplates(
  services: TemplateServices,
  view: DriverInstance,
  ephemeral: boolean,
  driver: InstanceDriver,
): Promise<StartTemplates> {
  const rendered = await renderAtStart(services, view, ephemeral);
  if (view.type === 'container') {
    await writeAndClear(services, view, driver, rendered);
    return { afterStart: () => {} };
  }
  return {
    afterStart: () => {
      void writeWhenAgentAnswers(services, view, driver, rendered);
    },
  };
}

const waiting = new Set<string>();

/**
 * A VM's files, written once its agent answers (at most `waitMs` after the
 * start; given up when it stops). Nothing to write: the agent is not asked.
 * One wait per VM at a time: a restart while one waits is served by it.
 */
export function writeWhenAgentAnswers(
  services: TemplateServices,
  view: DriverInstance,
  driver: InstanceDriver,
  rendered: RenderedTemplate[],
  waitMs = AGENT_WAIT_MS,
): Promise<void> {
  if (rendered.length === 0) return writeAndClear(services, view, driver, rendered);
  // The volume folder: one per instance and engine (two engines in one process stay apart).
  const key = view.paths.dir;
  if (waiting.has(key)) return Promise.resolve();
  waiting.add(key);
  const failed = (message: string) =>
    services.events.logging(
      view.project,
      'error',
      `Instance "${view.name}": image templates not applied: ${message}`,
      { instance: view.name },
    );
  return (async () => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if ((await driver.status(view)) === 'Stopped') return;
      try {
        await driver.stat(view, '/');
        break;
      } catch {
        // The agent is not up yet.
      }
      if (Date.now() > deadline) {
        failed('the guest agent did not answer');
        return;
      }
      await sleep(AGENT_POLL_MS, undefined, { ref: false });
    }
    await writeAndClear(services, view, driver, rendered);
  })()
    .catch((error: unknown) => {
      failed((error as Error).message);
    })
    .finally(() => waiting.delete(key));
}
