// Project limits (LXD's lxd/project/limits.go): counts of instances, and
// sums of limits.cpu / limits.memory / limits.processes over a project's
// instances, checked against what a change would leave behind.
import { EngineError } from '../errors.ts';
import { parseCpuLimit } from '../config/parse-cpuset.ts';
import { parseByteSize, parseMemory } from '../config/parse-memory.ts';
import type { ConfigMap, InstanceType } from '../schemas/index.ts';

export interface InstanceUsage {
  name: string;
  type: InstanceType;
  expandedConfig: ConfigMap;
}

type Aggregate = 'limits.cpu' | 'limits.memory' | 'limits.processes';
const aggregates: Aggregate[] = ['limits.cpu', 'limits.memory', 'limits.processes'];

function amountOf(key: Aggregate, value: string, instance: string): number {
  const field = `instance "${instance}" config["${key}"]`;
  switch (key) {
    case 'limits.cpu': {
      const cpu = parseCpuLimit(value, field);
      return cpu.kind === 'count' ? cpu.count : cpu.cpus.length;
    }
    case 'limits.memory': {
      const memory = parseMemory(value, field);
      if (memory.kind === 'percent') {
        throw EngineError.invalid(
          field,
          "a percentage cannot be counted against the project's limits.memory; use a size such as 512MiB",
        );
      }
      return memory.bytes;
    }
    case 'limits.processes': {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw EngineError.invalid(field, 'must be a whole number');
      return n;
    }
  }
}

function limitOf(key: string, config: ConfigMap): number | undefined {
  const raw = config[key];
  if (raw === undefined || raw === '') return undefined;
  return key === 'limits.memory' ? parseByteSize(raw, `config["${key}"]`) : Number(raw);
}

/** Usage and limits per resource, as LXD's project state (`-1` Limit: none). */
export function projectUsage(
  projectConfig: ConfigMap,
  instances: readonly InstanceUsage[],
): Record<string, { Limit: number; Usage: number }> {
  const out: Record<string, { Limit: number; Usage: number }> = {
    instances: { Limit: limitOf('limits.instances', projectConfig) ?? -1, Usage: instances.length },
    containers: {
      Limit: limitOf('limits.containers', projectConfig) ?? -1,
      Usage: instances.filter((i) => i.type === 'container').length,
    },
    'virtual-machines': {
      Limit: limitOf('limits.virtual-machines', projectConfig) ?? -1,
      Usage: instances.filter((i) => i.type === 'virtual-machine').length,
    },
  };
  for (const key of aggregates) {
    let usage = 0;
    for (const instance of instances) {
      const value = instance.expandedConfig[key];
      if (value !== undefined && value !== '') usage += amountOf(key, value, instance.name);
    }
    out[key.slice('limits.'.length)] = { Limit: limitOf(key, projectConfig) ?? -1, Usage: usage };
  }
  return out;
}

/**
 * Throws when `instances` (the project as it would be after a change) break
 * a limit of `projectConfig`, naming the limit and the numbers.
 */
export function checkProjectLimits(
  projectConfig: ConfigMap,
  instances: readonly InstanceUsage[],
): void {
  const counts: [string, string, number][] = [
    ['limits.instances', 'instances', instances.length],
    ['limits.containers', 'containers', instances.filter((i) => i.type === 'container').length],
    [
      'limits.virtual-machines',
      'virtual machines',
      instances.filter((i) => i.type === 'virtual-machine').length,
    ],
  ];
  for (const [key, what, count] of counts) {
    const limit = limitOf(key, projectConfig);
    if (limit !== undefined && count > limit) {
      throw new EngineError(
        'FORBIDDEN',
        `Reached maximum number of ${what} in the project (${key}=${limit})`,
        {
          field: `project.config["${key}"]`,
        },
      );
    }
  }
  for (const key of aggregates) {
    const limit = limitOf(key, projectConfig);
    if (limit === undefined) continue;
    let usage = 0;
    for (const instance of instances) {
      const value = instance.expandedConfig[key];
      if (value === undefined || value === '') {
        // LXD demands the key so that the sum means something.
        throw EngineError.invalid(
          `config["${key}"]`,
          `instance "${instance.name}" has no "${key}" config, either directly or via a profile, and the project limits it`,
        );
      }
      usage += amountOf(key, value, instance.name);
    }
    if (usage > limit) {
      throw new EngineError(
        'FORBIDDEN',
        `Project limit ${key}=${projectConfig[key]} would be exceeded: instances would use ${key === 'limits.memory' ? `${usage} bytes` : usage} in total`,
        { field: `config["${key}"]` },
      );
    }
  }
}
