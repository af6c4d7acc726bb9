// What an image template sees, as LXD's templateApplyNow builds it
// (driver_lxc.go, driver_qemu.go): `trigger`, `path`, `container` and
// `instance` (name, type, architecture, ephemeral, and privileged for a
// container; all strings), `config` (the expanded config), `devices` (the
// expanded devices), `properties` (the template's own) and
// `config_get(key, default)`: the expanded value with trailing CR/LF
// trimmed, or `default` as given when the key is unset.
import type { ConfigMap, DeviceMap, InstanceType } from '../schemas/index.ts';
import { isTrue as isConfigTrue } from '../config/value-checks.ts';
import {
  TemplateFunction,
  toTemplateValue,
  type TemplateMap,
  type TemplateValue,
} from './template-values.ts';

export type TemplateTrigger = 'create' | 'copy' | 'rename' | 'start';

export interface TemplateInstance {
  name: string;
  type: InstanceType;
  architecture: string;
  ephemeral: boolean;
  expandedConfig: ConfigMap;
  expandedDevices: DeviceMap;
}

export function templateContext(
  instance: TemplateInstance,
  trigger: TemplateTrigger,
  targetPath: string,
  properties: Record<string, string>,
): TemplateMap {
  const meta: Record<string, string> = {
    name: instance.name,
    type: instance.type,
    architecture: instance.architecture,
    ephemeral: instance.ephemeral ? 'true' : 'false',
  };
  // LXD's VM templates have no `privileged` (a VM is never privileged).
  if (instance.type === 'container') {
    meta['privileged'] = isConfigTrue(instance.expandedConfig['security.privileged'])
      ? 'true'
      : 'false';
  }
  const metaValue = toTemplateValue(meta);
  const config = instance.expandedConfig;
  const configGet = new TemplateFunction('config_get', 2, ([key, fallback]) => {
    const name = typeof key === 'string' ? key : String(key ?? '');
    if (!Object.hasOwn(config, name)) return fallback ?? null;
    return (config[name] ?? '').replace(/[\r\n]+$/, '');
  });
  return new Map<string, TemplateValue>([
    ['trigger', trigger],
    ['path', targetPath],
    ['container', metaValue],
    ['instance', metaValue],
    ['config', toTemplateValue(config)],
    ['devices', toTemplateValue(instance.expandedDevices)],
    ['properties', toTemplateValue(properties)],
    ['config_get', configGet],
  ]);
}
