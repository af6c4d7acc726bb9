// GET /1.0 (server information) and /1.0/events (the event stream).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Engine, Event, EventFilter } from '@berth/engine';
import { authorize, can, visibleProjects } from '../../server/policy.ts';
import type { RestUser } from '../auth.ts';
import type { RestContext } from '../context.ts';
import { RestError, sync } from '../envelope.ts';
import { parseEventTypes } from '../lxd-shapes.ts';
import { revocablePrincipal } from '../principal.ts';
import type { CommonQuery } from '../query.ts';
import type { Router } from '../router.ts';

/** The LXD API extensions whose behaviour Berth's /1.0 implements. */
export const apiExtensions = [
  'container_last_used_at',
  'patch',
  'directory_manipulation',
  'network',
  'profile_usedby',
  'container_exec_recording',
  'container_exec_signal_handling',
  'console',
  'storage',
  'file_delete',
  'file_append',
  'file_symlinks',
  'file_get_symlink',
  'entity_description',
  'operation_description',
  'event_lifecycle',
  'container_backup',
  'network_state',
  'network_leases',
  'projects',
  'container_full',
  'snapshot_scheduling',
  'snapshot_expiry',
  'snapshot_expiry_creation',
  'container_exec_user_group_cwd',
  'instances',
  'image_types',
  'backup_compression_algorithm',
  'virtual-machines',
  'image_profiles',
  'api_filtering',
  'projects_limits',
  'projects_restrictions',
  'api_os',
  'backup_override_name',
  'projects_limits_instances',
  'project_usage',
  'event_lifecycle_requestor_address',
  'instance_all_projects',
  'instance_get_full',
  'event_project',
  'warnings',
  // Custom storage volumes (storage-volumes.ts).
  'storage_api_volume_rename',
  'storage_api_local_volume_handling',
  'storage_api_volume_snapshots',
  'storage_unmapped',
  'custom_volume_snapshot_expiry',
  'volume_snapshot_scheduling',
  'custom_block_volumes',
  'storage_volume_state',
  'storage_api_project',
  'storage_volume_project_move',
  'storage_volume_api_filtering',
  'storage_volume_state_total',
  // What instances already do: CPU time in state, boot.host_shutdown_timeout,
  // disk `propagation`, @daily/@never schedules, events' location, the
  // supported storage drivers in /1.0, proxy devices (tcp with port lists and
  // ranges, unix sockets with uid/gid/mode; udp is refused with its reason).
  'container_cpu_time',
  'container_host_shutdown_timeout',
  'container_mount_propagation',
  'snapshot_schedule_aliases',
  'instance_snapshot_never',
  'event_location',
  'server_supported_storage_drivers',
  'proxy',
  'proxy_unix',
  'proxy_unix_dac_properties',
  'proxy_tcp_udp_multi_port_handling',
  // migration.stateful: a VM's stateful stop, start and snapshots (vm-saved-state.ts).
  'migration_stateful',
] as const;

const berthVersion = (() => {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

const hostArchitectures: Record<string, string> = {
  x64: 'x86_64',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

function serverInfo(ctx: RestContext) {
  const trusted = ctx.user !== null;
  const base = {
    config: {},
    api_extensions: [...apiExtensions],
    api_status: 'stable',
    api_version: '1.0',
    auth: trusted ? 'trusted' : 'untrusted',
    public: false,
    auth_methods: ['tls', 'berth-token'],
  };
  if (!trusted) return base;
  const arch = hostArchitectures[os.arch()] ?? os.arch();
  const lxc = ctx.engine.drivers().find((d) => d.name === 'lxc');
  return {
    ...base,
    environment: {
      addresses: ctx.services.listener.addresses,
      architectures: [arch],
      certificate: ctx.services.listener.certificate,
      certificate_fingerprint: ctx.services.listener.fingerprint,
      driver: 'lxc',
      driver_version: lxc?.details?.version ?? '',
      firewall: 'nftables',
      kernel: os.type(),
      kernel_architecture: arch,
      kernel_features: {},
      kernel_version: os.release(),
      lxc_features: {},
      os_name: 'Berth',
      os_version: berthVersion,
      project: ctx.project,
      server: 'berth',
      server_clustered: false,
      server_event_mode: 'full-mesh',
      server_name: ctx.services.serverName,
      server_pid: process.pid,
      server_version: berthVersion,
      storage: 'dir',
      storage_version: '1',
      storage_supported_drivers: [{ Name: 'dir', Version: '1', Remote: false }],
    },
  };
}

/**
 * Which events a `/1.0/events` caller gets (the line stream and the
 * websocket alike): the asked types (logging for server admins only), of
 * the request's project, or of every project the caller may see with
 * `all-projects=true`.
 */
export async function eventFilterFor(
  engine: Engine,
  user: RestUser,
  url: URL,
  query: CommonQuery,
): Promise<EventFilter> {
  const types = parseEventTypes(url.searchParams.get('type'), can(user, 'server'));
  if (query.allProjects) {
    if (url.searchParams.get('project'))
      throw RestError.badRequest('Cannot specify a project when requesting all projects');
    if (user.isAdmin) return { types };
    return { types, projects: visibleProjects(user, await engine.projects.names()) };
  }
  authorize(user, 'read', query.project);
  await engine.projects.get(query.project);
  return { types, projects: [query.project] };
}

/**
 * GET /1.0/events over plain HTTP (a websocket upgrade of the same path is
 * served by websockets.ts): the same JSON objects, one per line, over a
 * chunked response that stays open until the client goes away, or until
 * the credential it was opened with is revoked.
 */
async function events(ctx: RestContext) {
  const user = ctx.requireUser();
  const filter = await eventFilterFor(ctx.engine, user, ctx.url, ctx.query);
  const { req, res } = ctx;
  res.writeHead(200, {
    'Content-Type': 'application/x-ndjson',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
  const write = (event: Event) => {
    if (!res.writableEnded) res.write(`${JSON.stringify(event)}\n`);
  };
  const sub = ctx.engine.events.subscribe(filter, write);
  // A keep-alive newline now and then, so proxies and clients see a live stream.
  const ping = setInterval(() => {
    if (!res.writableEnded) res.write('\n');
  }, 30_000);
  let untrack = () => {};
  let expiry: NodeJS.Timeout | undefined;
  const close = () => {
    clearInterval(ping);
    clearTimeout(expiry);
    sub.close();
    untrack();
    if (!res.writableEnded) res.end();
  };
  // Revoking the credential (token deleted, user disabled, ...) ends the stream, as expiry does.
  const principal = revocablePrincipal(user);
  if (principal) untrack = ctx.services.connections.track(principal, close);
  if (user.expiresAt != null)
    expiry = setTimeout(close, Math.min(Math.max(0, user.expiresAt - Date.now()), 2 ** 31 - 1));
  req.on('close', close);
  res.on('close', close);
  return { kind: 'handled' as const };
}

export function registerServer(router: Router<RestContext>): void {
  router
    .add('GET', '/1.0', (ctx) => sync(serverInfo(ctx)))
    .add('GET', '/1.0/events', (ctx) => events(ctx));
}
